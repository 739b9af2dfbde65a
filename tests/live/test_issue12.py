"""Issue 12 through the Gateway: every kind with the real openai, anthropic and groq clients against the local
server (streaming and not where it applies), and RELIABILITY.md's scenarios 11-15 (on a virtual clock where
the logic allows, and against the real server)."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest

from helpers import collect
from live_fakes import fake_gateway, run_virtual, three_deployments
from routerlab.catalog import Catalog
from routerlab.errors import (
    ConfigError,
    ContextTooLong,
    InvalidRequest,
    NotFound,
    Overloaded,
    ProviderError,
    RateLimited,
)
from routerlab.live import BudgetExceeded, Gateway
from routerlab.live.balancer import BreakerState
from routerlab.server import ProviderServer
from routerlab.types import Completion, Message, Request

pytestmark = pytest.mark.timeout(120)
MODEL = "gpt-4o-mini"
KEY = "local-issue12-key-0001"
KINDS = (("P1", "openai"), ("P2", "anthropic"), ("P3", "groq"))
BOTH = pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
ANSWER = " ".join(f"word{i}" for i in range(400))  # long: any max_tokens is reached


@pytest.fixture(scope="module")
def srv():
    with ProviderServer([n for n, _ in KINDS] + ["Q1"], latency_scale=0) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(srv, monkeypatch):
    monkeypatch.setenv("RL_I12_KEY", KEY)
    srv.clear_faults()
    srv.clear_log()
    yield


def config(srv, *, kinds=KINDS, strategy="round-robin", fallback=True, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "strategy": strategy, "seed": 1,
        "retry": {"attempts": 3, "timeout": 5.0, "backoff_base": 0.0, "backoff_cap": 0.0},
        "breaker": {"window": 20, "minimum_calls": 10, "failure_rate": 0.5, "open_duration": 30, "half_open_probes": 3},
        "models": {MODEL: {"deployments": [
            {"name": n, "provider": k, "model": MODEL, "base_url": srv.base_url(n, k), "api_key_env": "RL_I12_KEY"}
            for n, k in kinds]}},
    }
    if fallback:
        cfg["models"]["claude-3-haiku"] = {"deployments": [
            {"name": "Q1", "provider": "anthropic", "model": "claude-3-haiku", "base_url": srv.base_url("Q1", "anthropic"),
             "api_key_env": "RL_I12_KEY"}]}
        cfg["fallbacks"] = {MODEL: ["claude-3-haiku"]}
    cfg.update(extra)
    return cfg


async def ask(gw: Gateway, req: Request, model: str = MODEL, stream: bool = False) -> Completion:
    if not stream:
        return await gw.complete(req, model)
    deltas, final = await collect(gw.stream(req, model))
    assert final is not None and "".join(deltas) == final.text  # every token once
    return final


def run(gw: Gateway, reqs: list[Request], stream: bool = False, model: str = MODEL) -> tuple[list[Any], list[Any]]:
    async def main() -> Any:
        ok, bad = [], []
        for r in reqs:
            try:
                ok.append(await ask(gw, r, model, stream))
            except ProviderError as exc:
                bad.append(exc)
        await gw.aclose()
        return ok, bad

    return asyncio.run(main())


def stats(gw: Gateway) -> Any:
    return gw.stats().set_index("deployment")


# --- scenario 11 / kind 1: an overload inside a 200 stream ---------------------------------------------------
def test_s11_overload_event_before_any_text_is_retried_elsewhere_virtual() -> None:
    async def main(loop: Any) -> Any:
        over = lambda t, i, r: Overloaded("error event: Overloaded", status=200)  # noqa: E731
        gw, fakes = fake_gateway(loop, {"P1": over}, three_deployments("round-robin"))
        out = []
        for i in range(30):
            out.append(await ask(gw, Request.from_prompt(f"q{i}"), stream=True))
        return gw, out

    gw, out = run_virtual(main)
    assert len(out) == 30  # zero user-visible failures
    assert any(c.attempts[0] == ("P1", "overloaded") and c.attempts[-1][1] == "ok" for c in out)
    assert stats(gw).loc["P1", "failures"] >= 10 and gw.balancer.breaker("P1").openings >= 1  # counted against P1


@BOTH
def test_s11_real_anthropic_overloaded_event_in_a_200_stream(srv, stream):
    srv.set_faults("P2", stream_error="overloaded_error")  # P2 is the anthropic deployment
    gw = Gateway.from_config(config(srv, fallback=False))
    ok, bad = run(gw, [Request.from_prompt(f"hello {i}") for i in range(9)], stream=True)
    assert bad == [] and len(ok) == 9
    hit = [c for c in ok if c.attempts[0] == ("P2", "overloaded")]
    assert hit and all(c.deployment in ("P1", "P3") for c in hit)
    assert stats(gw).loc["P2", "failures"] == len(hit)


# --- scenario 12 / kind 2: deployment-scoped errors fail over ------------------------------------------------
S12 = [
    ("404", {"status": 404}, "not_found", True),
    ("401", {"status": 401}, "misconfigured", True),
    ("413-tpm", {"status": 413, "error_message": "Request too large for model on tokens per minute (TPM): Limit 6000, "
                 "Requested 7841", "error_type": "tokens", "error_code": "rate_limit_exceeded"}, "deployment_limit", False),
    ("429-tpm", {"status": 429, "error_message": "Rate limit reached on tokens per min (TPM): Limit 30000, Used 29000, "
                 "Requested 2000.", "error_type": "tokens", "error_code": "rate_limit_exceeded"}, "deployment_limit", False),
]


@pytest.mark.parametrize("name, fault, label, misconfigured", S12, ids=[s[0] for s in S12])
@BOTH
def test_s12_deployment_scoped_errors_fail_over_and_count(srv, name, fault, label, misconfigured, stream):
    srv.set_faults("P1", **fault)
    gw = Gateway.from_config(config(srv, kinds=KINDS[:2]))  # P1 (failing) and P2 (healthy), round-robin
    ok, bad = run(gw, [Request.from_prompt(f"hello {i}") for i in range(24)], stream=stream)
    assert bad == [] and {c.deployment for c in ok} == {"P2"}  # every request answered by P2
    assert ok[0].attempts == (("P1", label), ("P2", "ok"))  # not retried on P1, no backoff: straight to P2
    row = stats(gw).loc["P1"]
    assert row["failures"] >= 1 and not row["available"]  # counted unhealthy, out of rotation
    if misconfigured:
        assert row["misconfigured"] and len(srv.log("P1")) == 1  # at once, with a clear reason
    else:
        assert gw.balancer.breaker("P1").state is BreakerState.OPEN and len(srv.log("P1")) == 10


def test_s12_404_on_the_only_deployment_goes_to_the_fallback_model(srv, caplog):
    srv.set_faults("P1", status=404)
    gw = Gateway.from_config(config(srv, kinds=KINDS[:1]))
    with caplog.at_level(logging.WARNING, logger="routerlab.gateway"):
        ok, bad = run(gw, [Request.from_prompt("hello")] * 3)
    assert bad == [] and [c.deployment for c in ok] == ["Q1"] * 3 and len(srv.log("P1")) == 1
    assert "P1 is misconfigured" in caplog.text and "gateway.restore('P1')" in caplog.text


def test_kind2_404_took_half_the_requests_down_before():
    """The issue's example: P1 answers 404, P2 healthy, round-robin: 3 of 6 requests failed and P1 stayed in
    rotation with 0 failures. Now: 6 of 6 answered, P1 counted and out."""
    async def main(loop: Any) -> Any:
        gone = lambda t, i, r: NotFound("HTTP 404: the model does not exist", status=404)  # noqa: E731
        cfg = three_deployments("round-robin")
        cfg["models"][MODEL]["deployments"] = cfg["models"][MODEL]["deployments"][:2]
        gw, fakes = fake_gateway(loop, {"P1": gone}, cfg)
        return gw, [await gw.complete(Request.from_prompt(f"q{i}"), MODEL) for i in range(6)]

    gw, out = run_virtual(main)
    assert len(out) == 6 and stats(gw).loc["P1", "failures"] == 1 and stats(gw).loc["P1", "misconfigured"]


# --- scenario 13 / kind 3: a request that cannot be sent ------------------------------------------------
@BOTH
def test_s13_an_unsendable_request_is_the_callers_error_and_blames_no_deployment(srv, stream):
    gw = Gateway.from_config(config(srv))

    async def main() -> Any:
        with pytest.raises(InvalidRequest) as info:
            await ask(gw, Request.from_prompt("half an emoji \ud83d"), stream=stream)
        after = await ask(gw, Request.from_prompt("a good one"), stream=stream)
        await gw.aclose()
        return info.value, after

    err, after = asyncio.run(main())
    assert isinstance(err, ValueError) and "lone surrogate" in str(err) and "cannot be sent" in str(err)
    assert len(err.attempts) == 1 and err.attempts[0][1] == "invalid_request"  # raised at once, no retry
    assert all(srv.log(n) == [] or srv.log(n)[-1]["prompt_hash"] for n, _ in KINDS)
    assert sum(len(srv.log(n)) for n, _ in KINDS) == 1  # only the good request reached a provider
    assert (stats(gw)["failures"] == 0).all() and all(gw.balancer.breaker(n).calls <= 1 for n, _ in KINDS)
    assert after.attempts[-1][1] == "ok"


# --- scenario 14 / kind 7: absurd Retry-After values ---------------------------------------------------
@pytest.mark.parametrize("retry_after", [1e12, float("inf"), -5.0, float("nan")])
def test_s14_retry_after_is_clamped_virtual(retry_after) -> None:
    async def main(loop: Any) -> Any:
        def p1(t: float, i: int, r: Request) -> Any:
            return RateLimited("HTTP 429", status=429, retry_after=retry_after) if i == 0 else 0.1
        cfg = three_deployments("round-robin", extra={"retry": {"attempts": 3, "timeout": 2.0, "max_cooldown": 60}})
        gw, fakes = fake_gateway(loop, {"P1": p1}, cfg)
        out = [await gw.complete(Request.from_prompt(f"q{i}"), MODEL) for i in range(3)]
        until = gw.balancer.cooldown_until("P1")
        await asyncio.sleep(61)
        later = [await gw.complete(Request.from_prompt(f"r{i}"), MODEL) for i in range(3)]
        return gw, out, until, later, loop.time()

    gw, out, until, later, now = run_virtual(main)
    assert len(out) == 3 and len(later) == 3  # no exception escapes
    if retry_after > 0 and retry_after == retry_after:
        assert until is not None and until <= 60 + 1  # clamped to retry.max_cooldown
    else:
        assert until is None  # negative or NaN: ignored
    assert "P1" in {c.deployment for c in later}  # back in rotation


@pytest.mark.parametrize("raw", ["1e12", "inf", "-5", "garbage", "Wed, 21 Oct 2999 07:28:00 GMT"])
def test_s14_real_server_retry_after_garbage(srv, raw):
    srv.set_faults("P1", status=429, retry_after_raw=raw)
    cfg = config(srv, kinds=KINDS[:2], retry={"attempts": 3, "timeout": 5.0, "max_cooldown": 30})
    gw = Gateway.from_config(cfg)
    ok, bad = run(gw, [Request.from_prompt(f"q{i}") for i in range(4)])
    assert bad == [] and len(ok) == 4
    until = gw.balancer.cooldown_until("P1")
    assert until is None or until - gw.clock() <= 30  # clamped (or ignored when unparsable)
    assert "earliest" not in repr(gw.stats())  # stats render: no overflow anywhere


def test_s14_unavailable_report_survives_a_huge_cooldown() -> None:
    async def main(loop: Any) -> Any:
        limited = lambda t, i, r: RateLimited("HTTP 429", status=429, retry_after=1e300)  # noqa: E731
        cfg = three_deployments("round-robin", extra={"retry": {"attempts": 3, "timeout": 2.0, "max_cooldown": 1e9}})
        gw, _ = fake_gateway(loop, {n: limited for n in ("P1", "P2", "P3")}, cfg)
        with pytest.raises(RateLimited):
            await gw.complete(Request.from_prompt("a"), MODEL)
        with pytest.raises(ProviderError) as info:
            await gw.complete(Request.from_prompt("b"), MODEL)
        return info.value

    err = run_virtual(main)
    assert "earliest return" in str(err) and err.retry_after is not None  # no OverflowError


# --- scenario 15 / kind 6: budgets hold under concurrency --------------------------------------------------
def test_s15_budget_of_one_call_and_20_concurrent_requests_real(srv):
    req = Request.from_prompt("price me", max_tokens=150)
    spec = Catalog.default()["gpt-4o"]
    from routerlab.tokens import count_message_tokens

    one = spec.cost(count_message_tokens(req.messages_as_dicts()), 150)  # what one call costs: its estimate
    cfg = config(srv, kinds=KINDS[:1], fallback=False, budgets={"total": one, "on_exceeded": "refuse"})
    cfg["models"] = {"gpt-4o": {"deployments": [{"name": "P1", "provider": "openai", "model": "gpt-4o",
                                                 "base_url": srv.base_url("P1"), "api_key_env": "RL_I12_KEY"}]}}
    srv_answers = srv._answers
    srv._answers = lambda model, messages: ANSWER  # every answer runs to max_tokens
    try:
        gw = Gateway.from_config(cfg)

        async def main() -> Any:
            out = await asyncio.gather(*(gw.complete(req, "gpt-4o") for _ in range(20)), return_exceptions=True)
            await gw.aclose()
            return out

        out = asyncio.run(main())
    finally:
        srv._answers = srv_answers
    ok = [c for c in out if isinstance(c, Completion)]
    refused = [e for e in out if isinstance(e, BudgetExceeded)]
    assert len(ok) + len(refused) == 20 and len(ok) >= 1
    assert gw.total_spend <= one * (1 + 1e-9)  # <= cap + one call's estimate error (here: none)
    assert gw.total_spend == pytest.approx(sum(c.cost for c in ok))
    assert all(f"cap ${one:g}" in str(e) and "spend $" in str(e) for e in refused)
    assert len(srv.log("P1")) == len(ok)


def test_kind6_twenty_concurrent_calls_no_longer_spend_twenty_caps() -> None:
    """The issue's example: cap $0.002, 20 concurrent gpt-4o calls of ~$0.002 each spent 20x the cap."""
    async def main(loop: Any) -> Any:
        cfg = three_deployments("round-robin", extra={"budgets": {"total": 0.002}})
        cfg["models"] = {"gpt-4o": {"deployments": [{"name": n, "provider": "openai", "model": "gpt-4o"}
                                                    for n in ("P1", "P2", "P3")]}}
        gw, fakes = fake_gateway(loop, {}, cfg)
        for f in fakes.values():
            f.tokens, f.price = (10, 190), 0.002 / 200  # ~$0.002 a call, as priced by the provider
        req = Request.from_prompt("q", max_tokens=190)
        out = await asyncio.gather(*(gw.complete(req, "gpt-4o") for _ in range(20)), return_exceptions=True)
        return gw, out

    gw, out = run_virtual(main)
    ok = [c for c in out if isinstance(c, Completion)]
    assert len(ok) == 1 and gw.total_spend <= 0.002 + 1e-12
    assert all(isinstance(e, BudgetExceeded) and "within budget" in str(e) for e in out if e not in ok)


