"""The ten fault scenarios of shared/RELIABILITY.md.

Each runs on a virtual-time event loop with deterministic fake providers (RELIABILITY.md's config:
window 20, minimum 10, threshold 50 %, open 30 s, 3 half-open probes, 2 s per-attempt timeout, 3
attempts). Scenarios 1-3 (and 7's key hygiene) also run against the real local HTTP server
(``routerlab.server``) with the real openai / anthropic / groq SDK clients through the Gateway, with
time scaled down for wall-clock speed: open period 0.5 s instead of 30 s, per-attempt timeout 0.2 s
instead of 2 s, slow-call threshold 0.15 s for a 0.3 s deployment instead of 3 s for 5 s.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from live_fakes import HANG, fake_gateway, run_virtual, three_deployments
from routerlab.live.balancer import BreakerState
from routerlab.errors import (
    AuthError,
    ContextTooLong,
    ProviderError,
    RateLimited,
    ServerError,
    StreamInterrupted,
    Unavailable,
)
from routerlab.live.gateway import Gateway
from routerlab.types import Request

pytestmark = pytest.mark.timeout(60)
MODEL = "gpt-4o-mini"


def _req(i: int, **kw: Any) -> Request:
    return Request.from_prompt(f"question {i}", **kw)


def _times(gw: Gateway, name: str, target: BreakerState) -> list[float]:
    return [t.time for t in gw.balancer.breaker(name).transitions if t.target is target]


def _between(log: list[tuple[float, str]], a: float, b: float) -> list[tuple[float, str]]:
    return [e for e in log if a <= e[0] < b]


# 1 -------------------------------------------------------------------------------------------------
def test_s1_p1_500_for_30s_then_recovers() -> None:
    async def main(loop: Any) -> Any:
        down = lambda t, i, r: ServerError("HTTP 500: injected", status=500) if t < 30 else 0.1  # noqa: E731
        gw, fakes = fake_gateway(loop, {"P1": down}, three_deployments("weighted"))
        results, failures = [], 0

        async def client(c: int) -> None:
            nonlocal failures
            for k in range(150):
                try:
                    results.append(await gw.complete(_req(c * 1000 + k), MODEL))
                except ProviderError:
                    failures += 1
                await asyncio.sleep(0.5)

        await asyncio.gather(*(client(c) for c in range(4)))
        return gw, fakes, results, failures

    gw, fakes, results, failures = run_virtual(main)
    assert failures == 0  # zero user-visible failures
    br = gw.balancer.breaker("P1")
    opened, half, closed = (_times(gw, "P1", s) for s in (BreakerState.OPEN, BreakerState.HALF_OPEN,
                                                           BreakerState.CLOSED))
    assert len(opened) == 1 and br.transitions[0].target is BreakerState.OPEN
    assert "10/10" in br.transitions[0].reason  # opened at its 10th recorded call
    assert len(_between(fakes["P1"].log, 0, opened[0] + 1e-9)) <= 10 + 3  # + calls already in flight
    assert half[0] == pytest.approx(opened[0] + 30)
    probes = _between(fakes["P1"].log, half[0], closed[0] + 1e-9)
    assert len(probes) == 3 and all(o == "ok" for _, o in probes)  # 3 probes, 3 successes, closed
    assert br.state is BreakerState.CLOSED
    late = [c.deployment for c in results[-200:]]
    assert 0.25 <= late.count("P1") / len(late) <= 0.42  # its share returns to ~1/3
    assert any(c.attempts[0] == ("P1", "server_error") and c.attempts[-1][1] == "ok" for c in results)


# 2 -------------------------------------------------------------------------------------------------
def test_s2_p1_hangs() -> None:
    async def main(loop: Any) -> Any:
        gw, fakes = fake_gateway(loop, {"P1": lambda t, i, r: HANG}, three_deployments("round-robin"))
        out = await asyncio.gather(*(gw.complete(_req(i), MODEL) for i in range(60)))
        return gw, fakes, out

    gw, fakes, out = run_virtual(main)
    cut = [c for c in out if c.attempts[0] == ("P1", "timeout")]
    assert cut, "some requests met the hanging P1"
    for c in out:  # each attempt is cut at 2 s: user latency <= 2 s + backoff (cap 0.5) + P2's 0.1 s
        assert c.latency <= 2.0 + 0.5 + 0.1 + 1e-6
    assert gw.balancer.breaker("P1").state is BreakerState.OPEN
    assert all(f.in_flight == 0 for f in fakes.values())  # no request left in flight
    assert (gw.stats()["in_flight"] == 0).all()


# 3 -------------------------------------------------------------------------------------------------
def test_s3_slow_deployment_opens_on_slow_call_rate() -> None:
    async def main(loop: Any) -> Any:
        cfg = three_deployments("round-robin", timeout=10.0, slow=3.0, slow_rate=0.5)
        gw, fakes = fake_gateway(loop, {"P1": lambda t, i, r: 5.0}, cfg)
        out = []
        for i in range(90):
            out.append(await gw.complete(_req(i), MODEL))
        return gw, fakes, out

    gw, fakes, out = run_virtual(main)
    br = gw.balancer.breaker("P1")
    assert br.transitions[0].target is BreakerState.OPEN and "slow-call rate" in br.transitions[0].reason
    assert gw.balancer.breaker("P2").openings == 0
    opened = br.transitions[0].time
    assert not _between(fakes["P1"].log, opened, opened + 30)  # traffic moved away while open
    after = [c.deployment for c in out if c.attempts and fakes["P1"].log and c.deployment != "P1"]
    assert len(after) >= 60


# 4 -------------------------------------------------------------------------------------------------
def test_s4_retry_after_cooldown() -> None:
    async def main(loop: Any) -> Any:
        p1 = lambda t, i, r: RateLimited("HTTP 429", status=429, retry_after=7) if 10 <= t < 30 else 0.1  # noqa: E731
        gw, fakes = fake_gateway(loop, {"P1": p1}, three_deployments("round-robin"))
        out = []
        for i in range(250):
            out.append(await gw.complete(_req(i), MODEL))
            await asyncio.sleep(0.1)
        return gw, fakes, out

    gw, fakes, out = run_virtual(main)
    log = fakes["P1"].log
    limited = [t for t, o in log if o == "RateLimited"]
    assert limited
    for t429 in limited:  # P1 receives no request before t + 7 s
        nxt = [t for t, _ in log if t > t429]
        assert not nxt or nxt[0] >= t429 + 7
    served = {c.deployment for c in out if c.attempts[0][0] != "P1"}
    assert {"P2", "P3"} <= served
    assert len(out) == 250  # no user-visible failure


# 5 -------------------------------------------------------------------------------------------------
def test_s5_everything_503_fails_fast() -> None:
    async def main(loop: Any) -> Any:
        down = lambda t, i, r: ServerError("HTTP 503", status=503) if t < 10 else 0.1  # noqa: E731
        gw, fakes = fake_gateway(loop, {n: down for n in ("P1", "P2", "P3")}, three_deployments("weighted"))
        ok, unavailable, other = [], [], []
        for i in range(300):
            t = loop.time()
            try:
                ok.append(await gw.complete(_req(i), MODEL))
            except Unavailable as exc:
                unavailable.append((t, loop.time() - t, exc))
            except ProviderError as exc:
                other.append(exc)
            await asyncio.sleep(0.2)
        return gw, fakes, ok, unavailable, other, 300

    gw, fakes, ok, unavailable, other, n = run_virtual(main)
    upstream = sum(len(f.log) for f in fakes.values())
    assert upstream <= 3 * n
    assert unavailable, "requests failed fast once every breaker was open"
    for t, took, exc in unavailable:
        assert took == 0.0  # fail fast: no waiting, no upstream call
        assert "earliest return" in str(exc) and exc.retry_after is not None and exc.retry_after > 0
    first = unavailable[0][2]
    assert "circuit open" in str(first) and " in " in str(first)
    for name, f in fakes.items():  # on recovery at most 3 probes per deployment
        half = _times(gw, name, BreakerState.HALF_OPEN)[0]
        closed = _times(gw, name, BreakerState.CLOSED)[0]
        assert len(_between(f.log, half, closed + 1e-9)) <= 3
        assert gw.balancer.breaker(name).state is BreakerState.CLOSED
    assert ok[-1].attempts == ((ok[-1].deployment, "ok"),)


# 6 -------------------------------------------------------------------------------------------------
def test_s6_context_too_long_falls_back_to_larger_model() -> None:
    cfg = three_deployments("round-robin")
    cfg["models"] = {
        "gemma-2-2b": {"deployments": [{"name": "P1", "provider": "groq", "model": "gemma-2-2b"}]},
        MODEL: {"deployments": [{"name": n, "provider": "openai", "model": MODEL} for n in ("P2", "P3")]},
    }

    async def main(loop: Any) -> Any:
        p1 = lambda t, i, r: ContextTooLong("HTTP 400: context length", status=400) if "LONG" in r.prompt else 0.1  # noqa: E731
        gw, fakes = fake_gateway(loop, {"P1": p1}, cfg)
        out = [await gw.complete(Request.from_prompt("LONG " * 50 + str(i)), "gemma-2-2b") for i in range(25)]
        short = await gw.complete(Request.from_prompt("short"), "gemma-2-2b")
        return gw, out, short

    gw, out, short = run_virtual(main)
    for c in out:
        assert c.attempts[0] == ("P1", "context_too_long") and c.attempts[-1][1] == "ok"
        assert c.deployment in ("P2", "P3")
    assert short.deployment == "P1"
    br = gw.balancer.breaker("P1")
    assert br.state is BreakerState.CLOSED and br.openings == 0 and br.calls == 1  # only the short one counted
    assert gw.balancer.cooldown_until("P1") is None


# 7 -------------------------------------------------------------------------------------------------
CANARY = "sk-canary-7f3a9c1e5b2d4f60"


def _grep_files(root: Path, needle: str) -> list[str]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file() and needle.encode() in p.read_bytes():
            hits.append(str(p))
    return hits


def _all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(getattr(exc, "args", ""))


def test_s7_unauthorized_deployment_leaves_rotation_and_key_never_leaks(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2_KEY", CANARY)
    cfg = three_deployments("round-robin", extra={"cache": {"directory": str(tmp_path / "cache")}})
    for d in cfg["models"][MODEL]["deployments"]:
        d["api_key_env"] = f"{d['name']}_KEY"
    cfg["models"]["claude-3-haiku"] = {"deployments": [{"name": "Q2", "provider": "anthropic",
                                                        "model": "claude-3-haiku", "api_key_env": "P2_KEY"}]}
    handler = logging.FileHandler(tmp_path / "gateway.log")
    logging.getLogger("routerlab").addHandler(handler)
    logging.getLogger("routerlab").setLevel(logging.DEBUG)
    # a careless provider echoes the key in its error message: the gateway must scrub it
    leak = lambda t, i, r: AuthError(f"HTTP 401: Incorrect API key provided: {CANARY}", status=401)  # noqa: E731
    try:
        async def main(loop: Any) -> Any:
            gw, fakes = fake_gateway(loop, {"P2": leak, "Q2": leak}, cfg)
            out = [await gw.complete(_req(i), MODEL) for i in range(30)]
            errors = []
            for i in range(2):
                try:
                    await gw.complete(_req(i), "claude-3-haiku")
                except ProviderError as exc:
                    errors.append(exc)
            return gw, fakes, out, errors

        gw, fakes, out, errors = run_virtual(main)
    finally:
        logging.getLogger("routerlab").removeHandler(handler)
        handler.close()
    assert len(fakes["P2"].log) == 1  # one 401, then out of rotation
    stats = gw.stats().set_index("deployment")
    assert bool(stats.loc["P2", "misconfigured"]) and not bool(stats.loc["P2", "available"])
    assert gw.balancer.breaker("P2").openings == 0  # not a transient failure
    assert {c.deployment for c in out[1:]} == {"P1", "P3"}
    assert isinstance(errors[0], AuthError) and isinstance(errors[1], Unavailable)
    assert "misconfigured" in str(errors[1])
    (tmp_path / "results.jsonl").write_text("\n".join(str(c.to_dict()) for c in out))
    gw.stats().to_csv(tmp_path / "stats.csv")
    gw.spend().to_csv(tmp_path / "spend.csv")
    assert (tmp_path / "gateway.log").stat().st_size > 0
    assert _grep_files(tmp_path, CANARY) == []
    for exc in errors:
        assert CANARY not in _all_text(exc)
    assert CANARY not in repr(gw) + gw._repr_html_() + repr(gw.config)


# 8 -------------------------------------------------------------------------------------------------
def _s8_run(seed: int) -> list[tuple[float, str, str]]:
    async def main(loop: Any) -> Any:
        rng = random.Random(seed)
        flaky = lambda t, i, r: ServerError("HTTP 500", status=500) if rng.random() < 0.5 else 0.1  # noqa: E731
        cfg = three_deployments("round-robin", extra={})
        cfg["breaker"]["max_open_duration"] = 120
        gw, fakes = fake_gateway(loop, {"P1": flaky}, cfg)
        for i in range(1500):
            await gw.complete(_req(i), MODEL)
            await asyncio.sleep(1.0)
        return gw

    gw = run_virtual(main)
    return [(round(t.time, 9), t.source.value, t.target.value) for t in gw.balancer.breaker("P1").transitions]


def test_s8_random_failures_give_identical_transitions_and_capped_growth() -> None:
    a, b = _s8_run(3), _s8_run(3)
    assert a == b and len(a) > 10  # identical across runs
    durations = []
    for (t_open, _, tgt), (t_half, _, tgt2) in zip(a, a[1:]):
        if tgt == "open" and tgt2 == "half_open":
            durations.append(t_half - t_open)
    expected, k = [], 0
    for (_, src, tgt) in a:
        if tgt == "open":
            expected.append(min(120.0, 30.0 * 2 ** k))
            k += 1
        elif tgt == "closed":
            k = 0
    assert durations == pytest.approx(expected[:len(durations)])
    assert 60.0 in durations and 120.0 in durations  # consecutive open periods grow and are capped
    assert max(durations) == 120.0


# 9 -------------------------------------------------------------------------------------------------
def test_s9_stream_cut_midway_never_duplicates_tokens() -> None:
    cfg = three_deployments("round-robin")

    async def collect(gw: Gateway, req: Request) -> tuple[list[str], Any]:
        deltas: list[str] = []
        try:
            async for item in gw.stream(req, MODEL):
                if isinstance(item, str):
                    deltas.append(item)
                else:
                    return deltas, item
        except StreamInterrupted as exc:
            return deltas, exc
        raise AssertionError("no final item")

    async def main(loop: Any) -> Any:
        # cut before any text: retried on P2, each token once
        gw, fakes = fake_gateway(loop, {"P1": lambda t, i, r: ("cut", 0)}, cfg)
        deltas_a, final_a = await collect(gw, _req(1))
        # cut after 2 chunks: no retry, the partial attempt is charged
        gw2, fakes2 = fake_gateway(loop, {"P1": lambda t, i, r: ("cut", 2)}, cfg)
        deltas_b, final_b = await collect(gw2, _req(2))
        return (gw, fakes, deltas_a, final_a), (gw2, fakes2, deltas_b, final_b)

    (gw, fakes, deltas_a, final_a), (gw2, fakes2, deltas_b, final_b) = run_virtual(main)
    assert "".join(deltas_a) == final_a.text and len(deltas_a) == 4
    assert final_a.attempts == (("P1", "provider_error"), ("P2", "ok"))
    assert isinstance(final_b, StreamInterrupted)
    assert deltas_b == ["w0 ", "w1 "]  # emitted once, and nothing after the cut
    assert len(fakes2["P2"].log) == 0 and len(fakes2["P3"].log) == 0  # no retry after text was emitted
    assert final_b.tokens == (20, 2)
    spend = gw2.spend("deployment").set_index("deployment")
    assert spend.loc["P1", "input_tokens"] == 20 and spend.loc["P1", "output_tokens"] == 2
    from routerlab.catalog import Catalog

    assert spend.loc["P1", "cost"] == pytest.approx(Catalog.default()[MODEL].cost(20, 2))  # priced from the catalog


# 10 ------------------------------------------------------------------------------------------------
def test_s10_thundering_herd_at_half_open_edge_and_exact_round_robin() -> None:
    async def main(loop: Any) -> Any:
        down = lambda t, i, r: ServerError("HTTP 500", status=500) if t < 20 else 0.1  # noqa: E731
        gw, fakes = fake_gateway(loop, {"P1": down}, three_deployments("least-busy"))
        for i in range(40):
            await gw.complete(_req(i), MODEL)
        opened = _times(gw, "P1", BreakerState.OPEN)[0]
        edge = opened + 30
        await asyncio.sleep(edge - 0.1 - loop.time())

        async def one(i: int) -> Any:
            await asyncio.sleep(i * 0.001)  # 100 before the edge, 100 after it
            return await gw.complete(_req(1000 + i), MODEL)

        herd = await asyncio.gather(*(one(i) for i in range(200)), return_exceptions=True)
        return gw, fakes, edge, herd

    gw, fakes, edge, herd = run_virtual(main)
    assert all(not isinstance(h, BaseException) for h in herd) and len(herd) == 200  # no request lost
    assert len(_between(fakes["P1"].log, edge, edge + 0.25)) <= 3  # at most 3 probes reached P1
    assert gw.balancer.breaker("P1").state is BreakerState.CLOSED

    async def rr(loop: Any) -> Any:
        gw, fakes = fake_gateway(loop, {}, three_deployments("round-robin"))
        for i in range(3000):
            await gw.complete(_req(i), MODEL)
        return fakes

    fakes = run_virtual(rr)
    assert [len(fakes[n].log) for n in ("P1", "P2", "P3")] == [1000, 1000, 1000]


# real local HTTP server, real SDK clients ----------------------------------------------------------
server = pytest.importorskip("routerlab.server")
KINDS = (("P1", "openai"), ("P2", "anthropic"), ("P3", "groq"))


@pytest.fixture()
def srv(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("RL_TEST_KEY", "local-test-key-000")
    with server.ProviderServer([n for n, _ in KINDS], latency_scale=0) as s:
        yield s


def _real_config(srv: Any, strategy: str = "round-robin", **breaker: Any) -> dict[str, Any]:
    return {
        "strategy": strategy, "seed": 1,
        # scaled for wall-clock speed: open 0.5 s (spec 30 s), per-attempt timeout 0.2 s (spec 2 s)
        "retry": {"attempts": 3, "timeout": 0.2, "backoff_base": 0.01, "backoff_cap": 0.05},
        "breaker": {"window": 20, "minimum_calls": 10, "failure_rate": 0.5, "open_duration": 0.5,
                    "half_open_probes": 3, **breaker},
        "models": {MODEL: {"deployments": [
            {"name": n, "provider": k, "model": MODEL, "base_url": srv.base_url(n, k), "api_key_env": "RL_TEST_KEY"}
            for n, k in KINDS]}},
    }


def _server_time(srv: Any, monotonic_t: float) -> float:
    return monotonic_t - (time.monotonic() - srv.now())


async def _waves(gw: Gateway, waves: int, width: int, pause: float, start: int = 0) -> tuple[list[Any], list[Any]]:
    ok, bad = [], []

    async def one(i: int) -> None:
        try:
            ok.append(await gw.complete(_req(i), MODEL))
        except ProviderError as exc:
            bad.append(exc)

    for w in range(waves):
        await asyncio.gather(*(one(start + w * width + j) for j in range(width)))
        await asyncio.sleep(pause)
    return ok, bad


async def _warm(gw: Gateway, width: int = 5) -> None:
    """Open enough connections for the test's concurrency before any fault is switched on."""
    await gw.warmup()
    await _waves(gw, 2, width, 0.0, start=-100)
    for name in gw.balancer.names:  # the scenario starts from empty breaker windows
        gw.balancer.breaker(name).reset()


