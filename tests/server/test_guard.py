"""`routerlab serve` hardened (issue 12 kind 11, RELIABILITY.md scenario 17): body limits in bounded memory,
the admin token, Host / Origin checks, malformed Content-Length, 127.0.0.1 only.

Memory is measured on a real subprocess server (``/proc/<pid>/status`` VmHWM, the peak resident set).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import groq
import httpx
import openai
import pytest

from routerlab.errors import ConfigError
from routerlab.server import ProviderServer
from routerlab.server.guard import DEFAULT_MAX_BODY, parse_size

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]
MSGS = [{"role": "user", "content": "What is 2+2?"}]
OPENAI_MODEL, CLAUDE_MODEL, GROQ_MODEL = "gpt-4o-mini-2024-07-18", "claude-3-haiku-20240307", "llama-3.1-8b-instant"
BODY = json.dumps({"model": OPENAI_MODEL, "messages": MSGS}).encode()


# --- helpers ------------------------------------------------------------------------------------------
def raw(port: int, data: bytes, *, half_close: bool = False,
        timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (no client fixes them up); the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while b"\r\n\r\n" not in out:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        head, _, rest = out.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(lines[0].split()[1]), headers, rest


def post(path: str, body: bytes = BODY, *, host: str = "127.0.0.1", extra: str = "",
         length: str | None = None) -> bytes:
    """A raw POST; ``length`` overrides the Content-Length value ("" leaves the header out)."""
    cl = f"Content-Length: {len(body) if length is None else length}\r\n" if length != "" else ""
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{cl}{extra}\r\n"
    return head.encode() + body


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


class Served:
    """``python -m routerlab.server`` in a subprocess: its start-up line, port, pid and stderr."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "routerlab.server", "--port", "0", "--latency-scale", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise AssertionError(f"server did not start: {self.proc.communicate(timeout=10)[1]}")
        self.info: dict[str, Any] = json.loads(line)
        self.port: int = self.info["port"]
        self.url: str = self.info["url"]

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0
        return err


@pytest.fixture(scope="module")
def srv() -> Iterator[ProviderServer]:
    with ProviderServer(["P1", "P2"], latency_scale=0, max_body=64 * 1024,
                        admin_token="test-admin-token-123") as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> None:
    if "srv" in request.fixturenames:
        s = request.getfixturevalue("srv")
        s.clear_faults()
        s.clear_log()


# --- scenario 17 on a real subprocess ---------------------------------------------------------------
def _upload(port: int, size: int, out: dict[str, Any]) -> None:
    """POST ``size`` bytes (announced by Content-Length) 1 MB at a time, the way a big prompt arrives."""
    def chunks() -> Iterator[bytes]:
        block = b"x" * 1_000_000
        for _ in range(size // len(block)):
            time.sleep(0.005)  # ~1 s in all: long enough for other clients to come and go meanwhile
            yield block
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/d/P1/v1/chat/completions", body=chunks(),
                     headers={"Content-Length": str(size), "Content-Type": "application/json"})
        r = conn.getresponse()
        out.update(status=r.status, body=json.loads(r.read()), headers=dict(r.getheaders()))
    except Exception as exc:  # noqa: BLE001 - recorded for the assertion
        out["error"] = repr(exc)
    finally:
        conn.close()