def test_kind6_reservations_are_released_when_calls_fail_or_are_cancelled() -> None:
    async def main(loop: Any) -> Any:
        from routerlab.errors import ServerError

        cfg = three_deployments("round-robin", extra={"budgets": {"total": 1.0}})
        gw, fakes = fake_gateway(loop, {"P1": lambda t, i, r: ServerError("HTTP 500", status=500),
                                        "P2": lambda t, i, r: 5.0}, cfg)
        await gw.complete(Request.from_prompt("a", max_tokens=10), MODEL)  # P1 fails, P2 (slow) answers
        task = asyncio.ensure_future(gw.complete(Request.from_prompt("b", max_tokens=10), MODEL))
        await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return gw

    gw = run_virtual(main)
    assert gw.ledger.held() == pytest.approx(0.0, abs=1e-12)  # nothing is held by calls that ended


# --- kind 7: configs that make no sense -------------------------------------------------------------------
@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["retry"].update(timeout=float("inf")), "retry.timeout: must be a finite number, got inf"),
    (lambda c: c["breaker"].update(open_duration=float("nan")), "breaker.open_duration: must be a finite number"),
    (lambda c: c["models"][MODEL]["deployments"][0].update(weight=float("inf")),
     r"deployments\[0\].weight: must be a finite number"),
    (lambda c: c["models"][MODEL]["deployments"][1].update(timeout=float("-inf")), r"deployments\[1\].timeout"),
    (lambda c: c["models"][MODEL]["deployments"][0].update(provider="opneai"),
     r"models.gpt-4o-mini.deployments\[0\].provider: 'opneai' is not a provider routerlab knows; did you mean "
     r"'openai'\? known providers: openai, gemini, openai-compatible, anthropic, groq"),
    (lambda c: c["retry"].update(max_cooldown=0), "retry.max_cooldown: must be a positive number"),
])
def test_kind7_config_rejects_infinite_values_and_unknown_providers(mutate, message) -> None:
    cfg = three_deployments()
    mutate(cfg)
    with pytest.raises(ConfigError, match=message):
        Gateway.from_config(cfg)


