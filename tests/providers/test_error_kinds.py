"""Issue 12 at the provider layer, through the real openai, anthropic and groq clients against the local server:
errors classified by what the provider says (body types, in-stream error events, context overflows in every
server's words, limits of a key), requests that cannot be sent, hosts that reject parameters, Anthropic's
message shape, and prompt-cache usage priced right."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from helpers import collect
from routerlab.catalog import Catalog
from routerlab.errors import (
    BadRequest,
    ContextTooLong,
    DeploymentLimit,
    InvalidRequest,
    NotFound,
    Overloaded,
    RateLimited,
    ServerError,
    StreamInterrupted,
)
from routerlab.providers import make_provider
from routerlab.providers.classify import classify, parse_retry_after
from routerlab.server import ProviderServer
from routerlab.types import Message, Request

pytestmark = pytest.mark.timeout(60)

KEY = "local-key-for-error-kinds"
SDKS = {"openai": ("P1", "gpt-4o-mini"), "anthropic": ("P2", "claude-3-haiku"), "groq": ("P3", "llama-3.1-8b")}
ALL3 = pytest.mark.parametrize("kind", list(SDKS))
BOTH = pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
ANSWER = "Paris is the capital of France and has been for a long time."
REQ = Request.from_prompt("Capital of France?")


@pytest.fixture(scope="module")
def srv():
    with ProviderServer(list(dict.fromkeys(d for d, _ in SDKS.values())), latency_scale=0,
                        answers={"Capital of France?": ANSWER}) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(srv, monkeypatch):
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY"):
        monkeypatch.setenv(var, KEY)
    srv.clear_faults()
    srv.clear_log()
    yield


def provider(srv, kind, **kw):
    dep, _ = SDKS[kind]
    return make_provider(kind, base_url=srv.base_url(dep, kind), deployment=dep, timeout=5.0, **kw)


async def _call(p, req, model, stream):
    return await collect(p.stream(req, model)) if stream else ([], await p.complete(req, model))


def call(srv, kind, stream=False, req=REQ, **kw):
    p = provider(srv, kind, **kw)
    return asyncio.run(_call(p, req, SDKS[kind][1], stream))


def raises(srv, kind, stream=False, req=REQ, **kw):
    with pytest.raises(Exception) as info:
        call(srv, kind, stream, req, **kw)
    return info.value


# --- kind 1: what the provider says decides -------------------------------------------------------
@ALL3
@pytest.mark.parametrize("etype, cls", [("overloaded_error", Overloaded), ("rate_limit_error", RateLimited),
                                        ("api_error", ServerError), ("server_error", ServerError)])
def test_an_error_event_inside_a_200_stream_is_classified_by_its_type(srv, kind, etype, cls):
    """Anthropic answers 200, then an SSE ``error`` event (OpenAI-style hosts a ``data: {"error"}`` chunk):
    before any text, it is an overload / rate limit / server error, retryable and held against the deployment."""
    srv.set_faults(SDKS[kind][0], stream_error=etype)
    err = raises(srv, kind, stream=True)
    assert type(err) is cls and err.kind.retry_same and err.kind.counts, (kind, etype, err)
    assert not isinstance(err, BadRequest)


@ALL3
def test_an_error_event_after_text_interrupts_the_stream_and_charges_it(srv, kind):
    srv.set_faults(SDKS[kind][0], stream_error="overloaded_error", stream_error_after=3)
    p = provider(srv, kind)
    seen: list[str] = []

    async def run():
        async for item in p.stream(REQ, SDKS[kind][1]):
            seen.append(item)

    with pytest.raises(StreamInterrupted) as info:
        asyncio.run(run())
    assert len(seen) == 3 and info.value.tokens[1] >= 3 and info.value.kind.counts


@ALL3
@BOTH
@pytest.mark.parametrize("status, etype, cls", [
    (400, "overloaded_error", Overloaded),  # a proxy's 400 whose body says overloaded: the body wins
    (500, "rate_limit_error", RateLimited),
    (403, "insufficient_quota", DeploymentLimit),
    (503, None, ServerError),
    (529, None, Overloaded),
])
def test_body_error_types_decide_the_kind(srv, kind, stream, status, etype, cls):
    srv.set_faults(SDKS[kind][0], status=status, error_type=etype)
    err = raises(srv, kind, stream)
    assert isinstance(err, cls) and err.status == status


SERVERS_OVERFLOW = [  # (server, status, body): context overflows in the words of each server
    ("llama.cpp", 400, {"error": {"code": 400, "message": "the request exceeds the available context size, try "
                                  "increasing it", "type": "exceed_context_size_error"}}),
    ("vLLM", 400, {"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you "
                   "requested 5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of "
                   "the messages or completion.", "type": "BadRequestError", "code": 400}),
    ("sglang", 400, {"object": "error", "message": "The input (140000 tokens) is longer than the model's context "
                     "length (131072 tokens).", "type": "BadRequestError"}),
    ("Ollama", 400, {"error": "the input length exceeds the context length"}),
    ("TGI", 422, {"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4031 "
                  "`inputs` tokens and 200 `max_new_tokens`", "error_type": "validation"}),
    ("Mistral", 400, {"object": "error", "message": "Prompt contains 40000 tokens and 0 draft tokens, too large for "
                      "model with 32768 maximum context length", "type": "invalid_request_error"}),
    ("Anthropic", 400, {"type": "error", "error": {"type": "invalid_request_error", "message": "input length and "
                        "`max_tokens` exceed context limit: 198000 + 4096 > 200000, decrease input length or "
                        "`max_tokens` and try again"}}),
    ("Gemini", 400, [{"error": {"code": 400, "message": "The input token count (1196265) exceeds the maximum number "
                                "of tokens allowed (1048575).", "status": "INVALID_ARGUMENT"}}]),
    ("xAI", 400, {"error": "This model's maximum prompt length is 131072 but the request contains 537812 tokens."}),
    ("Groq", 400, {"error": {"message": "Please reduce the length of the messages or completion.",
                             "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}),
]


@pytest.mark.parametrize("server, status, body", SERVERS_OVERFLOW, ids=[s for s, _, _ in SERVERS_OVERFLOW])
def test_context_overflows_of_every_server_are_context_too_long(server, status, body):
    err = classify(status, body)
    assert isinstance(err, ContextTooLong), (server, err)
    assert err.kind.context_fallback and not err.kind.counts


@pytest.mark.parametrize("status, body, cls", [
    (413, {"error": {"message": "Request too large for model `llama3-70b-8192` in organization `org_1` on tokens per "
                     "minute (TPM): Limit 6000, Requested 7841, please reduce your message size and try again.",
                     "type": "tokens", "code": "rate_limit_exceeded"}}, DeploymentLimit),
    (429, {"error": {"message": "Rate limit reached for gpt-4o in organization org-1 on tokens per min (TPM): Limit "
                     "30000, Used 29000, Requested 2000.", "type": "tokens", "code": "rate_limit_exceeded"}},
     DeploymentLimit),
    (429, {"error": {"message": "Rate limit reached for gpt-4o in organization org-1 on requests per min (RPM): "
                     "Limit 500, Used 500, Requested 1.", "type": "requests", "code": "rate_limit_exceeded"}},
     RateLimited),
    (429, {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                     "type": "insufficient_quota", "code": "insufficient_quota"}}, DeploymentLimit),
    (429, {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded "
                                      "your per-minute rate limit"}}, DeploymentLimit),
    (429, "ThrottlingException: Too many tokens, please wait before trying again.", DeploymentLimit),
    (413, {"type": "error", "error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}},
     DeploymentLimit),
    (404, {"error": {"message": "The model `gpt-5` does not exist or you do not have access to it.",
                     "type": "invalid_request_error", "code": "model_not_found"}}, NotFound),
    (400, {"error": {"message": "max_tokens is too large: 100000. This model supports at most 16384 completion "
                     "tokens, whereas you provided 100000.", "type": "invalid_request_error"}}, BadRequest),
    (503, "Service unavailable: too many tokens", ServerError),
    (429, [{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                      "status": "RESOURCE_EXHAUSTED"}}], RateLimited),
])
def test_limits_of_a_key_and_other_replies_are_not_overflows(status, body, cls):
    err = classify(status, body)
    assert type(err) is cls, (body, err)


@ALL3
@BOTH
def test_a_server_overflow_reply_through_the_sdks(srv, kind, stream):
    srv.set_faults(SDKS[kind][0], status=400, error_message="the request exceeds the available context size, try "
                   "increasing it", error_type="exceed_context_size_error")
    assert isinstance(raises(srv, kind, stream), ContextTooLong)


# --- kind 2: deployment-scoped replies ------------------------------------------------------------------
@ALL3
@BOTH
@pytest.mark.parametrize("status, message, etype, code, cls", [
    (404, None, None, None, NotFound),
    (413, "Request too large for model on tokens per minute (TPM): Limit 6000, Requested 7841", "tokens",
     "rate_limit_exceeded", DeploymentLimit),
    (401, None, None, None, None),
])
def test_deployment_scoped_replies_fail_over_not_retry(srv, kind, stream, status, message, etype, code, cls):
    srv.set_faults(SDKS[kind][0], status=status, error_message=message, error_type=etype, error_code=code)
    err = raises(srv, kind, stream)
    if cls is not None:
        assert type(err) is cls
    assert err.status == status
    assert not err.kind.retry_same and err.kind.other_deployment and err.kind.fallback_model and err.kind.counts


# --- kind 7: Retry-After values that make no sense ----------------------------------------------------
@pytest.mark.parametrize("raw, expected", [("1e12", 1e12), ("inf", float("inf")), ("-5", None), ("garbage", None),
                                           ("nan", None), ("7", 7.0)])
def test_retry_after_is_never_negative_or_nan(srv, raw, expected):
    assert parse_retry_after({"retry-after": raw}) == expected
    srv.set_faults("P1", status=429, retry_after_raw=raw)
    err = raises(srv, "openai")
    assert isinstance(err, RateLimited) and err.retry_after == expected


# --- kind 3: requests that cannot be sent -------------------------------------------------------------
@ALL3
@BOTH
@pytest.mark.parametrize("req, where", [
    (Request.from_prompt("a broken emoji \ud83d here"), "lone surrogate"),
    (Request.from_prompt("hi", top_p=float("nan")), "top_p: nan"),
    (Request.from_prompt("hi", max_tokens=-5), "max_tokens: -5 (must be a positive integer)"),
    (Request.from_prompt("hi", max_tokens=0), "max_tokens: 0"),
    (Request.from_prompt("hi", max_tokens=2.5), "max_tokens: 2.5"),
    (Request.from_prompt("hi", temperature="hot"), "temperature: 'hot' (must be a number >= 0)"),
    (Request.from_prompt("hi", temperature=-0.1), "temperature: -0.1"),
    (Request.from_prompt("hi", top_p=1.5), "top_p: 1.5"),
    (Request.from_prompt("hi", seed=True), "seed: True"),
    (Request(messages=(Message("user", "hi"),), tools="{not json"), "JSONDecodeError"),
])
def test_a_request_that_cannot_be_sent_is_the_callers_error(srv, kind, stream, req, where):
    err = raises(srv, kind, stream, req)
    assert isinstance(err, InvalidRequest) and isinstance(err, ValueError)
    assert where in str(err) and "cannot be sent" in str(err)
    assert err.kind.final and not err.kind.counts
    assert srv.log(SDKS[kind][0]) == []  # nothing reached the provider


@pytest.mark.parametrize("kind", ["openai", "groq"])
@BOTH
def test_a_parameter_the_sdk_rejects_locally_is_the_callers_error(srv, kind, stream):
    """Whatever an SDK refuses while building the request (here: a value its JSON encoder cannot write) is
    the caller's error, raised before any byte goes out, with the field named."""
    from routerlab.providers import provider_class

    class Odd(provider_class(kind)):  # type: ignore[misc,valid-type]
        def _params(self, request, spec):
            return {**super()._params(request, spec), "logit_bias": {1, 2}}  # a set: not JSON

    dep = SDKS[kind][0]
    p = Odd(base_url=srv.base_url(dep, kind), deployment=dep)
    with pytest.raises(InvalidRequest, match="logit_bias: a set cannot be sent as JSON"):
        asyncio.run(_call(p, REQ, SDKS[kind][1], stream))
    assert srv.log(dep) == []


