"""The Gateway: config validation, retries, fallbacks, limits, budgets, accounting, caches, streams."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from live_fakes import FakeProvider, fake_gateway, run_virtual, three_deployments
from routerlab.catalog import Catalog
from routerlab.errors import (
    AuthError,
    ConfigError,
    ProviderError,
    RateLimited,
    ServerError,
    UnknownModelError,
    Unavailable,
)
from routerlab.live.gateway import BudgetExceeded, Deployment, Gateway, GatewayConfig, TokenBucket
from routerlab.types import Completion, Request

pytestmark = pytest.mark.timeout(60)
MODEL = "gpt-4o-mini"


def _two_models(**extra: Any) -> dict[str, Any]:
    cfg = three_deployments("round-robin")
    cfg["models"]["claude-3-haiku"] = {"deployments": [{"name": "Q1", "provider": "anthropic",
                                                        "model": "claude-3-haiku"}]}
    cfg["fallbacks"] = {MODEL: ["claude-3-haiku"]}
    cfg.update(extra)
    return cfg


# config -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.pop("models"), "models: is required"),
    (lambda c: c["models"][MODEL]["deployments"][0].pop("provider"), r"models.gpt-4o-mini.deployments\[0\].provider"),
    (lambda c: c["models"][MODEL]["deployments"][1].update(rpm=-5), r"deployments\[1\].rpm: must be a positive"),
    (lambda c: c["models"][MODEL]["deployments"][0].update(api_key="sk-x"), "never put a key in the config"),
    (lambda c: c["models"][MODEL]["deployments"][2].update(name="P1"), r"deployments\[2\].name: 'P1' is already used"),
    (lambda c: c.update(fallbacks={MODEL: ["nope"]}), r"fallbacks.gpt-4o-mini\[0\]: 'nope' is not a configured"),
    (lambda c: c.update(strategy="random"), "strategy: 'random' is not one of"),
    (lambda c: c.update(modles={}), r"unknown field\(s\) \['modles'\]"),
    (lambda c: c["retry"].update(attempts=0), "retry.attempts: must be a positive"),
    (lambda c: c["breaker"].update(failure_rate="half"), "breaker.failure_rate: must be a number"),
    (lambda c: c.update(budgets={"on_exceeded": "panic"}), "budgets.on_exceeded"),
    (lambda c: c.update(cache={"semantic": {"threshold": 2}}), "cache.semantic.threshold"),
    (lambda c: c["models"][MODEL]["deployments"][1].update(colour="red"),
     r"models.gpt-4o-mini.deployments\[1\]: unknown field\(s\) \['colour'\]; known fields: \['api_key_env', "
     r"'base_url', 'compat', 'max_concurrency', 'model', 'name', 'provider', 'rpm', 'timeout', 'tpm', 'weight'\]"),
    (lambda c: c["retry"].update(atempts=2), r"retry: unknown field\(s\) \['atempts'\]; known fields: \['attempts'"),
    (lambda c: c.update(seed="x"), "seed: must be a whole number, got 'x'"),
    (lambda c: c["models"][MODEL].update(deployments=[]), r"models.gpt-4o-mini.deployments: must not be empty"),
])
def test_config_errors_name_the_field(mutate: Any, message: str) -> None:
    cfg = three_deployments()
    mutate(cfg)
    with pytest.raises(ConfigError, match=message):
        GatewayConfig.from_dict(cfg)


def test_yaml_config_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("""
strategy: least-busy
retry: {attempts: 2, timeout: 5}
models:
  gpt-4o-mini:
    deployments:
      - {name: east, provider: openai, model: gpt-4o-mini, api_key_env: EAST_KEY, rpm: 100, max_concurrency: 4}
  claude-3-haiku:
    context_window: 100000
    deployments:
      - {name: claude, provider: anthropic, model: claude-3-haiku}