def test_real_s1_500_then_recovery(srv: Any) -> None:
    async def main() -> Any:
        cfg = _real_config(srv)
        cfg["retry"]["timeout"] = 1.0  # 500s are fast: a long deadline keeps a loaded machine from adding timeouts
        gw = Gateway.from_config(cfg)
        await _warm(gw)
        srv.set_faults("P1", windows=[server.Window(0, 0.7, status=500)])
        srv.reset_clock()
        srv.clear_log()
        br = gw.balancer.breaker("P1")
        ok, bad, i = [], [], 0
        deadline = time.monotonic() + 6.0
        while time.monotonic() < deadline and not (br.openings and br.state is BreakerState.CLOSED):
            o, b = await _waves(gw, 1, 5 if not br.openings else 3, 0.02, start=i)
            ok, bad, i = ok + o, bad + b, i + 5
        o2, b2 = await _waves(gw, 20, 3, 0.0, start=10_000)  # after recovery
        await gw.aclose()
        return gw, ok, bad + b2, o2

    gw, ok, bad, ok2 = asyncio.run(main())
    assert bad == []  # zero user-visible failures
    br = gw.balancer.breaker("P1")
    assert br.transitions[0].target is BreakerState.OPEN and "10/10" in br.transitions[0].reason
    assert br.state is BreakerState.CLOSED
    log = srv.log("P1")
    assert sum(r["status"] == 500 for r in log) <= 10 + 4  # 10 recorded + at most a wave already in flight
    half = _server_time(srv, _times(gw, "P1", BreakerState.HALF_OPEN)[-1])
    closed = _server_time(srv, _times(gw, "P1", BreakerState.CLOSED)[-1])
    probes = [r for r in log if half - 0.005 <= r["t"] <= closed + 0.005]
    assert 1 <= len(probes) <= 3 and all(r["status"] == 200 for r in probes)  # at most 3 probes, they closed it
    share = sum(c.deployment == "P1" for c in ok2) / len(ok2)
    assert 0.25 <= share <= 0.42  # its share returns to ~1/3
    assert srv.log("P2") and srv.log("P3")


