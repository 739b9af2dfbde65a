"""Every strategy live: real SDK calls through the Gateway to the local provider server (127.0.0.1 only)."""

from __future__ import annotations

import asyncio

import pytest

gateway = pytest.importorskip("routerlab.live.gateway")
server = pytest.importorskip("routerlab.server")

from routerlab._aio import run_sync  # noqa: E402
from routerlab.routers.ensemble import BestOfN, Consensus  # noqa: E402
from routerlab.routers.judge import LLMJudge  # noqa: E402
from routerlab.routers import (Agreement, CapabilityRouter, CascadeRouter, ContextWindowRouter, FixedRouter,  # noqa: E402
                               LearnedRouter, RandomRouter, RouterStrategy, RoutingTable, TaskRouter)
from routerlab.routers.cascade import JudgeVerdict  # noqa: E402

from fakes import TinyEmbedder  # noqa: E402

pytestmark = pytest.mark.timeout(120)

MODELS = {"gpt-4o": "openai", "gpt-4o-mini": "openai", "llama-3.1-70b": "groq", "llama-3.1-8b": "groq",
          "claude-3-haiku": "anthropic", "gemini-1.5-flash": "openai"}


@pytest.fixture(scope="module")
def live(zeroeval):
    import os

    os.environ.setdefault("RL_ROUTER_TEST_KEY", "local-router-test-key")
    kinds = sorted(set(MODELS.values()))
    with server.ProviderServer(kinds, latency_scale=0, answers=server.answers_from_dataset(zeroeval), seed=0) as srv:
        cfg = {"strategy": "round-robin", "seed": 0,
               "retry": {"attempts": 2, "timeout": 10.0, "backoff_base": 0.01, "backoff_cap": 0.05},
               "models": {m: {"deployments": [{"name": f"{m}-{k}", "provider": k, "model": m,
                                               "base_url": srv.base_url(k, k), "api_key_env": "RL_ROUTER_TEST_KEY"}]}
                          for m, k in MODELS.items()}}
        yield srv, gateway.Gateway.from_config(cfg)


def _run(gw, strategy, requests):
    async def go():
        return await asyncio.gather(*(strategy.answer(r, gw) for r in requests))
    return run_sync(go())  # one long-lived loop: async SDK clients stay bound to it


def _requests(zeroeval, n=6):
    ids = zeroeval.prompts.groupby("task").head(n // 3)["prompt_id"]
    return [zeroeval.request(p) for p in ids]


def test_routers_live_through_the_gateway(zeroeval, live, small_split):
    srv, gw = live
    reqs = _requests(zeroeval)
    cands = list(MODELS)
    routers = [
        FixedRouter("gpt-4o-mini"), RandomRouter(cands, seed=1),
        CapabilityRouter(candidates=cands, preferred={"reasoning": 2, "coding": 1}),
        TaskRouter(RoutingTable(default="gpt-4o", routes={"gsm": "llama-3.1-8b", "crux": "gpt-4o-mini"}),
                   task_field="task"),
        ContextWindowRouter(TaskRouter(RoutingTable(default="gemini-1.5-flash", routes={"code": "llama-3.1-70b"}))),
        LearnedRouter(TinyEmbedder(), k=8, lam=0.3, candidates=cands).fit(small_split[0]),
    ]
    for router in routers:
        answers = _run(gw, RouterStrategy(router), reqs)
        for r, a in zip(reqs, answers):
            assert a.model == router.route(r).model
            assert a.text == zeroeval.outcomes.response(r.prompt_id, a.model)  # the server's recorded answer
            assert a.calls[0].provider != "replay" and a.cost > 0 and not a.simulated_latency


def test_cascade_and_ensembles_live(zeroeval, live):
    srv, gw = live
    reqs = _requests(zeroeval)
    cascade = CascadeRouter([("gemini-1.5-flash", "llama-3.1-70b"), "gpt-4o"], Agreement())
    for r, a in zip(reqs, _run(gw, cascade, reqs)):
        assert a.text == zeroeval.outcomes.response(r.prompt_id, a.model)
        assert a.cost == pytest.approx(sum(c.cost for c in a.calls))
        assert len(a.calls) == (2 if a.info["stage"] == 0 else 3)
    vote = Consensus(["gpt-4o-mini", "gemini-1.5-flash", "llama-3.1-70b"])
    for a in _run(gw, vote, reqs):
        assert a.info["calls_counted"] >= 2 and a.latency <= max(c.latency for c in a.calls) + 1e-9
    # the local server echoes prompts it has no answer for: a live judge reply that cannot be parsed is
    # missing, never a win for the first candidate, and never accepts a cascade stage
    judge = LLMJudge("gpt-4o-mini")
    best = BestOfN(["llama-3.1-8b", "gpt-4o-mini"], judge)
    for a in _run(gw, best, reqs):
        assert a.model == "llama-3.1-8b" and a.info["missing_verdicts"] == 2 and not a.info["judge_simulated"]
        assert len(a.calls) == 4 and a.cost == pytest.approx(sum(c.cost for c in a.calls))
    judged = CascadeRouter(["llama-3.1-8b", "gpt-4o"], JudgeVerdict(judge))
    for a in _run(gw, judged, reqs):
        assert a.model == "gpt-4o" and a.info["checks"][0]["verdict"] is None and len(a.calls) == 3