fallbacks: {gpt-4o-mini: [claude-3-haiku]}
budgets: {total: 5, per_model: {gpt-4o-mini: 1.5}}
cache: {directory: cache, semantic: {threshold: 0.9}}
""")
    cfg = GatewayConfig.from_file(path)
    assert cfg.strategy == "least-busy" and cfg.retry.attempts == 2
    assert cfg.models[MODEL][0] == Deployment("east", "openai", MODEL, api_key_env="EAST_KEY", rpm=100.0,
                                              max_concurrency=4)
    assert cfg.fallbacks == {MODEL: ("claude-3-haiku",)} and cfg.context_windows == {"claude-3-haiku": 100000}
    assert cfg.cache.directory == str(tmp_path / "cache") and cfg.cache.semantic and cfg.cache.threshold == 0.9
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  m:\n    deployments:\n      - {name: a, provider: openai, model: m, weight: 0}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: models.m.deployments\[0\].weight"):
        GatewayConfig.from_file(bad)


def test_every_problem_of_a_file_is_reported_at_once_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("models:\n  m:\n    deployments:\n      - {name: a, provider: openai, model: m, rpm: -1}\n"
                    "retry: {attempts: 0}\nbreaker: {window: 5, minimum_calls: 10}\n")
    with pytest.raises(ConfigError) as info:
        GatewayConfig.from_file(path)
    lines = str(info.value).splitlines()
    assert sorted(lines) == [f"{path}: breaker.minimum_calls: must be between 1 and window (5), got 10",
                             f"{path}: models.m.deployments[0].rpm: must be a positive number, got -1",
                             f"{path}: retry.attempts: must be a positive number, got 0"]


def test_config_objects_built_in_code_are_validated_too() -> None:
    from routerlab.live.config import RetryPolicy

    with pytest.raises(ConfigError, match=r"deployment.weight: must be a positive number, got 0"):
        Deployment("P1", "openai", MODEL, weight=0)
    with pytest.raises(ConfigError, match=r"retry.timeout: must be a finite number, got nan"):
        RetryPolicy(timeout=float("nan"))
    assert Deployment("P1", "openai", MODEL) == Deployment("P1", "openai", MODEL, weight=1.0)


def test_deployment_model_must_be_in_the_catalog() -> None:
    cfg = three_deployments()
    cfg["models"][MODEL]["deployments"][2]["model"] = "gpt-99-turbo"
    with pytest.raises(ConfigError, match=r"models.gpt-4o-mini.deployments\[2\].model: 'gpt-99-turbo' is not in the catalog"):
        Gateway.from_config(cfg)


def test_unknown_model_and_missing_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RL_NOT_SET_KEY", raising=False)
    cfg = three_deployments()
    for d in cfg["models"][MODEL]["deployments"]:
        d.update(api_key_env="RL_NOT_SET_KEY", base_url="http://127.0.0.1:9/v1")
    gw = Gateway.from_config(cfg)  # the real provider factory: the key variable is missing
    stats = gw.stats().set_index("deployment")
    assert stats["misconfigured"].all() and "RL_NOT_SET_KEY" in stats.loc["P1", "reason"]
    with pytest.raises(UnknownModelError, match="configured: gpt-4o-mini"):
        asyncio.run(gw.complete(Request.from_prompt("x"), "gpt-5"))
    with pytest.raises(Unavailable, match="misconfigured"):
        asyncio.run(gw.complete(Request.from_prompt("x"), MODEL))


# retries, fallbacks, accounting ---------------------------------------------------------------------------
def test_attempts_and_charges_without_double_counting() -> None:
    async def main(loop: Any) -> Any:
        p1 = lambda t, i, r: ServerError("HTTP 500", status=500, tokens=(7, 3))  # noqa: E731  (a failure that used tokens)
        gw, fakes = fake_gateway(loop, {"P1": p1}, three_deployments())
        out = [await gw.complete(Request.from_prompt(f"q{i}"), MODEL) for i in range(9)]
        return gw, out

    gw, out = run_virtual(main)
    price = Catalog.default()[MODEL].cost(7, 3)
    failed_first = [c for c in out if c.attempts[0] == ("P1", "server_error")]
    assert failed_first and all(c.attempts[1][1] == "ok" for c in failed_first)
    for c in failed_first:
        assert (c.input_tokens, c.output_tokens) == (27, 8)
        assert c.cost == pytest.approx(price + 25 * 1e-5)
    spend = gw.spend()
    assert spend["cost"].sum() == pytest.approx(sum(c.cost for c in out))  # every attempt charged once
    assert spend["input_tokens"].sum() == sum(c.input_tokens for c in out)
    by_dep = gw.spend("deployment").set_index("deployment")
    assert by_dep.loc["P1", "failed_attempts"] == len(failed_first) and by_dep.loc["P1", "answers"] == 0
    assert gw.total_spend == pytest.approx(spend["cost"].sum())
    with pytest.raises(ConfigError):
        gw.spend("region")


def test_fallback_chain_and_full_jitter_backoff() -> None:
    async def main(loop: Any) -> Any:
        down = lambda t, i, r: ServerError("HTTP 503", status=503)  # noqa: E731
        gw, fakes = fake_gateway(loop, {n: down for n in ("P1", "P2", "P3")}, _two_models())
        gw.config = GatewayConfig.from_dict({**_two_models(), "retry": {"attempts": 4, "timeout": 2,
                                                                          "backoff_base": 0.5, "backoff_cap": 1}})
        t0 = loop.time()
        c = await gw.complete(Request.from_prompt("q"), MODEL)
        return gw, c, loop.time() - t0

    gw, c, took = run_virtual(main)
    assert [d for d, _ in c.attempts] == ["P1", "P2", "P3", "Q1"] and c.deployment == "Q1"
    assert c.model == "claude-3-haiku"
    assert 0 < took <= 0.5 + 1 + 1 + 3 * 0.05 + 0.1 + 1e-9  # U(0, 0.5) + U(0, 1) + U(0, 1) + 3 failures + answer
    gw2 = Gateway.from_config(three_deployments(), providers={n: FakeProvider(n) for n in ("P1", "P2", "P3")},
                              rng=random.Random(5))
    draws = [gw2._backoff(n) for n in range(8)]
    assert all(0 <= d <= min(0.5, 0.05 * 2 ** n) for n, d in enumerate(draws))
    gw3 = Gateway.from_config(three_deployments(), providers={n: FakeProvider(n) for n in ("P1", "P2", "P3")},
                              rng=random.Random(5))
    assert draws == [gw3._backoff(n) for n in range(8)]


def test_non_retryable_bad_request_is_raised_at_once() -> None:
    from routerlab.errors import BadRequest

    async def main(loop: Any) -> Any:
        gw, fakes = fake_gateway(loop, {n: (lambda t, i, r: BadRequest("HTTP 400: content policy", status=400))
                                        for n in ("P1", "P2", "P3")}, _two_models())
        with pytest.raises(BadRequest, match="content policy") as info:
            await gw.complete(Request.from_prompt("q"), MODEL)
        return info.value, fakes

    exc, fakes = run_virtual(main)
    assert exc.attempts == (("P1", "bad_request"),) and sum(len(f.log) for f in fakes.values()) == 1


def test_budgets_move_traffic_or_refuse() -> None:
    def q(i: Any) -> Request:  # max_tokens bounds each call's reserved estimate (catalog prices: ~$0.000005)
        return Request.from_prompt(f"q{i}", max_tokens=5)

    async def main(loop: Any) -> Any:
        gw, fakes = fake_gateway(loop, {}, _two_models(budgets={"per_model": {MODEL: 0.0004}}))
        out = [await gw.complete(q(i), MODEL) for i in range(3)]
        gw2, _ = fake_gateway(loop, {}, _two_models(budgets={"total": 0.0002, "on_exceeded": "refuse"}))
        await gw2.complete(q(0), MODEL)
        with pytest.raises(BudgetExceeded, match="refused: total spend") as refused:
            await gw2.complete(q(1), MODEL)
        gw3, _ = fake_gateway(loop, {}, _two_models(budgets={"per_provider": {"openai": 0.0, "anthropic": 0.0}}))
        with pytest.raises(BudgetExceeded, match="no model in the chain") as none_left:
            await gw3.complete(q(2), MODEL)
        return out, refused.value, none_left.value

    out, refused, none_left = run_virtual(main)
    assert [c.deployment for c in out] == ["P1", "P2", "Q1"]  # the fakes charge 25 tokens at 1e-5 = 0.00025 a call
    assert out[2].attempts[0] == ("budget:gpt-4o-mini", "budget_exceeded")
    assert isinstance(refused, Unavailable) and isinstance(none_left, Unavailable)
    assert "cap $0.0002" in str(refused) and "spend $0.000250" in str(refused)


def test_rate_limits_and_concurrency() -> None:
    async def main(loop: Any) -> Any:
        cfg = three_deployments()
        cfg["models"] = {MODEL: {"deployments": [{"name": "P1", "provider": "openai", "model": MODEL, "rpm": 6}]}}
        gw, fakes = fake_gateway(loop, {}, cfg)
        for i in range(9):
            await gw.complete(Request.from_prompt(f"q{i}"), MODEL)
        rpm_times = [t for t, _ in fakes["P1"].log]

        cfg["models"][MODEL]["deployments"][0].update(rpm=None, tpm=600)
        gw, fakes = fake_gateway(loop, {}, cfg)
        fakes["P1"].tokens = (200, 100)
        t0 = loop.time()
        for i in range(3):
            await gw.complete(Request.from_prompt(f"q{i}"), MODEL)
        tpm_times = [t - t0 for t, _ in fakes["P1"].log]

        cfg["models"][MODEL]["deployments"] = [
            {"name": "P1", "provider": "openai", "model": MODEL, "max_concurrency": 1},
            {"name": "P2", "provider": "openai", "model": MODEL, "max_concurrency": 2}]
        gw, fakes = fake_gateway(loop, {}, cfg)
        out = await asyncio.gather(*(gw.complete(Request.from_prompt(f"c{i}"), MODEL) for i in range(12)))
        return rpm_times, tpm_times, fakes, out

    rpm_times, tpm_times, fakes, out = run_virtual(main)
    assert rpm_times[:6] == pytest.approx([0.1 * i for i in range(6)])  # the burst: one a minute's worth
    assert all(b - a >= 10 - 0.11 for a, b in zip(rpm_times[6:], rpm_times[7:]))  # then one per 10 s
    assert tpm_times[2] >= 25  # 600 tokens a minute, 300 used per call
    assert fakes["P1"].max_in_flight == 1 and fakes["P2"].max_in_flight == 2 and len(out) == 12


def test_token_bucket() -> None:
    t = [0.0]
    b = TokenBucket(120, clock=lambda: t[0])
    b.take(120)
    assert b.wait_time(1) == pytest.approx(0.5)
    t[0] = 1.0
    assert b.wait_time(2) == 0.0
    assert b.wait_time(10_000) == pytest.approx(59.0)  # a request larger than the bucket waits for a full one


def test_wait_for_available_versus_fail_fast() -> None:
    def cfg(wait: bool) -> dict[str, Any]:
        c = three_deployments()
        c["retry"]["wait_for_available"] = wait
        return c

    limited = lambda t, i, r: RateLimited("HTTP 429", status=429, retry_after=5) if t < 1 else 0.1  # noqa: E731

    async def main(loop: Any) -> Any:
        gw, fakes = fake_gateway(loop, {n: limited for n in ("P1", "P2", "P3")}, cfg(False))
        with pytest.raises(RateLimited):
            await gw.complete(Request.from_prompt("a"), MODEL)  # three 429s: the retry budget is spent
        with pytest.raises(Unavailable, match="cooling down") as fast:
            await gw.complete(Request.from_prompt("b"), MODEL)
        gw2, fakes2 = fake_gateway(loop, {n: limited for n in ("P1", "P2", "P3")}, cfg(True))
        gw2.config = GatewayConfig.from_dict({**cfg(True), "retry": {**cfg(True)["retry"], "attempts": 4}})
        t0 = loop.time()
        c = await gw2.complete(Request.from_prompt("c"), MODEL)
        return fast.value, c, loop.time() - t0

    fast, c, waited = run_virtual(main)
    assert 4 < fast.retry_after <= 5 and "earliest return" in str(fast)
    assert c.attempts[-1][1] == "ok" and waited >= 5


def test_a_local_wait_does_not_turn_into_wait_for_available() -> None:
    """The per-call ``wait_for_available`` override shared its name with the local rate/concurrency wait
    (a float, then None when nothing is left to wait for), so a request that had gone through a local wait
    lost its override: asked to wait for a cooled-down deployment, it failed fast instead."""
    def p1(t: float, i: int, r: Request) -> Any:
        return RateLimited("HTTP 429", status=429, retry_after=5) if i == 1 else 1.0

    def cfg() -> dict[str, Any]:
        c = three_deployments()
        c["models"] = {MODEL: {"deployments": [{"name": "P1", "provider": "openai", "model": MODEL,
                                                "max_concurrency": 1}]}}
        return c

    async def two_requests(loop: Any, override: bool | None) -> Any:
        gw, _ = fake_gateway(loop, {"P1": p1}, cfg())
        first = asyncio.ensure_future(gw.complete(Request.from_prompt("a"), MODEL))
        await asyncio.sleep(0.01)  # the second one finds P1 busy: a local wait, then P1 answers 429
        t0 = loop.time()
        try:
            second: Any = await gw.complete(Request.from_prompt("b"), MODEL, wait_for_available=override)
        except Unavailable as exc:
            second = exc
        return await first, second, loop.time() - t0

    async def main(loop: Any) -> Any:
        return await two_requests(loop, None), await two_requests(loop, True)

    (first, failed, took), (_, waited, took2) = run_virtual(main)
    assert first.text == "P1:a"
    assert isinstance(failed, Unavailable) and "cooling down" in str(failed)  # the config says fail fast
    assert took < 1.2  # 1 s waiting for the slot, then no waiting for the cooldown
    assert isinstance(waited, Completion) and waited.text == "P1:b" and took2 >= 5  # asked to wait: it waits


# caches, streams, operations ----------------------------------------------------------------------------
def test_exact_cache_hits_skip_upstream_and_latency_stats(tmp_path: Path) -> None:
    async def main(loop: Any) -> Any:
        gw, fakes = fake_gateway(loop, {}, three_deployments(extra={"cache": {"directory": str(tmp_path / "c")}}))
        r = Request.from_prompt("What is 2+2?")
        first = await gw.complete(r, MODEL)
        second = await gw.complete(r.with_(prompt_id="other"), MODEL)
        hot = [await gw.complete(r.with_(temperature=0.8, sample=s), MODEL) for s in (0, 1, 0)]
        return gw, fakes, first, second, hot

    gw, fakes, first, second, hot = run_virtual(main)
    assert not first.cached and second.cached and second.text == first.text
    assert second.attempts == (("cache:exact", "hit"),) and second.cost == first.cost
    assert [h.cached for h in hot] == [False, False, True]  # samples are distinct entries at temperature > 0
    assert sum(len(f.log) for f in fakes.values()) == 3
    assert gw.stats()["calls"].sum() == 3  # hits never reach the balancer's latency statistics
    assert gw.spend()["attempts"].sum() == 3


def test_semantic_cache_in_the_gateway() -> None:
    async def main(loop: Any) -> Any:
        gw, fakes = fake_gateway(loop, {}, three_deployments(extra={"cache": {"semantic": {"threshold": 0.8}}}))
        a = await gw.complete(Request.from_prompt("What is the capital of France?"), MODEL)
        b = await gw.complete(Request.from_prompt("what is the capital of france"), MODEL)
        c = await gw.complete(Request.from_prompt("How do magnets work?"), MODEL)
        return a, b, c

    a, b, c = run_virtual(main)
    assert not a.cached and b.cached and b.text == a.text and not c.cached
    assert b.attempts[0][0] == "cache:semantic"


def test_stream_through_the_gateway() -> None:
    async def main(loop: Any) -> Any:
        gw, fakes = fake_gateway(loop, {}, three_deployments())
        items = [item async for item in gw.stream(Request.from_prompt("s"), MODEL)]
        return items

    items = run_virtual(main)
    *deltas, final = items
    assert isinstance(final, Completion) and "".join(deltas) == final.text and final.attempts == (("P1", "ok"),)


def test_complete_sync_inside_a_running_loop() -> None:
    fakes = {n: FakeProvider(n, lambda t, i, r: 0.001) for n in ("P1", "P2", "P3")}
    gw = Gateway.from_config(three_deployments(), providers=fakes)

    async def notebook_cell() -> Completion:  # Jupyter: a loop is already running here
        return gw.complete_sync(Request.from_prompt("hi"), MODEL)

    c = asyncio.run(notebook_cell())
    assert c.text == "P1:hi"
    assert gw.complete_sync(Request.from_prompt("again"), MODEL).deployment == "P2"


def test_warmup_and_check_fallbacks() -> None:
    class Warm(FakeProvider):
        async def warmup(self) -> None:
            if self.deployment == "P3":
                err = AuthError("HTTP 401", status=401)
                raise err

    async def main(loop: Any) -> Any:
        cfg = _two_models()
        fakes = {n: Warm(n) for n in ("P1", "P2", "P3")}
        fakes["Q1"] = FakeProvider("Q1", lambda t, i, r: ServerError("HTTP 500", status=500))
        gw = Gateway.from_config(cfg, providers=fakes, clock=loop.time)
        warm = await gw.warmup()
        report = await gw.diagnostics.check_fallbacks()
        return gw, warm, report

    gw, warm, report = run_virtual(main)
    assert Gateway.__mro__ == (Gateway, object)  # diagnostics are a composed object, not a mixin over its fields
    assert list(warm["ok"]) == [True, True, False, True] and gw.balancer.misconfigured() == {"P3": "HTTP 401 at warm-up"}
    assert list(report["model"]) == [MODEL, "claude-3-haiku"]
    assert list(report["ok"]) == [True, False] and not report["chain_ok"].any()
    assert "HTTP 500" in report.loc[1, "error"]


def test_secrets_are_scrubbed_from_unexpected_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-live-0123456789abcdef"
    monkeypatch.setenv("RL_SECRET", secret)
    cfg = three_deployments()
    cfg["models"][MODEL]["deployments"] = [{"name": "P1", "provider": "openai", "model": MODEL,
                                            "api_key_env": "RL_SECRET"}]

    class Broken(FakeProvider):
        async def complete(self, request: Request, model: str, *, timeout: float | None = None) -> Completion:
            raise RuntimeError(f"boom with Authorization: Bearer {secret}")

    async def main(loop: Any) -> Any:
        gw = Gateway.from_config(cfg, providers={"P1": Broken("P1")}, clock=loop.time)
        with pytest.raises(ProviderError) as info:
            await gw.complete(Request.from_prompt("q"), MODEL)
        return info.value

    exc = run_virtual(main)
    assert secret not in str(exc) and "***" in str(exc) and exc.__cause__ is None


# the real SDKs against the local server ----------------------------------------------------------------
def test_yaml_gateway_over_three_real_sdks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = pytest.importorskip("routerlab.server")
    from routerlab.errors import StreamInterrupted

    monkeypatch.setenv("RL_LOCAL_KEY", "local-key-123456")
    with server.ProviderServer(["P1", "P2", "P3"], latency_scale=0) as srv:
        path = tmp_path / "gateway.yaml"
        path.write_text(f"""