# --- kind 8: hosts that reject parameters ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["openai", "groq"])
@BOTH
@pytest.mark.parametrize("style, status", [("openai", 400), ("pydantic", 422)])
def test_a_host_that_rejects_a_parameter_is_retried_once_without_it_and_remembered(srv, kind, stream, style, status,
                                                                                  caplog):
    dep = SDKS[kind][0]
    srv.set_faults(dep, reject_params=["seed"], reject_status=status, reject_style=style)
    p = provider(srv, kind)
    req = Request.from_prompt("Capital of France?", seed=42)
    with caplog.at_level(logging.WARNING, logger="routerlab.providers"):
        _, first = asyncio.run(_call(p, req, SDKS[kind][1], stream))
        _, second = asyncio.run(_call(p, req, SDKS[kind][1], stream))
    assert first.text == second.text == ANSWER
    statuses = [r["status"] for r in srv.log(dep)]
    assert statuses == [status, 200, 200]  # one rejected request, then never again: remembered
    assert p.compat.drop_params == ("seed",) and "rejects the parameter 'seed'" in caplog.text


def test_compat_settings_up_front_send_what_the_host_takes(srv):
    srv.set_faults("P1", reject_params=["seed", "max_tokens", "stream_options"])
    p = provider(srv, "openai", compat={"drop_params": ["seed"], "max_tokens_param": "max_completion_tokens",
                                        "stream_usage": False})
    req = Request.from_prompt("Capital of France?", seed=1, max_tokens=3)
    _, c = asyncio.run(_call(p, req, "gpt-4o-mini", False))
    deltas, s = asyncio.run(_call(p, req, "gpt-4o-mini", True))
    assert [r["status"] for r in srv.log("P1")] == [200, 200]  # nothing rejected
    assert c.finish_reason == "length" and c.output_tokens == 3  # max_completion_tokens was honoured
    assert s.output_tokens == 3 and "".join(deltas) == s.text  # usage counted locally without stream_options


