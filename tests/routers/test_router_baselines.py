"""Fixed, random and oracle baselines."""

from __future__ import annotations

import numpy as np
import pytest

from routerlab.errors import ConfigError, MissingOutcomeError
from routerlab.routers import OracleRouter, RandomRouter, check_router
from routerlab.routers.baselines import outcome_matrices
from routerlab.catalog import Catalog
from routerlab.types import Request


def test_random_router_is_seeded_per_prompt_and_follows_weights(zeroeval):
    reqs = zeroeval.requests()
    r = RandomRouter(["gpt-4o", "gpt-4o-mini"], weights=[1, 3], seed=7)
    a = r.route_many(reqs)
    assert (a == RandomRouter(["gpt-4o", "gpt-4o-mini"], weights=[1, 3], seed=7).route_many(reqs[::-1])[::-1]).all()
    assert abs((a == "gpt-4o-mini").mean() - 0.75) < 0.03
    assert not (a == RandomRouter(["gpt-4o", "gpt-4o-mini"], weights=[1, 3], seed=8).route_many(reqs)).all()
    same_id = [Request.from_prompt("x", prompt_id="p"), Request.from_prompt("y", prompt_id="p")]
    assert len(set(r.route_many(same_id))) == 1
    with pytest.raises(ConfigError, match="weights"):
        RandomRouter(["a", "b"], weights=[1]).route(reqs[0])


def test_oracle_picks_the_cheapest_correct_model_else_the_cheapest(zeroeval):
    oracle = OracleRouter(zeroeval)
    scores, costs = outcome_matrices(zeroeval, Catalog.default())
    picks = oracle.route_many(zeroeval.prompts)
    ids = zeroeval.prompts["prompt_id"].to_numpy()
    s = scores.loc[ids].to_numpy()
    c = costs.loc[ids].to_numpy()
    cols = list(scores.columns)
    j = np.array([cols.index(m) for m in picks])
    rows = np.arange(len(ids))
    any_correct = (s >= 0.5).any(axis=1)
    assert (s[rows, j][any_correct] == 1).all()
    cheapest_correct = np.where(s >= 0.5, c, np.inf).min(axis=1)
    assert np.allclose(c[rows, j][any_correct], cheapest_correct[any_correct])
    assert np.allclose(c[rows, j][~any_correct], c[~any_correct].min(axis=1))
    assert (~any_correct).sum() > 0
    quality = s[rows, j].mean()
    assert quality == pytest.approx(any_correct.mean())
    assert check_router(oracle, zeroeval.filter(prompt_ids=ids[:5])) == []
    with pytest.raises(MissingOutcomeError, match="only knows the prompts"):
        oracle.route(Request.from_prompt("never recorded"))
    # a request without an id is found by its text
    req = zeroeval.request(ids[3])
    assert oracle.route(req.with_(prompt_id=None)).model == picks[3]