@pytest.mark.slow
def test_scenario_17_big_body_bad_length_cross_origin_admin_foreign_host() -> None:
    srv = Served("--deployments", "P1,P2")
    try:
        client = openai.OpenAI(base_url=f"{srv.url}/d/P2/v1", api_key="k", max_retries=0, timeout=30)
        assert client.chat.completions.create(model=OPENAI_MODEL, messages=MSGS).choices[0].message.content
        before = peak_rss_kb(srv.proc.pid)

        # a 200 MB body → 413 in OpenAI's error shape; other clients are served meanwhile
        result: dict[str, Any] = {}
        upload = threading.Thread(target=_upload, args=(srv.port, 200_000_000, result))
        upload.start()
        during = 0
        while upload.is_alive():
            assert client.chat.completions.create(model=OPENAI_MODEL, messages=MSGS).choices[0].message.content
            during += 1
        upload.join(60)
        assert during >= 3
        assert result.get("status") == 413, result
        assert result["body"]["error"]["code"] == "request_too_large"
        assert "8,388,608 bytes" in result["body"]["error"]["message"]  # the limit, and how to raise it
        assert "--max-body" in result["body"]["error"]["message"]

        # a 20 MB prompt through the SDK → the SDK sees the 413 (not a reset connection)
        with pytest.raises(openai.APIStatusError) as e:
            client.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "y" * 20_000_000}])
        assert e.value.status_code == 413 and e.value.code == "request_too_large"
        assert peak_rss_kb(srv.proc.pid) - before < 40_000  # kB: nothing like the 200 MB (or 20 MB) body

        # a bad Content-Length → 400 naming it
        status, _, body = raw(srv.port, post("/d/P1/v1/chat/completions", length="12abc"))
        assert status == 400 and "malformed Content-Length '12abc'" in json.loads(body)["error"]["message"]

        # a cross-origin text/plain POST to the admin routes → 403, and no fault was injected
        token = srv.info["admin_token"]
        evil = post("/_admin/faults/P1", b'{"status": 500}', extra=f"Origin: http://evil.example\r\n"
                    f"Authorization: Bearer {token}\r\n").replace(b"application/json", b"text/plain")
        assert raw(srv.port, evil)[0] == 403
        faults = httpx.get(f"{srv.url}/_admin/faults/P1", headers={"Authorization": f"Bearer {token}"}).json()
        assert faults["status"] is None

        # a foreign Host (DNS rebinding) → 403, on admin and provider routes alike
        assert raw(srv.port, post("/d/P1/v1/chat/completions", host=f"attacker.example:{srv.port}"))[0] == 403
        rebind = f"GET /_admin/log/P1 HTTP/1.1\r\nHost: attacker.example\r\nAuthorization: Bearer {token}\r\n\r\n"
        assert raw(srv.port, rebind.encode())[0] == 403

        # and it still serves
        assert client.chat.completions.create(model=OPENAI_MODEL, messages=MSGS).choices[0].message.content
        assert peak_rss_kb(srv.proc.pid) - before < 40_000
    finally:
        err = srv.stop()
    assert "Traceback" not in err, err


# --- body limit ---------------------------------------------------------------------------------------
def test_over_limit_prompt_gets_413_in_every_wire_format(srv: ProviderServer) -> None:
    big = "z" * 100_000  # over this server's 64 KiB
    o = openai.OpenAI(base_url=srv.base_url("P1"), api_key="k", max_retries=0)
    with pytest.raises(openai.APIStatusError) as e:
        o.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": big}])
    assert e.value.status_code == 413 and e.value.body["code"] == "request_too_large"
    assert e.value.body["type"] == "invalid_request_error"
    a = anthropic.Anthropic(base_url=srv.base_url("P1", "anthropic"), api_key="k", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as ea:
        a.messages.create(model=CLAUDE_MODEL, max_tokens=5, messages=[{"role": "user", "content": big}])
    assert ea.value.status_code == 413 and ea.value.body["error"]["type"] == "request_too_large"
    g = groq.Groq(base_url=srv.base_url("P1", "groq"), api_key="k", max_retries=0)
    with pytest.raises(groq.APIStatusError) as eg:
        g.chat.completions.create(model=GROQ_MODEL, messages=[{"role": "user", "content": big}])
    assert eg.value.status_code == 413
    assert srv.log("P1") == []  # refused before it reached the deployment
    # just under the limit is served
    ok = o.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "z" * 60_000}])
    assert ok.choices[0].message.content.startswith("Echo: zzz")