@BOTH
def test_max_tokens_is_renamed_not_dropped_when_the_host_wants_the_other_name(srv, stream):
    srv.set_faults("P1", reject_params=["max_tokens"])
    p = provider(srv, "openai")
    _, c = asyncio.run(_call(p, Request.from_prompt("Capital of France?", max_tokens=4), "gpt-4o-mini", stream))
    assert c.output_tokens == 4 and p.compat.max_tokens_param == "max_completion_tokens"


def test_a_host_that_refuses_usage_options_on_streams(srv):
    srv.set_faults("P3", reject_params=["stream_options"])
    p = provider(srv, "groq")
    deltas, c = asyncio.run(_call(p, REQ, "llama-3.1-8b", True))
    assert "".join(deltas) == ANSWER and c.output_tokens > 0 and p.compat.stream_usage is False


def test_a_protected_parameter_is_never_dropped(srv):
    srv.set_faults("P1", reject_params=["messages"])
    err = raises(srv, "openai")
    assert isinstance(err, BadRequest) and len(srv.log("P1")) == 1


# --- kind 9: Anthropic's message shape ------------------------------------------------------------------
@BOTH
def test_a_system_only_request_is_sent_as_the_user_turn(srv, stream):
    req = Request(messages=(Message("system", "Capital of France?"),))
    _, c = call(srv, "anthropic", stream, req)
    assert c.text == ANSWER  # the server answers the text it saw as the user's turn


