"""Provider adapters over the real SDKs against the local server: results, streams, error mapping, keys."""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
import sys
import time

import pytest

from routerlab.catalog import Catalog
from routerlab.errors import (
    AuthError,
    BadRequest,
    ConfigError,
    ConnectionFailed,
    ContextTooLong,
    MalformedResponse,
    NotFound,
    ProviderError,
    RateLimited,
    ServerError,
    StreamInterrupted,
    Timeout,
    UnknownModelError,
)
from routerlab.providers import (
    Provider,
    ProviderConfig,
    Secret,
    collect_stream,
    error_from_status,
    make_provider,
    normalize_finish_reason,
    parse_retry_after,
    provider_kinds,
    run_sync,
)
from routerlab.server import ProviderServer
from routerlab.tokens import count_text
from routerlab.types import Completion, Request

pytestmark = pytest.mark.timeout(60)

CANARY = "sk-CANARY-7f3a9c1e5b2d4f6a8c0e"
ENV = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "GEMINI_API_KEY", "OPENAI_COMPATIBLE_API_KEY"}
KINDS = {  # kind -> (deployment, catalog model)
    "openai": ("P1", "gpt-4o-mini"),
    "anthropic": ("P2", "claude-3-haiku"),
    "groq": ("P3", "llama-3.1-8b"),
    "gemini": ("P1", "gemini-1.5-flash"),
    "openai-compatible": ("P1", "gemma-2-2b"),
}
ANSWER = "The answer is 4 because two and two make four."
REQ = Request.from_prompt("What is 2+2?", system="Answer briefly.")


@pytest.fixture(scope="module")
def srv():
    with ProviderServer(["P1", "P2", "P3"], latency_scale=0, answers={"What is 2+2?": ANSWER}) as s:
        yield s


@pytest.fixture(autouse=True)
def _keys(monkeypatch, request):
    for var in ENV:
        monkeypatch.setenv(var, CANARY)
    if "srv" in request.fixturenames:
        s = request.getfixturevalue("srv")
        s.clear_faults()
        s.clear_log()
        s.set_api_key("*", None)
    yield


def build(srv, kind, timeout=5.0, **kw):
    dep, _ = KINDS[kind]
    return make_provider(kind, base_url=srv.base_url(dep, kind), deployment=dep, timeout=timeout, **kw)


async def drain(provider, request, model, timeout=None):
    deltas, final = [], None
    async for item in provider.stream(request, model, timeout=timeout):
        if isinstance(item, Completion):
            final = item
        else:
            deltas.append(item)
    return deltas, final


# --- happy path -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
def test_complete_maps_text_usage_cost_and_names(srv, kind):
    p = build(srv, kind)
    dep, model = KINDS[kind]
    c = asyncio.run(p.complete(REQ, model))
    spec = Catalog.default()[model]
    rec = srv.log(dep)[-1]
    assert c.text == ANSWER and c.finish_reason == "stop"
    assert (c.model, c.provider, c.deployment) == (model, kind, dep)
    assert (c.input_tokens, c.output_tokens) == (rec["input_tokens"], rec["output_tokens"]) == (c.input_tokens, count_text(ANSWER))
    assert c.cost == pytest.approx(spec.cost(c.input_tokens, c.output_tokens)) and c.cost > 0
    assert c.latency > 0 and not c.simulated_latency and not c.cached
    assert rec["model"] == spec.api_name  # the provider's model name goes on the wire


@pytest.mark.parametrize("kind", ["openai", "anthropic", "groq"])
def test_stream_yields_deltas_then_completion(srv, kind):
    p = build(srv, kind)
    dep, model = KINDS[kind]
    deltas, final = asyncio.run(drain(p, REQ, model))
    assert len(deltas) > 3 and "".join(deltas) == final.text == ANSWER
    assert final.output_tokens == count_text(ANSWER) and final.input_tokens == srv.log(dep)[-1]["input_tokens"]
    assert 0 < final.ttft <= final.latency and final.finish_reason == "stop"
    assert srv.log(dep)[-1]["stream"]