# --- kind 8: deployment compat settings through the gateway --------------------------------------------------
@BOTH
def test_kind8_compat_in_the_gateway_config_and_learned_at_run_time(srv, stream):
    srv.set_faults("P1", reject_params=["seed"])
    srv.set_faults("P3", reject_params=["seed"], reject_status=422, reject_style="pydantic")
    cfg = config(srv, kinds=(KINDS[0], KINDS[2]), fallback=False)
    cfg["models"][MODEL]["deployments"][0]["compat"] = {"drop_params": ["seed"]}
    gw = Gateway.from_config(cfg)
    ok, bad = run(gw, [Request.from_prompt(f"q{i}", seed=7) for i in range(6)], stream=stream)
    assert bad == [] and [c.deployment for c in ok] == ["P1", "P3"] * 3
    assert [r["status"] for r in srv.log("P1")] == [200] * 3  # told up front: never rejected
    assert [r["status"] for r in srv.log("P3")] == [422, 200, 200, 200]  # learned once, remembered
    assert all(c.attempts[-1][1] == "ok" and len(c.attempts) == 1 for c in ok)  # one attempt each


# --- kind 9: Anthropic's message shape through the gateway ------------------------------------------------
@BOTH
def test_kind9_system_only_request_to_an_anthropic_deployment(srv, stream):
    gw = Gateway.from_config(config(srv, kinds=(KINDS[1],), fallback=False))
    ok, bad = run(gw, [Request(messages=(Message("system", "Tell me a joke"),))], stream=stream)
    assert bad == [] and ok[0].text == "Echo: Tell me a joke"


