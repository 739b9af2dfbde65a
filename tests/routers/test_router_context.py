"""ContextWindowRouter: the window check, next-best candidates, fallbacks and the error."""

from __future__ import annotations

import pytest

from routerlab.errors import NoModelFitsError
from routerlab.routers import CapabilityRouter, ContextWindowRouter, FixedRouter, RoutingTable, TaskRouter, check_router
from routerlab.types import Request

LONG = Request.from_prompt("word " * 9000)  # ~9,000 tokens: more than gemma-2-2b's 8,192


def test_skips_models_whose_window_is_too_small_and_takes_the_next_best():
    inner = CapabilityRouter(candidates=["gemma-2-2b", "gpt-4o-mini"], cost_weight=1.0)
    r = ContextWindowRouter(inner, max_output_tokens=500)
    assert inner.route(LONG).model == "gemma-2-2b"
    d = r.route(LONG)
    assert d.model == "gpt-4o-mini" and "window 8192" in d.reason and "gemma-2-2b" not in d.scores
    assert r.route(Request.from_prompt("short")).model == "gemma-2-2b"
    assert r.route_many([LONG, Request.from_prompt("short")]).tolist() == ["gpt-4o-mini", "gemma-2-2b"]
    table = r.explain(LONG)
    assert table.set_index("model").loc["gemma-2-2b", "removed_by"].startswith("context_window: 8192 <")


def test_output_budget_counts_and_the_request_max_tokens_wins():
    r = ContextWindowRouter(FixedRouter("gemma-2-2b"), max_output_tokens=8190, fallbacks=["gemini-1.5-flash"])
    short = Request.from_prompt("hello there")
    assert r.route(short).model == "gemini-1.5-flash"          # 8,190 output tokens plus the input exceed 8,192
    assert r.route(short.with_(max_tokens=100)).model == "gemma-2-2b"


def test_configured_fallback_then_error():
    table = RoutingTable(default="gemma-2-2b")
    r = ContextWindowRouter(TaskRouter(table), fallbacks=["gpt-4o-mini"])
    assert r.route(LONG).model == "gpt-4o-mini"
    assert check_router(r) == []
    with pytest.raises(NoModelFitsError, match="'context_window'.*needs"):
        ContextWindowRouter(FixedRouter("gemma-2-2b")).route(LONG)
