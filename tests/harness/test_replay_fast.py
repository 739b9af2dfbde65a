"""Issue 15, part 4: the vectorised replay joins on integer codes. Decisions as codes agree with route and
route_many; what routers derive from a batch is computed once; rows are those of the per-prompt path;
a parameter sweep aggregates what full replays give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from routerlab.harness.experiment import Experiment
from routerlab.harness.replay import replay_curve, replay_rows
from routerlab.providers.replay import ReplayCaller
from routerlab.routers import Batch, FixedRouter, OracleRouter, RandomRouter, RoutingTable, TaskRouter
from routerlab.routers.base import decisions, key_hash
from routerlab.types import Request


def _routers(ds):
    table = RoutingTable(default="gpt-4o", routes={"gsm": "gpt-4o-mini", "crux": "claude-3.5-sonnet"})
    return {"fixed": FixedRouter("gpt-4o-mini"), "alias": FixedRouter("gpt4o"),
            "random": RandomRouter(["gpt-4o", "gemma-2-2b", "gpt-4o", "llama-3.1-8b"], weights=[1, 2, 1, 3], seed=9),
            "labels": TaskRouter(table, task_field="task"), "patterns": TaskRouter(table),
            "oracle": OracleRouter(ds), "oracle-strict": OracleRouter(ds, threshold=1.0)}


@pytest.fixture(scope="module")
def mixed(zeroeval):
    """Every third prompt of zeroeval, some of them without a task label (those fall back to patterns)."""
    ds = zeroeval.filter(prompt_ids=zeroeval.prompts["prompt_id"].iloc[::3])
    prompts = ds.prompts.copy()
    prompts.loc[prompts.index[::5], "task"] = None
    return ds, prompts


def test_codes_agree_with_route_many_and_route(mixed):
    ds, prompts = mixed
    for name, router in _routers(ds).items():
        codes = router.route_codes(prompts)
        many = router.route_many(prompts)
        assert isinstance(codes, pd.Categorical) and codes.categories.is_unique, name
        assert np.asarray(codes, dtype=object).tolist() == many.tolist(), name
        for i in range(0, len(prompts), 97):
            row = prompts.iloc[i]
            request = Request.from_prompt(row["prompt"], prompt_id=row["prompt_id"],
                                          task=row["task"] if isinstance(row["task"], str) else None)
            assert router.route(request).model == many[i], (name, i)


def test_random_draws_agree_without_ids_and_in_any_order(zeroeval):
    texts = zeroeval.prompts["prompt"].iloc[:300].tolist()
    r = RandomRouter(["gpt-4o", "gpt-4o-mini", "gemma-2-2b"], seed=5)
    many = r.route_many(texts)
    assert many.tolist() == [r.route(Request.from_prompt(t)).model for t in texts]
    assert r.route_many(texts[::-1]).tolist() == many.tolist()[::-1]
    assert len(set(many)) == 3  # every model is drawn
    assert RandomRouter(["gpt-4o", "gpt-4o-mini", "gemma-2-2b"], seed=6).route_many(texts).tolist() != many.tolist()


def test_a_batch_derives_each_thing_once(mixed):
    ds, prompts = mixed
    batch = Batch.of(prompts)
    codes, uniques = batch.factorized("task")
    assert batch.factorized("task")[0] is codes  # kept
    labels = prompts["task"].to_numpy(dtype=object)
    assert [uniques[c] if c >= 0 else None for c in codes] == [t if isinstance(t, str) else None for t in labels]
    hashes = batch.key_hashes()
    assert batch.key_hashes() is hashes
    assert [key_hash(p, "") for p in prompts["prompt_id"].iloc[:50]] == hashes[:50].tolist()
    index = pd.Index(prompts["prompt_id"].iloc[::-1].to_numpy(dtype=object))
    rows = batch.rows_in(index)
    assert batch.rows_in(index) is rows and (index[rows] == prompts["prompt_id"].to_numpy(dtype=object)).all()
    assert Batch.of(ds) is Batch.of(ds)  # a data set keeps its batch


def test_decisions_merge_a_model_named_twice():
    cat = decisions(np.array([0, 1, 2, 2, -1]), ["a", "b", "a"])
    assert list(cat.categories) == ["a", "b"] and cat.codes.tolist() == [0, 1, 0, 0, -1]


def test_one_shared_batch_gives_the_rows_of_separate_frames_and_of_the_per_prompt_path(mixed):
    ds, prompts = mixed
    caller = ReplayCaller(ds, seed=4)
    batch = Batch.of(prompts)
    for name, router in _routers(ds).items():
        shared = replay_rows(name, router, caller, batch, 1)
        alone = replay_rows(name, router, ReplayCaller(ds, seed=4), prompts.copy(), 1)
        pd.testing.assert_frame_equal(shared, alone, check_exact=True)
    strategies = {k: v for k, v in _routers(ds).items() if k != "patterns"}
    fast = Experiment(ds, strategies, seed=4, samples=2).run(progress=False)
    slow = Experiment(ds, strategies, seed=4, samples=2, fast_path=False).run(progress=False)
    pd.testing.assert_frame_equal(fast.df, slow.df, check_exact=True)
    # a replay served from the kept draws is the replay that made them
    again = Experiment(ds, strategies, seed=4, samples=2).run(progress=False)
    pd.testing.assert_frame_equal(fast.df, again.df, check_exact=True)


def test_a_decision_without_an_outcome_is_a_row_saying_so(zeroeval):
    ds = zeroeval.filter(prompt_ids=zeroeval.prompts["prompt_id"].iloc[:40], models=["gpt-4o", "gemma-2-2b"])
    r = RandomRouter(["gpt-4o", "gpt-4o-mini"], seed=1)
    rows = replay_rows("r", r, ReplayCaller(ds), Batch.of(ds))
    missing = rows["final_model"] == ""
    assert missing.any() and (~missing).any()
    assert rows.loc[missing, "error"].str.contains("model 'gpt-4o-mini'").all()
    assert (rows.loc[~missing, "final_model"] == "gpt-4o").all() and rows.loc[missing, "score"].isna().all()


def test_a_parameter_sweep_aggregates_what_full_replays_give(zeroeval):
    caller = ReplayCaller(zeroeval)
    router = RandomRouter(["gpt-4o-mini", "gpt-4o"], weights=[1.0, 0.0], seed=2)
    grid = [[1.0, 0.0], [0.7, 0.3], [0.2, 0.8], [0.0, 1.0]]
    curve = replay_curve(router, "weights", grid, caller, zeroeval)
    assert router.weights == [1.0, 0.0]  # the router itself is left as it was
    for value, point in zip(grid, curve.to_dict("records")):
        rows = replay_rows("r", RandomRouter(["gpt-4o-mini", "gpt-4o"], weights=value, seed=2), caller, zeroeval)
        assert point["quality"] == pytest.approx(rows["score"].mean(), rel=1e-12)
        assert point["cost"] == pytest.approx(rows["cost"].sum(), rel=1e-12)
        assert point["answered"] == point["n"] == len(zeroeval)
    assert curve["cost"].is_monotonic_increasing and curve["quality"].iloc[-1] > curve["quality"].iloc[0]
    thresholds = replay_curve(OracleRouter(zeroeval), "threshold", [0.5, 1.01], caller, zeroeval)
    assert thresholds["quality"].iloc[0] > thresholds["quality"].iloc[1]  # nothing passes 1.01: the cheapest model
