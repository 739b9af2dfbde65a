"""CapabilityRouter: limits of 0, normalised cost, deterministic ties, errors that name the constraint."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from routerlab.catalog import Catalog, Price
from routerlab.errors import ConfigError, NoModelFitsError
from routerlab.routers import CapabilityRouter
from routerlab.types import Request

REQ = Request.from_prompt("Write a function that sorts a list of dates.")


def test_zero_is_a_limit_and_none_is_no_limit():
    with pytest.raises(NoModelFitsError, match="'max_cost'"):
        CapabilityRouter(max_cost=0).route(REQ)
    with pytest.raises(NoModelFitsError, match="'max_latency'"):
        CapabilityRouter(max_latency=0).route(REQ)
    assert CapabilityRouter(max_cost=None, max_latency=None).route(REQ).model


def test_no_model_fits_names_the_constraint_that_emptied_the_list():
    with pytest.raises(NoModelFitsError, match="'required'"):
        CapabilityRouter(candidates=["llama-3.1-8b", "gemma-2-2b"], required=["vision"]).route(REQ)
    with pytest.raises(NoModelFitsError, match="'min_context'"):
        CapabilityRouter(min_context=10_000_000).route(REQ)
    with pytest.raises(NoModelFitsError, match="'min_scores'"):
        CapabilityRouter(min_scores={"coding": 11}).route(REQ)
    # vision removes some models, max_cost the rest: max_cost emptied the list
    with pytest.raises(NoModelFitsError, match="'max_cost'.*cheapest"):
        CapabilityRouter(required=["vision"], max_cost=1e-7).route(REQ)
    with pytest.raises(NoModelFitsError, match=r"request 1"):
        CapabilityRouter(max_cost=2e-5, candidates=["gemma-2-2b"]).route_many(
            [Request.from_prompt("hi"), Request.from_prompt("long " * 3000)])


def test_explain_names_what_removed_each_model():
    r = CapabilityRouter(required=["vision"], max_cost=0.002)
    table = r.explain(REQ)
    assert table.loc[table["chosen"], "model"].item() == r.route(REQ).model
    removed = dict(zip(table["model"], table["removed_by"]))
    assert removed["llama-3.1-8b"].startswith("required: vision")
    assert removed["claude-3-opus"].startswith("max_cost")
    assert table.loc[table["removed_by"].isna(), "score"].notna().all()


def test_cost_term_does_not_swamp_capability_whatever_the_price_unit():
    cat = Catalog.default()
    scaled = Catalog({n: dataclasses.replace(s, price=Price(s.price.input * 1000, s.price.output * 1000))
                      for n, s in cat.models.items()})
    for scale in ("log", "rank"):
        a = CapabilityRouter(cat, cost_weight=0.3, cost_scale=scale).route(REQ)
        b = CapabilityRouter(scaled, cost_weight=0.3, cost_scale=scale).route(REQ)
        assert a.model == b.model
        assert np.allclose(list(a.scores.values()), list(b.scores.values()))
    # with no weight on cost the best-scoring model wins; with all of it, the cheapest
    assert CapabilityRouter(cost_weight=0.0, preferred=["coding"]).route(REQ).model == "claude-3.5-sonnet"
    cheapest = CapabilityRouter(cost_weight=1.0).route(REQ).model
    assert cheapest == "gemma-2-2b"


def test_ties_break_by_cost_then_name_deterministically():
    # equal capability scores (speed) for several models and no cost weight: the cheapest of them wins
    r = CapabilityRouter(preferred=["context"], cost_weight=0.0, candidates=["gpt-4o", "gpt-4o-mini", "llama-3.1-8b"])
    d = r.route(REQ)
    assert len(set(d.scores.values())) == 1  # a three-way tie on score
    assert d.model == "llama-3.1-8b"  # the cheapest of the tied
    assert r.route_many([REQ] * 5).tolist() == ["llama-3.1-8b"] * 5


def test_bad_parameters_name_the_field():
    with pytest.raises(ConfigError, match="preferred: unknown capability 'speling'"):
        CapabilityRouter(preferred={"speling": 1}).route(REQ)
    with pytest.raises(ConfigError, match="max_cost"):
        CapabilityRouter(max_cost=-1).route(REQ)
    with pytest.raises(ConfigError, match="cost_weight"):
        CapabilityRouter(cost_weight=0.8, latency_weight=0.5).route(REQ)


def test_set_params_recomputes():
    r = CapabilityRouter(cost_weight=0.0, preferred=["coding"])
    assert r.route(REQ).model == "claude-3.5-sonnet"
    assert r.set_params(cost_weight=1.0) is r
    assert r.route(REQ).model == "gemma-2-2b"
    assert r.get_params()["cost_weight"] == 1.0