# --- kind 1: context overflows in any server's words, and counted before sending ----------------------------
@BOTH
def test_kind1_llama_cpp_overflow_moves_to_a_larger_model(srv, stream):
    srv.set_faults("P1", status=400, error_message="the request exceeds the available context size, try increasing it",
                   error_type="exceed_context_size_error")
    cfg = config(srv, kinds=KINDS[:1], fallback=False)
    cfg["models"][MODEL]["deployments"][0]["provider"] = "openai-compatible"
    cfg["models"]["claude-3-haiku"] = {"deployments": [{"name": "Q1", "provider": "anthropic", "model": "claude-3-haiku",
                                                        "base_url": srv.base_url("Q1", "anthropic"),
                                                        "api_key_env": "RL_I12_KEY"}]}
    cfg["context_fallbacks"] = {MODEL: ["claude-3-haiku"]}
    gw = Gateway.from_config(cfg)
    ok, bad = run(gw, [Request.from_prompt("a long story")], stream=stream)
    assert bad == [] and ok[0].deployment == "Q1" and ok[0].attempts[0] == ("P1", "context_too_long")
    assert gw.balancer.breaker("P1").calls == 0  # not the deployment's fault


def test_kind1_a_prompt_known_not_to_fit_is_never_sent(srv):
    cfg = config(srv, kinds=KINDS[:1], context_windows={MODEL: 50})
    gw = Gateway.from_config(cfg)
    long = Request.from_prompt("many words " * 40)
    ok, bad = run(gw, [long, Request.from_prompt("short")])
    assert bad == [] and ok[0].deployment == "Q1" and ok[0].attempts[0] == (f"context:{MODEL}", "context_too_long")
    assert ok[1].deployment == "P1" and len(srv.log("P1")) == 1  # only the short one went to P1