@pytest.mark.parametrize("messages, where", [
    ((Message("system", "be brief"), Message("assistant", "hello"), Message("user", "hi")), "first turn"),
    ((Message("user", "hi"), Message("tool", "result")), "messages[1].role: 'tool'"),
])
def test_a_conversation_anthropic_rejects_is_the_callers_error(srv, messages, where):
    err = raises(srv, "anthropic", False, Request(messages=messages))
    assert isinstance(err, InvalidRequest) and where in str(err) and srv.log("P2") == []


@pytest.mark.parametrize("kind, messages, text", [
    ("anthropic", [], "at least one message"),
    ("anthropic", [{"role": "assistant", "content": "hi"}], "first message must use the \"user\" role"),
    ("anthropic", [{"role": "system", "content": "hi"}], "Input should be 'user' or 'assistant'"),
    ("openai", [], "too short"),
    ("openai", [{"role": "robot", "content": "hi"}], "Invalid value: 'robot'"),
])
def test_the_local_server_rejects_what_the_real_apis_reject(srv, kind, messages, text):
    import anthropic
    import openai

    if kind == "anthropic":
        client: Any = anthropic.Anthropic(base_url=srv.base_url("P2", "anthropic"), api_key=KEY, max_retries=0)
        make = lambda: client.messages.create(model="claude-3-haiku-20240307", max_tokens=5, messages=messages)  # noqa: E731
        error = anthropic.BadRequestError
    else:
        client = openai.OpenAI(base_url=srv.base_url("P1"), api_key=KEY, max_retries=0)
        make = lambda: client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # noqa: E731
        error = openai.BadRequestError
    with pytest.raises(error, match=text.replace("(", r"\(")):
        make()