@pytest.mark.parametrize("kind", ["openai", "anthropic", "groq"])
def test_length_stop_reason_is_normalised(srv, kind):
    p = build(srv, kind)
    req = REQ.with_(max_tokens=3)
    c = asyncio.run(p.complete(req, KINDS[kind][1]))
    assert (c.finish_reason, c.output_tokens) == ("length", 3)
    _, final = asyncio.run(drain(p, req, KINDS[kind][1]))
    assert final.finish_reason == "length" and final.output_tokens == 3


def test_ttft_is_measured_for_real():
    with ProviderServer(["P1"], latency_scale=0.5, answers={"What is 2+2?": ANSWER}) as s:
        p = make_provider("openai", base_url=s.base_url("P1"), deployment="P1")
        _, final = asyncio.run(drain(p, REQ, "gpt-4o-mini"))
        assert final.ttft >= 0.02 and final.latency > final.ttft  # the server slept a real ttft


def test_sync_wrapper_and_one_client_per_loop(srv):
    p = build(srv, "openai")
    a = p.complete_sync(REQ, "gpt-4o-mini")
    b = p.complete_sync(REQ, "gpt-4o-mini")  # a second asyncio.run loop: a fresh client, no loop error
    assert a.text == b.text == ANSWER

    async def inside_running_loop():
        return run_sync(p.complete(REQ, "gpt-4o-mini"))  # as in Jupyter: worker thread's own loop
    assert asyncio.run(inside_running_loop()).text == ANSWER

    async def two_calls():
        await p.complete(REQ, "gpt-4o-mini")
        first = p._client()
        await p.complete(REQ, "gpt-4o-mini")
        assert p._client() is first
        await p.aclose()
    asyncio.run(two_calls())


def test_collect_stream(srv):
    p = build(srv, "anthropic")
    seen = []
    final = asyncio.run(collect_stream(p.stream(REQ, "claude-3-haiku"), seen.append))
    assert "".join(seen) == final.text == ANSWER


def test_protocol_and_factory(srv):
    p = build(srv, "groq")
    assert isinstance(p, Provider)
    assert set(provider_kinds()) == set(KINDS)
    cfg = ProviderConfig.from_dict({"kind": "anthropic", "base_url": srv.base_url("P2", "anthropic"),
                                    "deployment": "P2", "timeout": 3})
    assert cfg.build().deployment == "P2" and cfg.to_dict()["kind"] == "anthropic"
    with pytest.raises(ConfigError, match="unknown provider kind"):
        make_provider("cohere")
    with pytest.raises(ConfigError, match="unknown fields"):
        ProviderConfig.from_dict({"kind": "openai", "api_key": CANARY})
    with pytest.raises(ConfigError, match="base_url"):
        make_provider("openai-compatible")
    with pytest.raises(UnknownModelError):
        asyncio.run(p.complete(REQ, "no-such-model"))


# --- keys -----------------------------------------------------------------------------------------
def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("GROQ_API_KEY")
    with pytest.raises(ConfigError, match="GROQ_API_KEY"):
        make_provider("groq")
    with pytest.raises(ConfigError, match="MY_KEY_VAR"):
        make_provider("openai", api_key_env="MY_KEY_VAR")


def test_missing_sdk_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "anthropic", None)
    with pytest.raises(ConfigError, match="pip install anthropic"):
        make_provider("anthropic")


def test_key_never_in_repr_or_pickle(srv):
    p = build(srv, "openai")
    assert CANARY not in repr(p) and CANARY not in str(vars(p))
    assert repr(Secret(CANARY, env="X")) == "Secret(env='X')"
    with pytest.raises(TypeError):
        pickle.dumps(Secret(CANARY, env="X"))
    assert Secret(CANARY, env="X").redact(f"bad key {CANARY[:12]}...{CANARY[-8:]}") == "bad key ***...***"