def test_kind1_no_larger_model_says_so(srv):
    gw = Gateway.from_config(config(srv, kinds=KINDS[:1], fallback=False, context_windows={MODEL: 50}))
    ok, bad = run(gw, [Request.from_prompt("many words " * 40, max_tokens=10)])
    assert ok == [] and isinstance(bad[0], ContextTooLong)
    assert "+ max_tokens 10" in str(bad[0]) and "context window of 50 tokens" in str(bad[0])
    assert "no configured model has a larger context window" in str(bad[0]) and srv.log("P1") == []


# --- kind 4: cached tokens priced through the gateway, ledger and totals --------------------------------------
@BOTH
def test_kind4_cached_tokens_priced_in_completions_and_the_ledger(srv, stream):
    for n, _ in KINDS:
        srv.set_faults(n, cached_tokens=6)
    gw = Gateway.from_config(config(srv, fallback=False))
    ok, bad = run(gw, [Request.from_prompt(f"cache me {i}") for i in range(3)], stream=stream)
    spec = Catalog.default()[MODEL]
    assert bad == [] and all(c.cached_tokens == 6 for c in ok)
    for c in ok:
        assert c.cost == pytest.approx(spec.cost(c.input_tokens, c.output_tokens, cached_tokens=6))
    spend = gw.spend("deployment")
    assert spend["cached_tokens"].sum() == 18 and spend["cost"].sum() == pytest.approx(sum(c.cost for c in ok))