# --- kind 4: prompt caching priced right ----------------------------------------------------------------
@ALL3
@BOTH
def test_cached_and_cache_write_tokens_are_read_and_priced(srv, kind, stream):
    dep, model = SDKS[kind]
    srv.set_faults(dep, cached_tokens=8, cache_write_tokens=3)
    _, c = call(srv, kind, stream)
    rec = srv.log(dep)[-1]
    assert c.input_tokens == rec["input_tokens"] and c.cached_tokens == 8  # counted inside input_tokens
    spec = Catalog.default()[model]
    written = 3 if kind == "anthropic" else 0  # OpenAI-style usage has no cache-write field
    assert c.cache_write_tokens == written
    assert c.cost == pytest.approx(spec.cost(c.input_tokens, c.output_tokens, cached_tokens=8,
                                             cache_write_tokens=written))
    if spec.price.cached_input is not None:
        assert c.cost < spec.cost(c.input_tokens, c.output_tokens)


def test_the_issues_example_gpt_4o_mini_cached_prompt():
    spec = Catalog.default()["gpt-4o-mini"]
    assert spec.cost(2006, 300, cached_tokens=1920) == pytest.approx(0.0003369, abs=1e-12)
    assert spec.cost(2006, 300) == pytest.approx(0.0004809, abs=1e-12)


@pytest.mark.parametrize("usage, expected", [
    ({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 64}}, (64, 0)),  # OpenAI, Groq, Gemini
    ({"prompt_tokens": 100, "prompt_cache_hit_tokens": 40, "prompt_cache_miss_tokens": 60}, (40, 0)),  # DeepSeek
    ({"prompt_tokens": 100, "cached_tokens": 30}, (30, 0)),  # Moonshot
    ({"input_tokens": 10, "cache_read_input_tokens": 80, "cache_creation_input_tokens": 20}, (80, 20)),  # Anthropic
    ({"prompt_tokens": 100}, (0, 0)),
    ({"prompt_tokens": 100, "prompt_tokens_details": None}, (0, 0)),
])
def test_cache_fields_of_every_api(usage, expected):
    from routerlab.providers.base import cache_fields

    assert cache_fields(usage) == expected


def test_replay_prices_recorded_cache_tokens_like_the_catalog():
    import numpy as np
    import pandas as pd

    from routerlab.datasets import Dataset, Outcomes
    from routerlab.providers.replay import ReplayCaller

    prompts = pd.DataFrame({"prompt_id": ["a", "b"], "task": ["t", "t"], "prompt": ["x", "y"], "reference": ["", ""]})
    outcomes = pd.DataFrame({"prompt_id": ["a", "b", "a"], "model": ["gpt-4o-mini", "gpt-4o-mini", "claude-3-haiku"],
                             "response": ["1", "2", "3"], "input_tokens": [2006, 500, 1000],
                             "output_tokens": [300, 10, 20], "score": [1.0, 0.0, 1.0],
                             "cached_tokens": [1920, np.nan, 600], "cache_write_tokens": [0, 0, 100]})
    ds = Dataset("cached", prompts, Outcomes(outcomes))
    caller = ReplayCaller(ds, simulate_latency=False)
    single = [caller.complete_sync(ds.request(p), m) for p, m in (("a", "gpt-4o-mini"), ("b", "gpt-4o-mini"),
                                                                   ("a", "claude-3-haiku"))]
    many = caller.complete_many(["a", "b", "a"], ["gpt-4o-mini", "gpt-4o-mini", "claude-3-haiku"])
    assert single[0].cost == pytest.approx(0.0003369, abs=1e-12) and single[0].cached_tokens == 1920
    assert [c.cost for c in single] == list(many["cost"])  # identical floats, both paths
    haiku = Catalog.default()["claude-3-haiku"]
    assert single[2].cost == pytest.approx(haiku.cost(1000, 20, cached_tokens=600, cache_write_tokens=100))
