"""Answers for agreement on any data: the task scorer's normalised answers (plain text, letters,
numbers, pass/fail) or an imported prediction column; no answers at all is an error, never a silent
single-model plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from routerlab import datasets
from routerlab._aio import run_sync
from routerlab.errors import ConfigError, DatasetError
from routerlab.harness import Experiment
from routerlab.providers.replay import ReplayCaller
from routerlab.routers import Agreement, CascadeRouter, Consensus
from routerlab.scoring import Passthrough
from routerlab.types import Request

from fakes import ScriptedCaller

LETTERS = "ABCD"


def _mc_data(n: int = 60, *, plain: bool = True, seed: int = 0) -> pd.DataFrame:
    """Multiple-choice answers in plain text ("The answer is (B)."), as chat models write them."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        gold = LETTERS[i % 4]
        for m, skill, price in (("small-a", 0.6, 0.001), ("small-b", 0.55, 0.001), ("big", 0.95, 0.02)):
            letter = gold if rng.random() < skill else LETTERS[(i + 1 + int(rng.integers(3))) % 4]
            text = f"Let me think. The answer is ({letter})." if plain else f'{{"answer": "{letter}"}}'
            rows.append({"prompt_id": f"q{i}", "task": "quiz", "prompt": f"Question {i}", "reference": gold,
                         "model": m, "response": text, "cost": price, "input_tokens": 20, "output_tokens": 8})
    return pd.DataFrame(rows)


def test_no_answers_is_an_error_not_a_silent_single_model_plan():
    """ZeroEval's JSON rule reads nothing in plain text: fitting must say so."""
    ds = datasets.load(_mc_data(), scorers={"quiz": "zeroeval-math"})
    assert ds.outcomes.df["normalized"].isna().all()
    with pytest.raises(DatasetError, match=r"agreement needs answers.*\['quiz'\].*scorers="):
        CascadeRouter(budget=0.5).fit(ds)
    graded = datasets.load(_mc_data(), scorers={"quiz": Passthrough()})
    with pytest.raises(DatasetError, match="agreement needs answers"):
        CascadeRouter(budget=0.5).fit(graded)


def test_plain_text_answers_with_the_right_scorer_make_a_real_cascade():
    ds = datasets.load(_mc_data(), scorers={"quiz": "multiple-choice"})
    assert ds.outcomes.df["normalized"].isin(list(LETTERS)).all()
    cascade = CascadeRouter(budget=0.9, name="cascade-agreement").fit(ds)
    assert len(cascade.stages_["quiz"]) > 1  # a cascade, not one model
    # replayed prompt by prompt, the cascade does what fit simulated
    res = Experiment(ds, {"c": cascade}).run(progress=False)
    plan = cascade.plan_.set_index("task").loc["quiz"]
    assert res.df["score"].mean() == pytest.approx(plan["train_quality"])
    assert res.df["cost"].sum() == pytest.approx(plan["train_cost"])


def test_exact_match_default_reads_plain_text_too():
    """A user's data with no scorer named: exact match, whose answer is the normalised text."""
    df = _mc_data(plain=True)
    df["response"] = df["response"].str.extract(r"\((\w)\)")[0]  # bare letters
    ds = datasets.load(df)
    assert ds.outcomes.df["normalized"].isin([c.lower() for c in LETTERS]).all()
    assert CascadeRouter(budget=0.6).fit(ds).plan_ is not None


def test_an_imported_prediction_column_is_used_directly():
    df = _mc_data(plain=True)
    df["response"] = "I'm not sure."  # nothing a scorer could read...
    df["prediction"] = df["prompt_id"].map(lambda p: LETTERS[int(p[1:]) % 4])  # ...but the tool recorded one
    df["score"] = 1.0
    ds = datasets.load(df, scorers={"quiz": "multiple-choice"})
    assert (ds.outcomes.df["normalized"] == ds.outcomes.df["prediction"]).all()
    caller = ReplayCaller(ds)
    ans = run_sync(CascadeRouter([("small-a", "small-b"), "big"]).answer(ds.request("q3"), caller))
    assert ans.info["accepted_by"] == "agreement" and ans.model == "small-a"


def test_live_agreement_without_a_data_set_uses_named_scorers_or_exact_match():
    q = Request.from_prompt("Which?", prompt_id="x", task="quiz")
    caller = ScriptedCaller({"a": "The answer is (B).", "b": "B", "c": "C"})
    named = run_sync(CascadeRouter([("a", "b"), "c"], Agreement(scorers={"quiz": "multiple-choice"})).answer(q, caller))
    assert named.model == "a" and named.info["accepted_by"] == "agreement"
    plain = run_sync(CascadeRouter([("a", "b"), "c"]).answer(q, ScriptedCaller(caller.answers)))
    assert plain.model == "c"  # exact match: the two texts differ
    vote = run_sync(Consensus(["a", "b", "c"], scorers="multiple-choice", early_stop=False).answer(
        q, ScriptedCaller(caller.answers)))
    assert vote.info["votes"] == {"B": 2.0, "C": 1.0}


def test_a_scorer_without_answers_raises_at_answer_time():
    class GradeOnly:
        name = "grade-only"

        def score(self, response, reference, *, model=None):
            raise AssertionError("not called")

    q = Request.from_prompt("Which?", prompt_id="x", task="quiz")
    with pytest.raises(ConfigError, match="exposes no normalised answer"):
        run_sync(CascadeRouter([("a", "b"), "c"], Agreement(scorers={"quiz": GradeOnly()})).answer(
            q, ScriptedCaller({"a": "1", "b": "1", "c": "2"})))
