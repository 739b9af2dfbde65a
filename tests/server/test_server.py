"""The local provider server against the unmodified official SDKs (and raw HTTP), 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import anthropic
import groq
import httpx
import openai
import pytest

from routerlab.errors import ConfigError
from routerlab.tokens import count_message_tokens
from routerlab.server import Faults, ProviderServer, Window, answers_from_dataset, parse_fault
from routerlab.tokens import count_text

pytestmark = pytest.mark.timeout(60)

ANSWERS = {"What is 2+2?": "The answer is 4.", ("gpt-4o-mini-2024-07-18", "Who?"): "mini says hi"}
MSGS = [{"role": "user", "content": "What is 2+2?"}]
OPENAI_MODEL, CLAUDE_MODEL, GROQ_MODEL = "gpt-4o-mini-2024-07-18", "claude-3-haiku-20240307", "llama-3.1-8b-instant"


@pytest.fixture(scope="module")
def srv():
    with ProviderServer(["P1", "P2", "P3"], latency_scale=0, answers=ANSWERS, seed=1) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(request):
    if "srv" in request.fixturenames:
        s = request.getfixturevalue("srv")
        s.clear_faults()
        s.clear_log()
        s.set_api_key("*", None)
        s.reset_clock()
    yield


def oai(srv, dep="P1", **kw):
    return openai.OpenAI(base_url=srv.base_url(dep), api_key="k", max_retries=0, **kw)


# --- wire formats with the real SDKs ------------------------------------------------------------
def test_openai_sync_nonstream_usage_and_finish(srv):
    r = oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=MSGS)
    assert r.choices[0].message.content == "The answer is 4."
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens == count_message_tokens(MSGS)
    assert r.usage.completion_tokens == count_text("The answer is 4.")
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    # a (model, prompt) key beats the prompt key; unknown prompts are echoed
    r = oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "Who?"}])
    assert r.choices[0].message.content == "mini says hi"
    r = oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "zzz"}])
    assert r.choices[0].message.content == "Echo: zzz"


def test_openai_max_tokens_and_stop(srv):
    r = oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=MSGS, max_tokens=2)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 2
    r = oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=MSGS, max_completion_tokens=2)
    assert r.choices[0].finish_reason == "length"
    r = oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=MSGS, stop=[" is"])
    assert r.choices[0].message.content == "The answer" and r.choices[0].finish_reason == "stop"


def test_openai_sync_stream_with_usage(srv):
    chunks = list(oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=MSGS, stream=True,
                                                   stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The answer is 4."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == count_text(text)
    # without include_usage no usage chunk
    chunks = list(oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=MSGS, stream=True))
    assert all(c.usage is None for c in chunks)


def test_openai_async_both_modes(srv):
    async def go():
        async with openai.AsyncOpenAI(base_url=srv.base_url("P2"), api_key="k", max_retries=0) as c:
            r = await c.chat.completions.create(model=OPENAI_MODEL, messages=MSGS)
            s = await c.chat.completions.create(model=OPENAI_MODEL, messages=MSGS, stream=True,
                                                stream_options={"include_usage": True})
            parts = [ch async for ch in s]
            return r, parts
    r, parts = asyncio.run(go())
    assert r.choices[0].message.content == "".join(p.choices[0].delta.content or "" for p in parts if p.choices)
    assert parts[-1].usage.prompt_tokens == r.usage.prompt_tokens
    assert [x["deployment"] for x in srv.log("P2")] == ["P2", "P2"]


def test_anthropic_sync_and_async(srv):
    a = anthropic.Anthropic(base_url=srv.base_url("P1", "anthropic"), api_key="k", max_retries=0)
    r = a.messages.create(model=CLAUDE_MODEL, max_tokens=100, system="be brief", messages=MSGS)
    assert r.content[0].text == "The answer is 4." and r.stop_reason == "end_turn"
    assert r.usage.input_tokens == count_message_tokens([{"role": "system", "content": "be brief"}, *MSGS])
    assert r.usage.output_tokens == count_text("The answer is 4.")
    assert a.messages.create(model=CLAUDE_MODEL, max_tokens=2, messages=MSGS).stop_reason == "max_tokens"
    r = a.messages.create(model=CLAUDE_MODEL, max_tokens=50, messages=MSGS, stop_sequences=["4"])
    assert (r.stop_reason, r.stop_sequence, r.content[0].text) == ("stop_sequence", "4", "The answer is ")
    with a.messages.stream(model=CLAUDE_MODEL, max_tokens=100, messages=MSGS) as s:
        assert "".join(s.text_stream) == "The answer is 4."
        final = s.get_final_message()
    assert final.usage.output_tokens == count_text("The answer is 4.") and final.stop_reason == "end_turn"

    async def go():
        c = anthropic.AsyncAnthropic(base_url=srv.base_url("P1", "anthropic"), api_key="k", max_retries=0)
        r = await c.messages.create(model=CLAUDE_MODEL, max_tokens=100, messages=MSGS)
        events = [e.type async for e in await c.messages.create(model=CLAUDE_MODEL, max_tokens=100,
                                                                 messages=MSGS, stream=True)]
        await c.close()
        return r, events
    r, events = asyncio.run(go())
    assert r.content[0].text == "The answer is 4."
    assert events[0] == "message_start" and events[-1] == "message_stop" and "message_delta" in events


def test_groq_sync_and_async(srv):
    g = groq.Groq(base_url=srv.base_url("P3", "groq"), api_key="k", max_retries=0)
    r = g.chat.completions.create(model=GROQ_MODEL, messages=MSGS)
    assert r.choices[0].message.content == "The answer is 4." and r.usage.completion_tokens == 6
    chunks = list(g.chat.completions.create(model=GROQ_MODEL, messages=MSGS, stream=True,
                                            extra_body={"stream_options": {"include_usage": True}}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "The answer is 4."
    assert any(c.x_groq and c.x_groq.usage for c in chunks)  # real Groq's place for stream usage
    assert chunks[-1].usage.prompt_tokens == r.usage.prompt_tokens

    async def go():
        c = groq.AsyncGroq(base_url=srv.base_url("P3", "groq"), api_key="k", max_retries=0)
        r = await c.chat.completions.create(model=GROQ_MODEL, messages=MSGS)
        s = await c.chat.completions.create(model=GROQ_MODEL, messages=MSGS, stream=True)
        n = len([x async for x in s])
        await c.close()
        return r, n
    r, n = asyncio.run(go())
    assert r.choices[0].finish_reason == "stop" and n >= 3
    assert {x["path"] for x in srv.log("P3")} == {"/d/P3/openai/v1/chat/completions"}


# --- auth, bad input, routing -------------------------------------------------------------------
def test_auth_both_anthropic_styles_and_no_key_echo(srv):
    srv.set_api_key("P2", "sk-ant-right-KEY")
    url = srv.url + "/d/P2/v1/messages"
    body = {"model": CLAUDE_MODEL, "max_tokens": 10, "messages": MSGS}
    assert httpx.post(url, json=body, headers={"x-api-key": "sk-ant-right-KEY"}).status_code == 200
    assert httpx.post(url, json=body, headers={"authorization": "Bearer sk-ant-right-KEY"}).status_code == 200
    bad = httpx.post(url, json=body, headers={"x-api-key": "sk-ant-WRONG-canary"})
    assert bad.status_code == 401 and bad.json()["error"]["type"] == "authentication_error"
    assert "canary" not in bad.text and "right-KEY" not in bad.text
    bad = httpx.post(srv.url + "/d/P2/v1/chat/completions", json=body, headers={"authorization": "Bearer nope-canary"})
    assert bad.status_code == 401 and "canary" not in bad.text and bad.json()["error"]["code"] == "invalid_api_key"
    assert all("KEY" not in json.dumps(r) and "canary" not in json.dumps(r) for r in srv.log("P2"))


def test_malformed_request_body_gets_provider_400(srv):
    r = httpx.post(srv.url + "/d/P1/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(srv.url + "/d/P1/v1/messages", content=b"[1, 2", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["type"] == "error"
    r = httpx.post(srv.url + "/d/P1/v1/chat/completions", json={"model": "x"})
    assert r.status_code == 400
    assert [x["status"] for x in srv.log("P1")] == [400, 400, 400]


def test_unknown_deployment_and_default_route(srv):
    assert httpx.post(srv.url + "/d/P9/v1/chat/completions", json={"model": "m", "messages": MSGS}).status_code == 404
    r = httpx.post(srv.url + "/v1/chat/completions", json={"model": "m", "messages": MSGS})
    assert r.status_code == 200 and len(srv.log("P1")) == 1  # no prefix: the first deployment
    with pytest.raises(ConfigError, match="P9"):
        srv.log("P9")


# --- faults ---------------------------------------------------------------------------------------
def test_429_headers_and_error_body(srv):
    srv.set_faults("P1", status=429, retry_after=7)
    r = httpx.post(srv.base_url("P1") + "/chat/completions", json={"model": OPENAI_MODEL, "messages": MSGS})
    assert r.status_code == 429 and r.headers["retry-after"] == "7" and r.headers["retry-after-ms"] == "7000"
    srv.set_faults("P1", status=429, retry_after=1.5, retry_after_header="seconds")
    r = httpx.post(srv.url + "/d/P1/v1/messages", json={"model": CLAUDE_MODEL, "max_tokens": 5, "messages": MSGS})
    assert r.headers["retry-after"] == "2" and "retry-after-ms" not in r.headers
    assert r.json()["error"]["type"] == "rate_limit_error"
    with pytest.raises(openai.RateLimitError):
        oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=MSGS)
    assert [x["fault"] for x in srv.log("P1")] == ["status=429"] * 3


def test_context_errors_by_size_and_marker(srv):
    srv.set_faults("P1", context_limit=20, context_marker="<<HUGE>>")
    ok = oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=MSGS)
    assert ok.choices[0].message.content
    with pytest.raises(openai.BadRequestError) as e:
        oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "word " * 50}])
    assert e.value.code == "context_length_exceeded"
    a = anthropic.Anthropic(base_url=srv.base_url("P1", "anthropic"), api_key="k", max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        a.messages.create(model=CLAUDE_MODEL, max_tokens=5, messages=[{"role": "user", "content": "x <<HUGE>>"}])
    assert [x["fault"] for x in srv.log("P1")] == [None, "context_length", "context_length"]


def test_outage_window_with_injected_clock():
    now = [100.0]
    with ProviderServer(["P1"], latency_scale=0, clock=lambda: now[0]) as s:
        s.set_faults("P1", windows=[Window(10, 20, status=503, retry_after=3)])
        c = openai.OpenAI(base_url=s.base_url("P1"), api_key="k", max_retries=0)
        assert c.chat.completions.create(model=OPENAI_MODEL, messages=MSGS).choices
        now[0] = 115.0
        with pytest.raises(openai.InternalServerError) as e:
            c.chat.completions.create(model=OPENAI_MODEL, messages=MSGS)
        assert e.value.status_code == 503 and e.value.response.headers["retry-after"] == "3"
        now[0] = 120.0
        assert c.chat.completions.create(model=OPENAI_MODEL, messages=MSGS).choices
        assert [(r["t"], r["status"]) for r in s.log("P1")] == [(0.0, 200), (15.0, 503), (20.0, 200)]


def test_seeded_error_rate_is_reproducible():
    def run() -> list[int]:
        with ProviderServer(["P1"], latency_scale=0, seed=7, faults={"P1": {"error_rate": 0.5}}) as s:
            with httpx.Client() as c:
                for _ in range(30):
                    c.post(s.base_url("P1") + "/chat/completions", json={"model": "m", "messages": MSGS})
            return [r["status"] for r in s.log("P1")]
    first, second = run(), run()
    assert first == second and 5 < first.count(500) < 25 and set(first) == {200, 500}


def test_hang_is_released_when_the_client_gives_up(srv):
    srv.set_faults("P1", hang=30)
    t = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        oai(srv, timeout=0.3).chat.completions.create(model=OPENAI_MODEL, messages=MSGS)
    assert time.perf_counter() - t < 2
    deadline = time.time() + 3
    while srv.in_flight("P1") and time.time() < deadline:
        time.sleep(0.02)
    assert srv.in_flight("P1") == 0  # the server noticed the hang-up: no thread left sleeping
    assert srv.log("P1")[0]["fault"] == "hang" and srv.log("P1")[0]["done"]


def test_delay_and_latency_profile():
    with ProviderServer(["P1"], latency_scale=0.02, faults={"P1": Faults(delay=0.3)}) as s:
        c = openai.OpenAI(base_url=s.base_url("P1"), api_key="k", max_retries=0)
        c.chat.completions.create(model=OPENAI_MODEL, messages=MSGS)  # warm the client
        t = time.perf_counter()
        c.chat.completions.create(model=OPENAI_MODEL, messages=MSGS)
        assert 0.3 <= time.perf_counter() - t < 2
        assert s.log("P1")[-1]["fault"] == "delay"


def test_cut_stream_drops_connection_after_k_chunks(srv):
    srv.set_faults("P1", cut_after=2)
    got = []
    with pytest.raises((httpx.RemoteProtocolError, openai.APIError)):
        for ch in oai(srv).chat.completions.create(model=OPENAI_MODEL, messages=MSGS, stream=True):
            if ch.choices and ch.choices[0].delta.content:
                got.append(ch.choices[0].delta.content)
    assert got == ["The", " answer"]
    assert srv.log("P1")[0]["fault"] == "cut_after=2"


@pytest.mark.parametrize("mode", [True, "json"])
def test_malformed_reply(srv, mode):
    srv.set_faults("P1", malformed=mode)
    r = httpx.post(srv.base_url("P1") + "/chat/completions", json={"model": OPENAI_MODEL, "messages": MSGS})
    assert r.status_code == 200 and "choices" not in r.text


def test_runtime_fault_changes_are_thread_safe(srv):
    import threading

    stop = threading.Event()

    def flip():
        while not stop.is_set():
            srv.update_faults("P2", status=500)
            srv.update_faults("P2", status=None)

    t = threading.Thread(target=flip)
    t.start()
    try:
        with httpx.Client() as c:
            codes = {c.post(srv.base_url("P2") + "/chat/completions", json={"model": "m", "messages": MSGS}).status_code
                     for _ in range(40)}
    finally:
        stop.set()
        t.join()
    assert codes <= {200, 500} and len(srv.log("P2")) == 40


def test_fault_validation():
    with pytest.raises(ConfigError, match=r"faults: unknown field\(s\) \['stauts'\]; known fields: \[.*'status'"):
        Faults.from_dict({"stauts": 500})
    with pytest.raises(ConfigError):
        Window(0, 1, nope=1)
    with pytest.raises(ConfigError):
        Faults(error_rate=2)
    assert Faults(windows=[{"start": 0, "end": 5, "status": 503}]).at(1).status == 503
    assert Faults(windows=[{"start": 0, "end": 5, "status": 503}]).at(5).status is None


def test_parse_fault():
    assert parse_fault("P1:status=429,retry_after=7") == ("P1", {"status": 429, "retry_after": 7})
    assert parse_fault("P2:hang=5,start=1,end=2") == ("P2", {"windows": [{"start": 1, "end": 2, "hang": 5}]})
    assert parse_fault("*:context_marker=BIG") == ("*", {"context_marker": "BIG"})
    with pytest.raises(ConfigError):
        parse_fault("status=500")
    with pytest.raises(ConfigError):
        parse_fault("P1:bogus=1")


def test_request_log_records(srv):
    oai(srv, "P3").chat.completions.create(model=OPENAI_MODEL, messages=MSGS)
    srv.set_faults("P3", status=500)
    with pytest.raises(openai.InternalServerError):
        oai(srv, "P3").chat.completions.create(model=OPENAI_MODEL, messages=MSGS)
    log = srv.log("P3")
    assert [r["status"] for r in log] == [200, 500] and [r["fault"] for r in log] == [None, "status=500"]
    first = log[0]
    assert first["model"] == OPENAI_MODEL and first["api"] == "openai" and not first["stream"]
    assert first["prompt_hash"] == log[1]["prompt_hash"] and len(first["prompt_hash"]) == 16
    assert first["input_tokens"] == count_message_tokens(MSGS) and first["output_tokens"] == 6
    assert 0 <= first["t"] <= log[1]["t"] and first["done"]
    log[0]["status"] = 999  # a copy: the server's record is untouched
    assert srv.log("P3")[0]["status"] == 200


def test_answers_from_dataset_adapter():
    class Outcomes:
        def response(self, prompt_id, model):
            if model != "gpt-4o":
                raise KeyError(model)
            return f"recorded {prompt_id}"

    class DS:
        outcomes = Outcomes()

        def find_prompt(self, text):
            return "p-1" if text == "known" else None

    look = answers_from_dataset(DS())
    assert look("gpt-4o-2024-08-06", [{"role": "user", "content": "known"}]) == "recorded p-1"
    assert look("gpt-4o-mini", [{"role": "user", "content": "known"}]) is None
    assert look("gpt-4o", [{"role": "user", "content": "other"}]) is None


# --- concurrency and subprocess mode ---------------------------------------------------------------
@pytest.mark.timeout(60)
def test_200_concurrent_async_openai_requests(srv):
    async def go():
        async with openai.AsyncOpenAI(base_url=srv.base_url("P1"), api_key="k", max_retries=0, timeout=30) as c:
            calls = [c.chat.completions.with_raw_response.create(model=OPENAI_MODEL, messages=MSGS) for _ in range(200)]
            return await asyncio.gather(*calls, return_exceptions=True)
    srv.set_faults("P1", delay=0.2)  # hold them so that all 200 are open at once
    results = asyncio.run(go())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    assert [r.status_code for r in results] == [200] * 200
    assert len(srv.log("P1")) == 200


@pytest.mark.timeout(60)
def test_subprocess_mode_and_admin_api(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "routerlab.server", "--port", "0", "--deployments", "A,B", "--latency-scale", "0",
         "--fault", "A:status=503,retry_after=4", "--fault", "B:context_marker=BIG"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["deployments"] == ["A", "B"]
        base = info["url"]
        c = openai.OpenAI(base_url=f"{base}/d/A/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.InternalServerError) as e:
            c.chat.completions.create(model=OPENAI_MODEL, messages=MSGS)
        assert e.value.response.headers["retry-after"] == "4"
        admin = {"Authorization": f"Bearer {info['admin_token']}"}  # the token printed at start-up
        assert httpx.post(f"{base}/_admin/faults/A", json={}).status_code == 401
        assert httpx.post(f"{base}/_admin/faults/A", json={}, headers=admin).status_code == 200  # clear A's faults
        assert c.chat.completions.create(model=OPENAI_MODEL, messages=MSGS).choices[0].message.content
        log = httpx.get(f"{base}/_admin/log/A", headers=admin).json()
        assert [r["status"] for r in log] == [503, 200]
        b = anthropic.Anthropic(base_url=f"{base}/d/B", api_key="k", max_retries=0)
        with pytest.raises(anthropic.BadRequestError):
            b.messages.create(model=CLAUDE_MODEL, max_tokens=5, messages=[{"role": "user", "content": "BIG"}])
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_serve_main_rejects_bad_flags(capsys):
    from routerlab.server import serve_main

    assert serve_main(["--port", "0", "--fault", "P1:nope=1"]) == 2
    assert "nope" in capsys.readouterr().err