# --- kind 12: secrets stay wrapped -------------------------------------------------------------------------
def _plain_copies(root: Any, secret: str) -> list[str]:
    """Paths to plain ``str`` attributes holding ``secret`` in the object graph of ``root`` (SDK clients,
    which are allowed the key, and Secret wrappers are not entered)."""
    from routerlab.providers import Secret

    found, seen, todo = [], set(), [(root, "gateway")]
    while todo:
        obj, path = todo.pop()
        if id(obj) in seen or isinstance(obj, (Secret, type)) or type(obj).__module__.split(".")[0] in (
                "openai", "anthropic", "groq", "httpx", "httpx2", "logging", "asyncio", "threading", "pandas"):
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            if secret in obj:
                found.append(path)
            continue
        if isinstance(obj, dict):
            todo += [(v, f"{path}[{k!r}]") for k, v in obj.items()] + [(k, f"{path}.key") for k in obj]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo += [(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        else:
            attrs = dict(getattr(obj, "__dict__", {}))
            attrs.update({s: getattr(obj, s) for s in getattr(type(obj), "__slots__", ()) if hasattr(obj, s)})
            todo += [(v, f"{path}.{k}") for k, v in attrs.items()]
    return found


def test_kind12_no_object_holds_a_key_as_a_plain_string(srv, monkeypatch):
    secret = "sk-live-wrapped-0123456789abcdef"
    monkeypatch.setenv("RL_I12_KEY", secret)
    gw = Gateway.from_config(config(srv))
    ok, bad = run(gw, [Request.from_prompt("hello")])
    assert ok and not bad
    gc.collect()
    assert _plain_copies(gw, secret) == []
    assert secret not in repr(vars(gw)) and "_secrets" in vars(gw)
