"""Attribution: routing metrics count the model that produced the final answer; judge calls to the
strong model are cost only; models_called keeps call order."""

from __future__ import annotations

import numpy as np
import pytest

from routerlab.harness import Experiment
from routerlab.routers import CascadeRouter, FixedRouter
from routerlab.routers.cascade import JudgeVerdict
from routerlab.routers.judge import LLMJudge, SimulatedJudge
from routerlab.stats import routing


def test_a_judge_cascade_is_placed_by_who_answered(gsm_small):
    strong, weak = "gpt-4o", "gemma-2-2b"
    judge = LLMJudge(strong, caller=SimulatedJudge(error_rate=0.0, seed=0))  # the judge is the strong model
    strategies = {strong: FixedRouter(strong), weak: FixedRouter(weak),
                  "judge-cascade": CascadeRouter([weak, strong], JudgeVerdict(judge))}
    res = Experiment(gsm_small, strategies).run(progress=False)
    rows = res.df[res.df["strategy"] == "judge-cascade"]
    answered_strong = float((rows["final_model"] == strong).mean())
    assert 0.05 < answered_strong < 0.9  # the weak model answers many prompts itself
    assert rows["models_called"].str.contains(strong).all()  # the judge (strong) is called on every prompt
    # call order: the weak answer, the judge, then (escalated) the strong answer
    escalated = rows[rows["final_model"] == strong]
    accepted = rows[rows["final_model"] == weak]
    assert set(escalated["models_called"]) == {f"{weak}|{strong}|{strong}"}
    assert set(accepted["models_called"]) == {f"{weak}|{strong}"}
    q = res._matrix("score")
    r_strong, r_weak = q[strong].mean(), q[weak].mean()
    expected = routing.apgr([answered_strong], [q["judge-cascade"].mean()], r_weak=r_weak, r_strong=r_strong)
    metrics = res.routing_metrics(strong, weak, strategies=["judge-cascade"], n_boot=50)
    assert metrics.loc["apgr", "value"] == pytest.approx(expected)
    # counting the judge call as a strong answer (the old attribution) would place it at 100 % strong
    wrong = routing.apgr([1.0], [q["judge-cascade"].mean()], r_weak=r_weak, r_strong=r_strong)
    assert metrics.loc["apgr", "value"] != pytest.approx(wrong)
    # judge calls are cost: the cascade pays for them
    assert rows["cost"].sum() > res.df.loc[res.df["strategy"] == weak, "cost"].sum()


def test_strong_share_matrix():
    finals = np.array([["s", "w"], ["w", "w"], ["s", "s"]], dtype=object)
    assert routing.strong_share_matrix(finals, "s").mean(axis=0).tolist() == [2 / 3, 1 / 3]
