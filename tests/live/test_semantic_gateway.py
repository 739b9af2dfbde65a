"""The semantic cache through the Gateway, with the real openai / anthropic / groq SDKs against the local server.

Whether a request reached a provider is read from the server's own request log.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from routerlab._aio import run_sync
from routerlab.embeddings import HashingEmbedder
from routerlab.errors import ProviderError
from routerlab.live.cache import DEFAULT_THRESHOLD
from routerlab.live.gateway import Gateway
from routerlab.server import ProviderServer
from routerlab.types import Completion, Request

pytestmark = pytest.mark.timeout(120)
MODELS = {"gpt-4o-mini": ("oa", "openai"), "claude-3-haiku": ("an", "anthropic"), "llama-3.1-8b": ("gq", "groq")}
PARIS = "Paris is the capital of France, known for the Eiffel Tower, the Louvre and its cafés."
TOOLS = json.dumps([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}])


def _answers(model: str, messages: list[dict[str, Any]]) -> str | None:
    return PARIS if "paris" in str(messages[-1].get("content", "")).lower() else None  # else: "Echo: <prompt>"


@pytest.fixture(scope="module")
def srv() -> Iterator[ProviderServer]:
    with ProviderServer([d for d, _ in MODELS.values()], latency_scale=0, answers=_answers) as s:
        yield s


@pytest.fixture()
def gw(srv: ProviderServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    monkeypatch.setenv("RL_SEM_KEY", "local-key-123456")
    srv.clear_log()
    srv.clear_faults()
    g = Gateway.from_config({
        "retry": {"attempts": 1, "timeout": 10},
        "models": {m: [{"name": d, "provider": k, "model": m, "base_url": srv.base_url(d, k),
                        "api_key_env": "RL_SEM_KEY"}] for m, (d, k) in MODELS.items()},
        "cache": {"semantic": True},  # the default, measured threshold
    })
    yield g
    run_sync(g.aclose())


def upstream(srv: ProviderServer, model: str) -> int:
    return len(srv.log(MODELS[model][0]))


@pytest.mark.parametrize("model", list(MODELS))
def test_a_truncated_answer_is_never_served_for_a_larger_max_tokens(gw: Gateway, srv: ProviderServer,
                                                                     model: str) -> None:
    short = Request.from_prompt("Tell me about Paris", max_tokens=2)
    a = gw.complete_sync(short, model)
    assert a.finish_reason == "length" and a.output_tokens == 2 and not a.cached
    b = gw.complete_sync(short.with_(max_tokens=200), model)
    assert not b.cached and b.text == PARIS and b.finish_reason == "stop" and upstream(srv, model) == 2
    c = gw.complete_sync(Request.from_prompt("tell me about Paris.", max_tokens=200), model)
    assert c.cached and c.text == PARIS and c.attempts[0][0] == "cache:semantic" and upstream(srv, model) == 2
    d = gw.complete_sync(Request.from_prompt("tell me about paris", max_tokens=2), model)
    assert not d.cached and upstream(srv, model) == 3  # the truncation was never stored


@pytest.mark.parametrize("model", list(MODELS))
def test_stop_sequences_are_part_of_the_scope(gw: Gateway, srv: ProviderServer, model: str) -> None:
    cut = Request.from_prompt("Tell me about Paris", max_tokens=200, stop=(",",))
    a = gw.complete_sync(cut, model)
    assert a.text == "Paris is the capital of France" and a.finish_reason == "stop"
    b = gw.complete_sync(cut.with_(stop=None), model)
    assert not b.cached and b.text == PARIS and upstream(srv, model) == 2
    c = gw.complete_sync(Request.from_prompt("tell me about Paris.", max_tokens=200, stop=(",",)), model)
    assert c.cached and c.text == a.text and upstream(srv, model) == 2


@pytest.mark.parametrize("model", list(MODELS))
def test_seed_system_prompt_and_sampling_are_part_of_the_scope(gw: Gateway, srv: ProviderServer, model: str) -> None:
    base = Request.from_prompt("Tell me about Paris", system="Answer in one sentence.", max_tokens=100, seed=1)
    gw.complete_sync(base, model)
    variants = [base.with_(seed=2), base.with_(top_p=0.5),
                Request.from_prompt("Tell me about Paris", system="Answer in French.", max_tokens=100, seed=1),
                Request.from_prompt("Tell me about Paris", max_tokens=100, seed=1)]
    for i, r in enumerate(variants, start=2):
        assert not gw.complete_sync(r, model).cached and upstream(srv, model) == i, r
    again = gw.complete_sync(Request.from_prompt("tell me about Paris.", system="Answer in one sentence.",
                                                 max_tokens=100, seed=1), model)
    assert again.cached and upstream(srv, model) == len(variants) + 1
    hot = base.with_(temperature=0.7)  # sampling asks for a fresh answer every time
    assert not gw.complete_sync(hot, model).cached and not gw.complete_sync(hot, model).cached
    assert upstream(srv, model) == len(variants) + 3


def test_tools_and_response_format_are_part_of_the_scope(gw: Gateway, srv: ProviderServer) -> None:
    model = "gpt-4o-mini"
    base = Request.from_prompt("Tell me about Paris", max_tokens=100)
    gw.complete_sync(base, model)
    assert not gw.complete_sync(base.with_(tools=TOOLS), model).cached
    assert not gw.complete_sync(base.with_(response_format='{"type": "json_object"}'), model).cached
    assert upstream(srv, model) == 3
    assert gw.complete_sync(Request.from_prompt("tell me about paris", max_tokens=100, tools=TOOLS), model).cached


MEANING = [  # (first, then: similar above the default threshold, but another question)
    ("In two sentences, explain whether the old stone bridge over the river is safe to cross during a storm.",
     "In two sentences, explain whether the old stone bridge over the river is not safe to cross during a storm."),
    ("A train leaves the station at 3 pm travelling at 60 miles per hour. How far has it gone by 5 pm?",
     "A train leaves the station at 3 pm travelling at 80 miles per hour. How far has it gone by 5 pm?"),
    ("Write a short paragraph about the history of the capital of France and its most famous museums.",
     "Write a short paragraph about the history of the capital of Spain and its most famous museums."),
    ("In one paragraph, explain why interest rates usually increase when inflation is high in an economy.",
     "In one paragraph, explain why interest rates usually decrease when inflation is high in an economy."),
    ("Write a short paragraph about the history of the capital of France and its most famous museums.",
     "Write a short paragraph about the history of the population of France and its most famous museums."),
]


@pytest.mark.parametrize(("first", "then"), MEANING)
def test_similar_prompts_of_another_meaning_go_upstream(gw: Gateway, srv: ProviderServer, first: str,
                                                        then: str) -> None:
    e = HashingEmbedder()
    assert float(e.embed([first])[0] @ e.embed([then])[0]) >= DEFAULT_THRESHOLD  # the threshold alone would serve it
    model = "gpt-4o-mini"
    gw.complete_sync(Request.from_prompt(first, max_tokens=500), model)
    second = gw.complete_sync(Request.from_prompt(then, max_tokens=500), model)
    assert not second.cached and second.text == f"Echo: {then}" and upstream(srv, model) == 2
    assert gw.semantic_cache is not None and gw.semantic_cache.refused == 1
    paraphrase = gw.complete_sync(Request.from_prompt(first.lower().rstrip(".?"), max_tokens=500), model)
    assert paraphrase.cached and paraphrase.text == f"Echo: {first}" and upstream(srv, model) == 2


async def _collect(items: AsyncIterator[str | Completion]) -> list[str | Completion]:
    return [item async for item in items]


@pytest.mark.parametrize("model", list(MODELS))
def test_streams_store_only_whole_answers_and_hits_stream_back(gw: Gateway, srv: ProviderServer, model: str) -> None:
    short = run_sync(_collect(gw.stream(Request.from_prompt("Tell me about Paris", max_tokens=2), model)))
    assert isinstance(short[-1], Completion) and short[-1].finish_reason == "length"
    whole = run_sync(_collect(gw.stream(Request.from_prompt("Tell me about Paris", max_tokens=300), model)))
    assert isinstance(whole[-1], Completion) and "".join(x for x in whole if isinstance(x, str)) == PARIS
    assert upstream(srv, model) == 2
    hit = gw.complete_sync(Request.from_prompt("tell me about paris", max_tokens=300), model)
    assert hit.cached and hit.text == PARIS
    streamed_hit = run_sync(_collect(gw.stream(Request.from_prompt("Tell me about Paris.", max_tokens=300), model)))
    assert streamed_hit[0] == PARIS and isinstance(streamed_hit[-1], Completion) and streamed_hit[-1].cached
    again = run_sync(_collect(gw.stream(Request.from_prompt("tell me about Paris!", max_tokens=2), model)))
    assert not again[-1].cached and upstream(srv, model) == 3  # type: ignore[union-attr]


def test_errors_are_never_stored(gw: Gateway, srv: ProviderServer) -> None:
    model = "claude-3-haiku"
    srv.set_faults("an", status=500)
    with pytest.raises(ProviderError):
        gw.complete_sync(Request.from_prompt("Tell me about Paris", max_tokens=100), model)
    srv.clear_faults()
    ok = gw.complete_sync(Request.from_prompt("Tell me about Paris", max_tokens=100), model)
    assert not ok.cached and ok.text == PARIS and upstream(srv, model) == 2
    assert gw.semantic_cache is not None and len(gw.semantic_cache) == 1