# --- error mapping --------------------------------------------------------------------------------
def call(p, model, stream=False, timeout=None, request=REQ):
    async def go():
        if stream:
            return await drain(p, request, model, timeout)
        return await p.complete(request, model, timeout=timeout)
    return asyncio.run(go())


ALL3 = pytest.mark.parametrize("kind", ["openai", "anthropic", "groq"])
BOTH = pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])


@ALL3
@BOTH
def test_429_retry_after(srv, kind, stream):
    dep, model = KINDS[kind]
    srv.set_faults(dep, status=429, retry_after=7)
    with pytest.raises(RateLimited) as e:
        call(build(srv, kind), model, stream)
    assert e.value.retry_after == 7 and e.value.status == 429 and e.value.deployment == dep
    srv.set_faults(dep, status=429, retry_after=0.25, retry_after_header="ms")
    with pytest.raises(RateLimited) as e:
        call(build(srv, kind), model, stream)
    assert e.value.retry_after == 0.25


@ALL3
@BOTH
@pytest.mark.parametrize("status", [500, 503, 529])
def test_5xx_is_server_error(srv, kind, stream, status):
    dep, model = KINDS[kind]
    srv.set_faults(dep, status=status)
    with pytest.raises(ServerError) as e:
        call(build(srv, kind), model, stream)
    assert e.value.status == status and e.value.retryable and e.value.counts_as_failure


@ALL3
@BOTH
def test_hang_times_out_within_the_deadline(srv, kind, stream):
    dep, model = KINDS[kind]
    p = build(srv, kind, timeout=30)
    p._sdk  # noqa: B018
    srv.set_faults(dep, hang=20)
    t = time.perf_counter()
    with pytest.raises(Timeout) as e:
        call(p, model, stream, timeout=0.4)
    assert 0.35 <= time.perf_counter() - t < 1.5
    assert e.value.deployment == dep


@ALL3
@BOTH
def test_context_too_long(srv, kind, stream):
    dep, model = KINDS[kind]
    srv.set_faults(dep, context_marker="<<BIG>>")
    with pytest.raises(ContextTooLong) as e:
        call(build(srv, kind), model, stream, request=Request.from_prompt("lots <<BIG>>"))
    assert e.value.status == 400 and not e.value.counts_as_failure and not e.value.retryable


def test_other_400_is_bad_request(srv):
    srv.set_faults("P1", status=400)
    with pytest.raises(BadRequest) as e:
        call(build(srv, "openai"), "gpt-4o-mini")
    assert type(e.value) is BadRequest


@ALL3
@BOTH
def test_auth_error_without_the_key(srv, kind, stream):
    dep, model = KINDS[kind]
    srv.set_api_key(dep, "the-right-key")
    with pytest.raises(AuthError) as e:
        call(build(srv, kind), model, stream)
    assert e.value.status == 401 and CANARY not in str(e.value) and CANARY not in repr(e.value)
    assert e.value.__context__ is None and e.value.__cause__ is None  # no SDK exception (with headers) chained


@ALL3
@BOTH
@pytest.mark.parametrize("mode", [True, "json"])
def test_malformed_body(srv, kind, stream, mode):
    dep, model = KINDS[kind]
    srv.set_faults(dep, malformed=mode)
    with pytest.raises(MalformedResponse):
        call(build(srv, kind), model, stream)


@ALL3
def test_cut_stream_is_interrupted_with_partial_tokens(srv, kind):
    dep, model = KINDS[kind]
    srv.set_faults(dep, cut_after=3)
    p = build(srv, kind)
    seen: list[str] = []

    async def go():
        async for item in p.stream(REQ, model):
            seen.append(item)
    with pytest.raises(StreamInterrupted) as e:
        asyncio.run(go())
    assert len(seen) == 3 and all(isinstance(s, str) for s in seen)
    n_in, n_out = e.value.tokens
    assert n_in == srv.log(dep)[-1]["input_tokens"] and n_out == count_text("".join(seen)) > 0
    assert not e.value.retryable and e.value.deployment == dep


