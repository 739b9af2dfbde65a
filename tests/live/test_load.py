"""Issue 12's load test: 3,000 mixed requests through the three SDKs against the local server, with injected
500s, 529s, overloads inside 200 streams and a deployment that answers 404, end with zero user-visible
failures (a healthy fallback exists), nothing in flight, and the spend ledger equal to the sum of the
per-request charges.

Run alone with ``python -m pytest tests/live/test_load.py -s`` to see its figures.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import pytest

from helpers import collect
from routerlab.errors import ProviderError
from routerlab.live import Gateway
from routerlab.server import ProviderServer
from routerlab.types import Completion, Request

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]

N, CONCURRENCY, STREAMED = 3000, 48, 0.2
MODEL, FALLBACK = "gpt-4o-mini", "claude-3-haiku"
DEPLOYMENTS = (("A1", "openai"), ("A2", "anthropic"), ("A3", "groq"), ("A4", "openai"))
FAULTS: dict[str, dict[str, Any]] = {
    "A1": {"error_rate": 0.08, "error_status": 500},
    "A2": {"error_rate": 0.08, "error_status": 529, "stream_error": "overloaded_error"},  # every A2 stream: 200, then
    "A3": {"error_rate": 0.05, "error_status": 503, "windows": [{"start": 2.0, "end": 4.0, "status": 529}]},
    "A4": {"status": 404},  # the model is not served there
}


def test_3000_mixed_requests_zero_failures_nothing_in_flight_ledger_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RL_LOAD_KEY", "local-load-key-000")
    with ProviderServer([n for n, _ in DEPLOYMENTS] + ["B1"], latency_scale=0, seed=5) as srv:
        for name, fault in FAULTS.items():
            srv.set_faults(name, fault)

        def dep(name: str, kind: str, model: str) -> dict[str, Any]:
            return {"name": name, "provider": kind, "model": model, "base_url": srv.base_url(name, kind),
                    "api_key_env": "RL_LOAD_KEY"}

        gw = Gateway.from_config({
            "strategy": "weighted", "seed": 3,
            "retry": {"attempts": 4, "timeout": 10.0, "backoff_base": 0.005, "backoff_cap": 0.05},
            "breaker": {"window": 20, "minimum_calls": 10, "failure_rate": 0.5, "open_duration": 0.5},
            "models": {MODEL: {"deployments": [dep(n, k, MODEL) for n, k in DEPLOYMENTS]},
                       FALLBACK: {"deployments": [dep("B1", "anthropic", FALLBACK)]}},
            "fallbacks": {MODEL: [FALLBACK]},
        })
        srv.reset_clock()
        t0 = time.perf_counter()
        results = asyncio.run(_drive(gw))
        wall = time.perf_counter() - t0
        answers = [r for r in results if isinstance(r, Completion)]
        failures = [r for r in results if not isinstance(r, Completion)]
        deadline = time.monotonic() + 5
        while any(srv.in_flight(n) for n in srv.deployments) and time.monotonic() < deadline:
            time.sleep(0.02)  # the server notices closed connections
        in_flight_server = {n: srv.in_flight(n) for n in srv.deployments}
        logs = {n: srv.log(n) for n in srv.deployments}

    assert failures == [], failures[:3]  # zero user-visible failures
    assert len(answers) == N
    assert (gw.stats()["in_flight"] == 0).all() and all(v == 0 for v in in_flight_server.values())  # nothing in flight
    spend = gw.spend("deployment")
    assert spend["cost"].sum() == pytest.approx(sum(c.cost for c in answers), rel=1e-12)  # ledger == per-request sum
    assert gw.total_spend == pytest.approx(spend["cost"].sum(), rel=1e-12)
    assert spend["attempts"].sum() == sum(len(c.attempts) for c in answers)  # every attempt charged once
    assert gw.ledger.held() == pytest.approx(0.0, abs=1e-12)
    outcomes = collections.Counter(o for c in answers for _, o in c.attempts)
    assert outcomes["server_error"] and outcomes["overloaded"]
    # A4 leaves rotation at its first 404: only requests already sent to it meet one
    assert 1 <= outcomes["not_found"] == len(logs["A4"]) <= CONCURRENCY
    assert bool(gw.stats().set_index("deployment").loc["A4", "misconfigured"])
    streamed = sum(1 for i in range(N) if _streamed(i))
    print(f"\nload test: {N} requests ({streamed} streamed) through openai/anthropic/groq at concurrency "
          f"{CONCURRENCY}: {len(failures)} failures, outcomes {dict(outcomes)}, answered by "
          f"{dict(collections.Counter(c.deployment for c in answers))}, upstream requests "
          f"{ {n: len(v) for n, v in logs.items()} }, breaker openings "
          f"{ {n: gw.balancer.breaker(n).openings for n in gw.balancer.names} }, "
          f"ledger ${spend['cost'].sum():.6f} = sum of answers ${sum(c.cost for c in answers):.6f}, "
          f"wall {wall:.1f} s")


def _streamed(i: int) -> bool:
    return i % 5 == 0  # 20 %


async def _drive(gw: Gateway) -> list[Any]:
    results: list[Any] = [None] * N
    todo = iter(range(N))

    async def one(i: int) -> Any:
        req = Request.from_prompt(f"load question {i}: what is {i} times 3?", max_tokens=32)
        if not _streamed(i):
            return await gw.complete(req, MODEL)
        deltas, final = await collect(gw.stream(req, MODEL))
        assert final is not None and "".join(deltas) == final.text  # no token emitted twice
        return final

    async def worker() -> None:
        for i in todo:
            try:
                results[i] = await one(i)
            except ProviderError as exc:
                results[i] = exc

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    await gw.aclose()
    return results