def test_real_s2_hang_is_cut_and_nothing_stays_in_flight(srv: Any) -> None:
    async def main() -> Any:
        gw = Gateway.from_config(_real_config(srv))
        await _warm(gw, 4)
        srv.set_faults("P1", hang=30.0)
        ok, bad = await _waves(gw, 12, 4, 0.0)
        await gw.aclose()
        return gw, ok, bad

    gw, ok, bad = asyncio.run(main())
    assert bad == []
    hit = [c for c in ok if c.attempts[0] == ("P1", "timeout")]
    assert hit
    for c in ok:  # 0.2 s cut + backoff (cap 0.05) + P2's latency (+ slack for a loaded CI machine)
        assert c.latency <= 0.2 + 0.05 + 0.25
    assert gw.balancer.breaker("P1").state is BreakerState.OPEN
    assert (gw.stats()["in_flight"] == 0).all()
    deadline = time.monotonic() + 2.0
    while srv.in_flight("P1") and time.monotonic() < deadline:  # the server notices dropped clients
        time.sleep(0.02)
    assert srv.in_flight("P1") == 0


def test_real_s3_slow_deployment_loses_traffic(srv: Any) -> None:
    async def main() -> Any:
        cfg = _real_config(srv, slow_call_duration=0.15, slow_call_rate=0.5)
        cfg["retry"]["timeout"] = 1.0
        gw = Gateway.from_config(cfg)
        await _warm(gw, 3)
        srv.set_faults("P1", delay=0.3)
        srv.clear_log()
        ok, bad = await _waves(gw, 14, 3, 0.0)
        await gw.aclose()
        return gw, ok, bad

    gw, ok, bad = asyncio.run(main())
    assert bad == []
    br = gw.balancer.breaker("P1")
    assert br.transitions and br.transitions[0].target is BreakerState.OPEN
    assert "slow-call rate" in br.transitions[0].reason
    opened = _server_time(srv, br.transitions[0].time)
    during = [r for r in srv.log("P1") if opened + 0.01 <= r["t"] < opened + 0.45]
    assert during == []  # traffic moved away while open
    assert sum(c.deployment != "P1" for c in ok) > sum(c.deployment == "P1" for c in ok)