def test_connection_refused_is_connection_failed():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = make_provider("openai", base_url=f"http://127.0.0.1:{port}/v1", deployment="gone", timeout=2)
    with pytest.raises(ConnectionFailed) as e:
        call(p, "gpt-4o")
    assert e.value.deployment == "gone" and CANARY not in str(e.value)
    with pytest.raises(ConnectionFailed):
        call(p, "gpt-4o", stream=True)


def test_canary_key_appears_nowhere(srv, caplog):
    """Every failure type, every SDK: the key is in no message, repr, log line or server record."""
    caplog.set_level(logging.DEBUG)
    faults = [dict(status=429, retry_after=1), dict(status=500), dict(hang=5), dict(context_marker="What"),
              dict(malformed=True), dict(cut_after=1), dict(auth_fail=True)]
    texts = []
    for kind in ("openai", "anthropic", "groq"):
        dep, model = KINDS[kind]
        p = build(srv, kind, timeout=0.3)
        texts.append(repr(p))
        for f in faults:
            srv.set_faults(dep, **f)
            for stream in (False, True) if "cut_after" not in f else (True,):  # cuts are stream faults
                try:
                    call(p, model, stream)
                except ProviderError as exc:
                    texts += [str(exc), repr(exc), repr(exc.args), str(vars(exc))]
                else:
                    texts.append("no error")
        texts += [repr(r) for r in srv.log(dep)]
    texts.append(caplog.text)
    assert all(CANARY not in t and CANARY[:12] not in t for t in texts)
    assert "no error" not in texts


# --- helpers --------------------------------------------------------------------------------------
def test_helpers():
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after(None) is None
    assert isinstance(error_from_status(413, "prompt is too long"), ContextTooLong)
    assert isinstance(error_from_status(404, "model not found"), NotFound)  # deployment-scoped: fails over
    assert isinstance(error_from_status(422, "bad field"), BadRequest)
    assert isinstance(error_from_status(403, "forbidden"), AuthError)
    assert isinstance(error_from_status(408, "request timeout"), Timeout)
    assert normalize_finish_reason("tool_use") == "tool_calls" and normalize_finish_reason(None) is None


@ALL3
def test_warmup_lists_models_and_reports_auth(srv, kind):
    dep, _ = KINDS[kind]
    p = build(srv, kind)
    asyncio.run(p.warmup())
    srv.set_api_key(dep, "another-key")
    with pytest.raises(AuthError) as e:
        asyncio.run(p.warmup())
    assert e.value.status == 401 and CANARY not in str(e.value)
    assert srv.log(dep) == []  # health checks are not completion requests


def test_stream_deadline_never_cancels_the_consumer(srv):
    """The deadline guards each pull from the SDK, not the consumer's own awaits between items."""
    from routerlab.providers.openai import OpenAIProvider

    class Trickle(OpenAIProvider):
        async def _stream(self, request, spec, timeout, state):
            for word in ANSWER.split():
                await asyncio.sleep(0.1)
                yield word + " "
            state.finish = "stop"

    p = Trickle(base_url=srv.base_url("P1"), deployment="P1")
    seen: list[str] = []

    async def slow_consumer():
        async for item in p.stream(REQ, "gpt-4o-mini", timeout=0.5):
            seen.append(item)
            await asyncio.sleep(0.15)  # with a timeout held across yields, this await would be cancelled
    with pytest.raises(StreamInterrupted) as e:
        asyncio.run(slow_consumer())
    assert 1 <= len(seen) < len(ANSWER.split()) and e.value.tokens[1] == count_text("".join(seen))


def test_abandoned_stream_releases_the_connection(srv):
    p = build(srv, "anthropic")

    async def first_only():
        async for item in p.stream(REQ, "claude-3-haiku"):
            return item
    assert asyncio.run(first_only()) == "The"
    c = asyncio.run(p.complete(REQ, "claude-3-haiku"))  # the provider keeps working afterwards
    assert c.text == ANSWER