def test_chunked_bodies_are_read_under_the_same_limit(srv: ProviderServer) -> None:
    def chunked(body: bytes, size: int = 1000) -> bytes:
        parts = [b"%x;ext=1\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
        return b"".join(parts) + b"0\r\nX-Trailer: t\r\n\r\n"
    te = "Transfer-Encoding: chunked\r\n"
    status, _, body = raw(srv.port, post("/d/P1/v1/chat/completions", chunked(BODY), extra=te, length=""))
    assert status == 200 and json.loads(body)["choices"][0]["message"]["content"]
    big = json.dumps({"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "q" * 70_000}]}).encode()
    status, _, body = raw(srv.port, post("/d/P1/v1/chat/completions", chunked(big, 8192), extra=te, length=""))
    assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"
    status, _, _ = raw(srv.port, post("/d/P1/v1/chat/completions", b"zz\r\nnot hex\r\n", extra=te, length=""),
                       half_close=True)
    assert status == 400
    status, _, body = raw(srv.port, post("/d/P1/v1/chat/completions", extra="Transfer-Encoding: gzip\r\n", length=""),
                          half_close=True)
    assert status == 501 and "gzip" in json.loads(body)["error"]["message"]


def test_expect_100_continue_is_refused_before_the_body_is_sent(srv: ProviderServer) -> None:
    head = post("/d/P1/v1/chat/completions", b"", extra="Expect: 100-continue\r\n", length=str(10**9))
    t = time.monotonic()
    status, headers, _ = raw(srv.port, head)  # no body follows: the answer must not wait for one
    assert status == 413 and headers["connection"] == "close" and time.monotonic() - t < 5
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:  # within the limit: 100, then 200
        s.sendall(post("/d/P1/v1/chat/completions", b"", extra="Expect: 100-continue\r\n", length=str(len(BODY))))
        assert s.recv(1024).startswith(b"HTTP/1.1 100")
        s.sendall(BODY)
        assert s.recv(65536).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "0x10", "+12", "12, 13", " ", "12abc"])
def test_malformed_content_length_is_a_400_never_a_traceback(srv: ProviderServer, length: str,
                                                            capfd: pytest.CaptureFixture[str]) -> None:
    status, headers, body = raw(srv.port, post("/d/P1/v1/chat/completions", length=length), half_close=True)
    assert status == 400 and headers["connection"] == "close"
    assert "Content-Length" in json.loads(body)["error"]["message"]
    assert raw(srv.port, post("/d/P1/v1/chat/completions"))[0] == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_contradictory_lengths_and_short_bodies_are_400s(srv: ProviderServer,
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    two = post("/d/P1/v1/chat/completions", extra=f"Content-Length: {len(BODY) + 1}\r\n")
    assert raw(srv.port, two, half_close=True)[0] == 400
    both = post("/d/P1/v1/chat/completions", extra="Transfer-Encoding: chunked\r\n")
    assert raw(srv.port, both, half_close=True)[0] == 400  # request smuggling's ambiguity
    short = post("/d/P1/v1/chat/completions", BODY[:20], length=str(len(BODY)))
    status, _, body = raw(srv.port, short, half_close=True)
    assert status == 400 and "ended after 20 of the" in json.loads(body)["error"]["message"]
    deep = post("/d/P1/v1/chat/completions", b"[" * 60_000)
    assert raw(srv.port, deep)[0] == 400
    assert "Traceback" not in capfd.readouterr().err


# --- Host, Origin, admin token ------------------------------------------------------------------------
def test_admin_routes_need_the_token_the_python_api_does_not(srv: ProviderServer) -> None:
    base = srv.url
    r = httpx.get(f"{base}/_admin/log/P1")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(f"{base}/_admin/log/P1", headers={"Authorization": "Bearer wrong-token-xyz"}).status_code == 401
    assert httpx.post(f"{base}/_admin/faults/P1", json={"status": 500}).status_code == 401
    assert httpx.post(f"{base}/_admin/reset").status_code == 401
    assert srv.faults("P1").status is None  # nothing changed
    assert httpx.post(f"{base}/_admin/faults/P1", json={"status": 503}, headers=srv.admin_headers).status_code == 200
    assert srv.faults("P1").status == 503
    assert httpx.get(f"{base}/_admin/faults/P1", headers={"X-Admin-Token": srv.admin_token}).json()["status"] == 503
    srv.set_faults("P1")  # the Python API needs no token
    assert srv.faults("P1").status is None


def test_foreign_origins_are_refused_even_with_the_token(srv: ProviderServer) -> None:
    base = srv.url
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{srv.port + 1}", "https://localhost"):
        r = httpx.post(f"{base}/_admin/faults/P1", content=b'{"status": 500}',
                       headers={**srv.admin_headers, "Origin": origin, "Content-Type": "text/plain"})
        assert r.status_code == 403, origin
        r = httpx.post(f"{base}/d/P1/v1/chat/completions", content=BODY, headers={"Origin": origin})
        assert r.status_code == 403 and r.json()["error"]["type"] == "permission_denied"
    assert srv.faults("P1").status is None and srv.log("P1") == []
    own = httpx.get(f"{base}/_admin/log/P1", headers={**srv.admin_headers, "Origin": f"http://localhost:{srv.port}"})
    assert own.status_code == 200


def test_host_header_must_name_this_machine(srv: ProviderServer) -> None:
    path = "/d/P1/v1/chat/completions"
    for host in (f"127.0.0.1:{srv.port}", f"localhost:{srv.port}", f"[::1]:{srv.port}", "LOCALHOST"):
        assert raw(srv.port, post(path, host=host))[0] == 200, host
    for host in ("attacker.example", f"attacker.example:{srv.port}", "127.0.0.1.nip.io", "[::2]:80"):
        status, _, body = raw(srv.port, post(path, host=host))
        assert status == 403 and "DNS-rebinding" in json.loads(body)["error"]["message"], host
    no_host = f"POST {path} HTTP/1.1\r\nContent-Length: {len(BODY)}\r\n\r\n".encode() + BODY
    assert raw(srv.port, no_host)[0] == 400
    two_hosts = post(path, extra="Host: attacker.example\r\n")
    assert raw(srv.port, two_hosts)[0] == 400
    old = f"POST {path} HTTP/1.0\r\nContent-Length: {len(BODY)}\r\n\r\n".encode() + BODY  # HTTP/1.0 may omit it
    assert raw(srv.port, old)[0] == 200


def test_allowed_hosts_and_origins_and_loopback_only() -> None:
    with ProviderServer(["P1"], latency_scale=0, allowed_hosts=["devbox"],
                        allowed_origins=["http://127.0.0.1:8888"]) as s:
        assert raw(s.port, post("/d/P1/v1/chat/completions", host="devbox:9000"))[0] == 200
        assert raw(s.port, post("/d/P1/v1/chat/completions", extra="Origin: http://127.0.0.1:8888\r\n"))[0] == 200
        assert s._httpd is not None and s._httpd.server_address[0] == "127.0.0.1"
        assert len(s.admin_token) >= 24  # a random token when none is given
    with pytest.raises(ConfigError, match="loopback"):
        ProviderServer(["P1"], host="0.0.0.0")
    with pytest.raises(ConfigError, match="allowed origin"):
        ProviderServer(["P1"], allowed_origins=["127.0.0.1:8888"])
    with pytest.raises(ConfigError, match="at least 8"):
        ProviderServer(["P1"], admin_token="short")


def test_sizes() -> None:
    assert parse_size("8MiB") == DEFAULT_MAX_BODY == 8 * 2**20
    assert (parse_size("20MB"), parse_size("64k"), parse_size("1.5KiB"), parse_size(" 100 ")) == (
        20_000_000, 64_000, 1536, 100)
    for bad in ("lots", "-5MB", "0", "10XB"):
        with pytest.raises(ConfigError, match="size"):
            parse_size(bad)


# --- the command line ---------------------------------------------------------------------------------
def test_serve_prints_a_token_or_takes_one() -> None:
    s = Served("--max-body", "1KiB")
    try:
        token = s.info["admin_token"]
        assert isinstance(token, str) and len(token) >= 24 and s.info["max_body"] == 1024
        assert httpx.get(f"{s.url}/_admin/log/P1", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert raw(s.port, post("/d/P1/v1/chat/completions", b"x" * 2000))[0] == 413
    finally:
        s.stop()
    s = Served("--admin-token", "given-on-the-command-line", env={"ROUTERLAB_ADMIN_TOKEN": "from-the-environment"})
    try:
        assert s.info["admin_token"] is None  # a token the user chose is not echoed
        assert httpx.get(f"{s.url}/_admin/log/P1",
                         headers={"Authorization": "Bearer given-on-the-command-line"}).status_code == 200
    finally:
        s.stop()
    s = Served(env={"ROUTERLAB_ADMIN_TOKEN": "from-the-environment"})
    try:
        assert s.info["admin_token"] is None
        assert httpx.get(f"{s.url}/_admin/log/P1", headers={"X-Admin-Token": "from-the-environment"}).status_code == 200
    finally:
        s.stop()


def test_serve_rejects_bad_limits_and_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    from routerlab.server import serve_main

    assert serve_main(["--port", "0", "--max-body", "huge"]) == 2
    assert "size 'huge'" in capsys.readouterr().err
    assert serve_main(["--port", "0", "--admin-token", "abc"]) == 2
    assert "at least 8" in capsys.readouterr().err


def test_docstring_examples_run() -> None:
    import doctest

    from routerlab.server import guard

    result = doctest.testmod(guard)
    assert result.failed == 0 and result.attempted >= 5