def test_real_s7_401_and_canary(srv: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2_CANARY_KEY", CANARY)
    srv.set_api_key("P2", "the-right-key-123")  # the canary is the wrong key: 401
    handler = logging.FileHandler(tmp_path / "gateway.log")
    logging.getLogger("routerlab").addHandler(handler)
    logging.getLogger("routerlab").setLevel(logging.DEBUG)
    cfg = _real_config(srv)
    cfg["models"][MODEL]["deployments"][1]["api_key_env"] = "P2_CANARY_KEY"
    cfg["models"]["claude-3-haiku"] = {"deployments": [{"name": "Q2", "provider": "anthropic",
                                                        "model": "claude-3-haiku", "base_url": srv.base_url("P2", "anthropic"),
                                                        "api_key_env": "P2_CANARY_KEY"}]}
    cfg["cache"] = {"directory": str(tmp_path / "cache")}

    cfg["retry"]["timeout"] = 2.0  # no warm-up here (it would find the 401 first): allow cold clients

    async def main() -> Any:
        gw = Gateway.from_config(cfg)
        ok, bad = await _waves(gw, 18, 1, 0.0)
        errors = []
        for i in range(2):
            try:
                await gw.complete(_req(i), "claude-3-haiku")
            except ProviderError as exc:
                errors.append(exc)
        await gw.aclose()
        return gw, ok, bad, errors

    try:
        gw, ok, bad, errors = asyncio.run(main())
    finally:
        logging.getLogger("routerlab").removeHandler(handler)
        handler.close()
    assert bad == []
    assert bool(gw.stats().set_index("deployment").loc["P2", "misconfigured"])
    assert sum(r["status"] == 401 for r in srv.log("P2")) == 2  # P2 once, Q2 once; then out of rotation
    assert isinstance(errors[0], AuthError) and isinstance(errors[1], Unavailable)
    (tmp_path / "results.jsonl").write_text("\n".join(str(c.to_dict()) for c in ok))
    gw.stats().to_csv(tmp_path / "stats.csv")
    assert _grep_files(tmp_path, CANARY) == []
    for exc in errors:
        assert CANARY not in _all_text(exc)
