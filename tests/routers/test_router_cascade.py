"""CascadeRouter: agreement over normalised answers, judge verdicts, sums of cost and latency, planning."""

from __future__ import annotations

import numpy as np
import pytest

from routerlab._aio import run_sync
from routerlab.errors import ConfigError, NotFittedError
from routerlab.routers.judge import LLMJudge, SimulatedJudge
from routerlab.providers.replay import ReplayCaller
from routerlab.routers import Agreement, CascadeRouter
from routerlab.routers.cascade import JudgeVerdict
from routerlab.types import Request

from fakes import ScriptedCaller

Q = Request.from_prompt("How many eggs?", prompt_id="q1", task="gsm")
GSM = Agreement(scorers={"gsm": "zeroeval-math"})  # no data set behind a scripted caller: name the scorer


def test_agreement_on_normalised_answers_accepts_the_cheap_answer():
    caller = ScriptedCaller({"cheap": '{"answer": "$1,000"}', "mid": '{"answer": "1000.0"}', "strong": '{"answer": "7"}'},
                            {"cheap": 0.5, "mid": 0.8, "strong": 2.0})
    ans = run_sync(CascadeRouter([("cheap", "mid"), "strong"], GSM).answer(Q, caller))
    assert ans.model == "cheap" and ans.info["stage"] == 0 and ans.info["accepted_by"] == "agreement"
    assert [m for m, _ in caller.calls] == ["cheap", "mid"]
    assert ans.cost == pytest.approx(0.001 + 0.002) and ans.latency == pytest.approx(0.8)  # parallel stage: slowest
    assert ans.models_called == ("cheap", "mid") and ans.final_call is not None and ans.final_call.model == "cheap"
    # without a scorer named, a task is read by exact match: "$1,000" and "1000.0" differ
    plain = run_sync(CascadeRouter([("cheap", "mid"), "strong"]).answer(Q, ScriptedCaller(caller.answers)))
    assert plain.model == "strong"


def test_disagreement_escalates_and_costs_add_up():
    caller = ScriptedCaller({"cheap": '{"answer": "12"}', "mid": '{"answer": "13"}', "third": '{"answer": "99"}',
                             "strong": '{"answer": "12"}'}, {"cheap": 0.5, "mid": 0.8, "third": 0.3, "strong": 2.0})
    ans = run_sync(CascadeRouter([("cheap", "mid"), "third", "strong"]).answer(Q, caller))
    assert ans.model == "strong" and ans.info["accepted_by"] == "final" and ans.info["stage"] == 2
    assert ans.cost == pytest.approx(0.001 + 0.002 + 0.003 + 0.004)
    assert ans.latency == pytest.approx(0.8 + 0.3 + 2.0)
    # a third model agreeing with an earlier one stops the cascade there, with the earliest holder's answer
    caller2 = ScriptedCaller({"cheap": '{"answer": "12"}', "mid": '{"answer": "13"}', "third": '{"answer": "13"}',
                              "strong": '{"answer": "0"}'})
    ans2 = run_sync(CascadeRouter([("cheap", "mid"), "third", "strong"]).answer(Q, caller2))
    assert ans2.model == "mid" and ans2.info["stage"] == 1 and "strong" not in [m for m, _ in caller2.calls]


def test_failed_calls_escalate_and_the_last_failure_is_raised():
    caller = ScriptedCaller({"cheap": '{"answer": "1"}', "mid": '{"answer": "1"}', "strong": "x"}, fail={"mid"})
    ans = run_sync(CascadeRouter([("cheap", "mid"), "strong"]).answer(Q, caller))
    assert ans.model == "strong" and ans.info["failed_calls"] == 1
    from routerlab.errors import ServerError

    with pytest.raises(ServerError):
        run_sync(CascadeRouter(["cheap", "strong"]).answer(Q, ScriptedCaller({"cheap": "a", "strong": "b"},
                                                                             fail={"strong"})))


def test_judge_cascade_with_a_simulated_judge_is_labelled_and_charged(zeroeval):
    caller = ReplayCaller(zeroeval)
    judge = LLMJudge("gpt-4o-mini", caller=SimulatedJudge(error_rate=0.0, seed=0))
    cascade = CascadeRouter(["gemma-2-2b", "gpt-4o"], JudgeVerdict(judge))
    ids = zeroeval.prompts["prompt_id"][zeroeval.prompts["task"] == "gsm"].iloc[:40]
    scores = zeroeval.outcomes.matrix("score")
    for pid in ids:
        ans = run_sync(cascade.answer(zeroeval.request(pid), caller))
        assert ans.info["judge_simulated"] and ans.info["judge"].startswith("simulated gpt-4o-mini")
        judge_calls = [c for c in ans.calls if c.provider == "simulated-judge"]
        assert len(judge_calls) == 1 and judge_calls[0].cost > 0
        # a perfect judge accepts gemma exactly when gemma was right
        assert (ans.info["stage"] == 0) == bool(scores.loc[pid, "gemma-2-2b"] == 1.0)
        assert ans.cost == pytest.approx(sum(c.cost for c in ans.calls))


def test_stages_validation_and_per_task_stages():
    with pytest.raises(ConfigError, match="non-empty list of stages"):
        CascadeRouter([]).validate()
    with pytest.raises(ConfigError, match="non-empty list of stages"):
        run_sync(CascadeRouter([]).answer(Q, ScriptedCaller({"a": "x"})))
    with pytest.raises(NotFittedError):
        CascadeRouter().stages_for("gsm")
    c = CascadeRouter({"gsm": ["a", "b"], "*": [("a", "c"), "d"]})
    assert c.stages_for("gsm") == [("a",), ("b",)] and c.stages_for("other") == [("a", "c"), ("d",)]
    with pytest.raises(ConfigError, match="no stages for task"):
        CascadeRouter({"gsm": ["a"]}).stages_for("crux")
    with pytest.raises(ConfigError, match="min_votes"):
        CascadeRouter(["a", "b"], Agreement(min_votes=1)).validate()  # nested objects are validated too


def test_fit_plans_within_budget_and_the_plan_replays_exactly(small_split):
    train, test = small_split
    c = CascadeRouter(budget=0.25).fit(train)
    assert set(c.stages_) == {"*", "crux", "gsm", "math-l5"}
    # the planner's train figures are what answering the train prompts really gives
    caller = ReplayCaller(train)
    scores = train.outcomes.matrix("score")
    for task, row in c.plan_.set_index("task").iterrows():
        if task == "*":
            continue
        ids = train.prompts.loc[train.prompts["task"] == task, "prompt_id"]
        answers = [run_sync(c.answer(train.request(p), caller)) for p in ids]
        quality = np.mean([scores.loc[p, a.model] for p, a in zip(ids, answers)])
        assert quality == pytest.approx(row["train_quality"])
        assert sum(a.cost for a in answers) == pytest.approx(row["train_cost"])
    best_cost = c.plan_["train_cost"][c.plan_["task"] != "*"].sum()
    assert best_cost > 0