strategy: round-robin
retry: {{attempts: 3, timeout: 5}}
models:
  gpt-4o-mini:
    deployments:
      - {{name: P1, provider: openai, model: gpt-4o-mini, base_url: "{srv.base_url('P1', 'openai')}", api_key_env: RL_LOCAL_KEY}}
      - {{name: P2, provider: anthropic, model: gpt-4o-mini, base_url: "{srv.base_url('P2', 'anthropic')}", api_key_env: RL_LOCAL_KEY}}
      - {{name: P3, provider: groq, model: gpt-4o-mini, base_url: "{srv.base_url('P3', 'groq')}", api_key_env: RL_LOCAL_KEY}}
  claude-3-haiku:
    deployments:
      - {{name: Q1, provider: openai, model: claude-3-haiku, base_url: "{srv.base_url('P1', 'openai')}", api_key_env: RL_LOCAL_KEY}}
cache: {{directory: cache}}
""")
        gw = Gateway.from_config(path)
        assert gw.cache is not None and gw.cache.directory == str(tmp_path / "cache")
        prompt = "please repeat these seven words back to me"

        async def main() -> Any:
            warm = await gw.warmup()
            answers = [await gw.complete(Request.from_prompt(f"{prompt} {i}"), MODEL) for i in range(3)]
            items = [x async for x in gw.stream(Request.from_prompt(f"{prompt} streamed"), MODEL)]
            srv.set_faults("P1", cut_after=2)
            deltas, cut = [], None
            try:
                async for x in gw.stream(Request.from_prompt(f"{prompt} cut"), "claude-3-haiku"):
                    deltas.append(x)
            except StreamInterrupted as exc:
                cut = exc
            srv.clear_faults()
            again = await gw.complete(Request.from_prompt(f"{prompt} 0"), MODEL)
            await gw.aclose()
            return warm, answers, items, deltas, cut, again

        warm, answers, items, deltas, cut, again = asyncio.run(main())
        assert warm["ok"].all()
        assert [a.deployment for a in answers] == ["P1", "P2", "P3"]
        assert {a.provider for a in answers} == {"openai", "anthropic", "groq"}
        assert all(a.text.startswith("Echo: ") and a.input_tokens > 0 and a.output_tokens > 0 for a in answers)
        *stream_deltas, final = items
        assert isinstance(final, Completion) and "".join(stream_deltas) == final.text and len(stream_deltas) > 3
        assert len(deltas) == 2 and cut is not None and cut.tokens[1] >= 2  # no retry after text went out
        cut_calls = [r for r in srv.log("P1") if str(r["fault"]).startswith("cut_after")]
        assert len(cut_calls) == 1  # the cut stream reached the server once: no retry
        assert again.cached and again.text == answers[0].text
        spend = gw.spend("deployment").set_index("deployment")
        assert spend.loc["Q1", "failed_attempts"] == 1 and spend.loc["Q1", "output_tokens"] >= 2

        async def notebook_cell() -> Completion:  # inside a running loop, as in Jupyter
            return gw.complete_sync(Request.from_prompt(f"{prompt} sync"), MODEL)

        assert asyncio.run(notebook_cell()).text.startswith("Echo: ")


def test_a_stream_the_consumer_abandons_leaves_nothing_running() -> None:
    async def main(loop: Any) -> Any:
        gw, fakes = fake_gateway(loop, {}, three_deployments())
        agen = gw.stream(Request.from_prompt("s"), MODEL)
        first = await agen.__anext__()
        await agen.aclose()  # the consumer stops reading after one delta
        await asyncio.sleep(1)
        after = await gw.complete(Request.from_prompt("t"), MODEL)
        return gw, fakes, first, after

    gw, fakes, first, after = run_virtual(main)
    assert first == "w0 " and after.text == "P2:t"
    assert (gw.stats()["in_flight"] == 0).all() and all(f.in_flight == 0 for f in fakes.values())
    assert gw.balancer.breaker("P1").calls == 0  # a consumer leaving says nothing about the deployment
    assert gw.ledger.held() == 0.0


def test_a_cached_answer_streams_as_one_delta(tmp_path: Path) -> None:
    async def main(loop: Any) -> Any:
        gw, fakes = fake_gateway(loop, {}, three_deployments(extra={"cache": {"directory": str(tmp_path / "c")}}))
        first = await gw.complete(Request.from_prompt("cache me"), MODEL)
        items = [x async for x in gw.stream(Request.from_prompt("cache me"), MODEL)]
        return first, items, fakes

    first, items, fakes = run_virtual(main)
    assert items[:-1] == [first.text] and items[-1].cached and items[-1].attempts == (("cache:exact", "hit"),)
    assert sum(len(f.log) for f in fakes.values()) == 1
