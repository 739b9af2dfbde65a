"""The Router protocol: Batch, RouterStrategy, check_router, and route_many == route on the bundled data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from routerlab.errors import ConfigError
from routerlab.providers.replay import ReplayCaller
from routerlab.routers import (CapabilityRouter, ContextWindowRouter, FixedRouter, LearnedRouter, OracleRouter,
                               RandomRouter, RouterStrategy, RoutingTable, TaskRouter, check_router)
from routerlab.routers.base import Batch, request_tokens
from routerlab.types import Decision, Request

from fakes import TinyEmbedder


def test_batch_from_requests_and_frame_agree():
    reqs = [Request.from_prompt("hello", system="be brief", prompt_id="a", task="chat"),
            Request.from_prompt("2+2?", prompt_id="b", max_tokens=7)]
    frame = pd.DataFrame({"prompt_id": ["a", "b"], "task": ["chat", None], "prompt": ["hello", "2+2?"],
                          "system": ["be brief", ""], "max_tokens": [np.nan, 7]})
    b1, b2 = Batch.of(reqs), Batch.of(frame)
    assert b1.texts.tolist() == b2.texts.tolist() == [r.text for r in reqs]
    assert b1.input_tokens().tolist() == b2.input_tokens().tolist() == [request_tokens(r) for r in reqs]
    assert b1.max_tokens[1] == b2.max_tokens[1] == 7
    assert b2.request(0).text == reqs[0].text
    with pytest.raises(ConfigError, match="list of requests"):
        Batch.of(reqs[0])


def test_check_router_reports_broken_routers():
    class Flaky:
        name = "flaky"
        prompt_only = True

        def __init__(self):
            self.n = 0

        def route(self, request):
            self.n += 1
            return Decision("a" if self.n % 2 else "b", scores={"a": 1.0, "b": 0.5})

        def explain(self, request):
            return pd.DataFrame({"model": ["a", "b"], "score": [1.0, np.nan], "removed_by": [None, None],
                                 "chosen": [True, False]})

        def route_many(self, requests):
            return ["a"] * len(requests)  # a list, not an array

    failures = check_router(Flaky(), raise_errors=False)
    text = "\n".join(failures)
    assert "not deterministic" in text
    assert "neither a score nor the constraint" in text
    assert "numpy array" in text
    with pytest.raises(AssertionError, match="failed"):
        check_router(Flaky())


@pytest.mark.parametrize("make", [
    lambda: FixedRouter("gpt-4o"),
    lambda: RandomRouter(["gpt-4o", "gpt-4o-mini", "gemma-2-2b"], weights=[1, 2, 3], seed=4),
    lambda: CapabilityRouter(preferred={"reasoning": 2, "coding": 1}, required=["tools"]),
    lambda: TaskRouter(RoutingTable(default="gpt-4o", routes={"math": "gpt-4o-mini", "code": "claude-3.5-sonnet"})),
    lambda: ContextWindowRouter(FixedRouter("gemma-2-2b"), fallbacks=["gemini-1.5-flash"]),
])
def test_builtin_routers_pass_check_router(make):
    assert check_router(make()) == []


def test_router_strategy_makes_one_call(zeroeval):
    req = zeroeval.request("gsm8k-main-test-#0")
    strategy = RouterStrategy(FixedRouter("gpt-4o-mini"))
    answer = ReplayCaller(zeroeval)
    from routerlab._aio import run_sync

    got = run_sync(strategy.answer(req, answer))
    assert got.model == "gpt-4o-mini" and len(got.calls) == 1 and got.info["router"] == "fixed"
    assert strategy.prompt_only


def _agree(router, requests, frame):
    single = np.array([router.route(r).model for r in requests], dtype=object)
    assert (router.route_many(requests) == single).all()
    assert (router.route_many(frame) == single).all()
    return single


def test_route_many_equals_route_on_every_bundled_prompt(zeroeval, split):
    """Every prompt-only router, every zeroeval prompt (the learned router: the 1,420 test prompts)."""
    requests, frame = zeroeval.requests(), zeroeval.prompts
    train, test = split
    routers = [
        FixedRouter("gpt-4o"),
        RandomRouter(zeroeval.models, seed=0),
        CapabilityRouter(candidates=zeroeval.models, preferred={"reasoning": 2, "coding": 1}, max_cost=0.002),
        TaskRouter(RoutingTable(default="gpt-4o", routes={"math": "gpt-4o-mini", "code": "llama-3.1-70b"})),
        TaskRouter(RoutingTable(default="gpt-4o", routes={"gsm": "gemini-1.5-flash"}), task_field="task"),
        ContextWindowRouter(TaskRouter(RoutingTable(default="gemma-2-2b", routes={"code": "gpt-4o"})),
                            max_output_tokens=7600, fallbacks=["gemini-1.5-flash"]),  # long prompts overflow gemma
        OracleRouter(zeroeval),
    ]
    picks = [_agree(router, requests, frame) for router in routers]
    assert 0 < (picks[5] == "gemini-1.5-flash").sum() < len(requests)  # the context fallback was exercised
    learned = LearnedRouter(TinyEmbedder(), k=16, lam=0.3).fit(train)
    picked = _agree(learned, test.requests(), test.prompts)
    assert len(set(picked)) > 1


def test_route_many_reads_a_default_indexed_frame_in_place_and_any_other_by_position(zeroeval):
    """A frame indexed 0..n-1 (every Dataset's prompts) is the batch's own frame, not a copy per call;
    a shuffled, gapped, repeated or text index is read by position and routes as its rows say."""
    frame = zeroeval.prompts.head(400)
    assert Batch.of(frame).frame is frame and Batch.of(zeroeval).frame is zeroeval.prompts
    routers = [FixedRouter("gpt-4o"), RandomRouter(zeroeval.models, seed=0),
               TaskRouter(RoutingTable(default="gpt-4o", routes={"math": "gpt-4o-mini", "code": "llama-3.1-70b"})),
               TaskRouter(RoutingTable(default="gpt-4o", routes={"gsm": "gemini-1.5-flash"}), task_field="task"),
               ContextWindowRouter(CapabilityRouter(candidates=zeroeval.models), max_output_tokens=7600,
                                   fallbacks=["gemini-1.5-flash"])]
    expected = [r.route_many(frame) for r in routers]
    rng = np.random.default_rng(0)
    for index in (pd.RangeIndex(400, 800), pd.Index(rng.permutation(400)), pd.Index([7] * 400),
                  pd.Index([f"row{i}" for i in range(400)]), pd.RangeIndex(0, 800, 2)):
        odd = frame.set_axis(index)
        batch = Batch.of(odd)
        assert batch.frame is not odd and batch.frame.index.equals(pd.RangeIndex(400))  # foreign routers see 0..n-1
        assert odd.index.equals(index)  # the caller's frame is not changed
        for router, want in zip(routers, expected):
            assert (router.route_many(odd) == want).all(), (type(router).__name__, index[:3])


def test_decision_codes_outside_the_model_list_are_refused_and_minus_one_decides_nothing():
    from routerlab.routers.base import decision_names, decisions

    with pytest.raises(ValueError, match=r"\[-1, 2\)"):
        decisions(np.array([0, 2]), ["gpt-4o", "gpt-4o-mini"])
    codes = decisions(np.array([1, -1, 0, 2]), ["gpt-4o", "gpt-4o-mini", "gpt-4o"])
    assert list(codes.categories) == ["gpt-4o", "gpt-4o-mini"]  # a model named twice is one category
    assert decision_names(codes).tolist() == ["gpt-4o-mini", None, "gpt-4o", "gpt-4o"]
    assert decision_names(codes).dtype == object
