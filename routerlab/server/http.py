"""The HTTP side of :mod:`routerlab.server`: the request handler and the three wire formats.

Private: use :class:`routerlab.server.ProviderServer`. Split out of ``server.py`` to keep each module
about one job (state and faults there; bytes on the wire here).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import select
import socket
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import numpy as np

from ..tokens import count_message_tokens, count_text, encoding
from .guard import Rejected, declared_length, linger, pending_body, read_body, too_large
from .wire import (
    STATUS_TEXT,
    anthropic_events,
    conversation_problem,
    error_body,
    openai_events,
    rejected_param,
    stream_error,
    usage,
    whole_body,
)

if TYPE_CHECKING:
    from .app import Faults, ProviderServer, _Deployment


def _last_user(messages: Sequence[Mapping[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            return _text_of(m.get("content", ""))
    return _text_of(messages[-1].get("content", "")) if messages else ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, Mapping))
    return str(content)


def _api_of(route: re.Match[str]) -> str:
    """The wire format of a matched provider route."""
    r = route["route"]
    return "anthropic" if r == "/v1/messages" else "groq" if r.startswith("/openai") else "openai"


class _HTTPServer(ThreadingHTTPServer):
    app: ProviderServer  # set by ProviderServer.start
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # the default backlog of 5 refuses connections at ~64 concurrent clients
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients hanging up mid-request are routine here
            super().handle_error(request, client_address)


_ROUTE = re.compile(r"^(?:/d/(?P<dep>[\w.\-]+))?(?P<route>/v1/chat/completions|/openai/v1/chat/completions|/v1/messages)/?$")
_MODELS = re.compile(r"^(?:/d/(?P<dep>[\w.\-]+))?(?:/openai)?/v1/models/?$")
_ADMIN = re.compile(r"^/_admin/(?P<what>log|faults|reset|health)(?:/(?P<dep>[\w.\-*]+))?/?$")
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # without it: ~22 req/s from delayed-ACK stalls
    timeout = 120  # idle keep-alive connections close eventually
    server_version = "routerlab-local/1"

    server: _HTTPServer

    @property
    def app(self) -> ProviderServer:
        return self.server.app

    def setup(self) -> None:
        super().setup()
        with self.app._lock:
            self.app._conns.add(self.connection)

    def finish(self) -> None:
        with self.app._lock:
            self.app._conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the request log is the record
        pass

    # --- plumbing --------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes | dict[str, Any] | list[Any], headers: Mapping[str, str] | None = None,
              content_type: str = "application/json") -> None:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.send_header("x-request-id", "req_" + uuid.uuid4().hex[:16])
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _chunk(self, data: bytes) -> bool:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            return True
        except OSError:
            self.close_connection = True
            return False

    def _drop(self) -> None:
        """Close the connection abruptly (a cut stream or an abandoned hang)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; False if the client went away or the server is stopping."""
        end = time.monotonic() + max(0.0, seconds)
        stop = self.app._stop
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return not stop.is_set()
            if stop.is_set():
                return False
            try:
                readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return False
                if readable:  # a pipelined request is waiting: just sleep
                    stop.wait(min(left, 0.05))
            except (OSError, ValueError):
                return False

    def _read_body(self) -> bytes:
        """The request body, read (within the server's ``max_body``) by :meth:`do_POST` before routing."""
        return self._body

    # --- who may come in (see routerlab.server.guard) ---------------------------------------------
    _body = b""

    def _admit(self, path: str) -> bool:
        """Host, Origin and, on admin routes, the admin token; on a refusal answer it and return False."""
        refused = self.app.access.check(self.headers, port=self.server.server_address[1],
                                        http11=self.request_version >= "HTTP/1.1", admin=path.startswith("/_admin"))
        if refused is not None:
            extra = {"www-authenticate": 'Bearer realm="routerlab admin"'} if refused.status == 401 else None
            self._refuse(path, refused, extra)
        return refused is None

    def _refuse(self, path: str, exc: Rejected, headers: dict[str, str] | None = None) -> None:
        """Answer a refused request in the route's wire format, close the connection, drop the unread body."""
        headers = {**(headers or {}), "connection": "close"}
        route = _ROUTE.match(path)
        if route:
            self._error(_api_of(route), exc.status, exc.message, exc.code, headers)
        else:
            self._send(exc.status, {"error": {"message": exc.message, "type": exc.code or "invalid_request_error"}},
                       headers)
        if exc.unread != 0:
            linger(self.rfile, self.connection, exc.unread)

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue`` (curl sends it for bodies over 1 MB): refuse before the body is sent."""
        path = self.path.split("?")[0]
        if not self._admit(path):
            return False
        try:
            n = declared_length(self.headers)
        except Rejected as exc:
            self._refuse(path, exc)
            return False
        if n > self.app.max_body:
            self._refuse(path, too_large(self.app.max_body, f"{n:,} bytes", None))
            return False
        return super().handle_expect_100()

    # --- admin (subprocess mode) -----------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._admit(self.path.split("?")[0]):
            return None
        if pending_body(self.headers) != 0:  # a GET with a body: answer, then close (never parse it as a request)
            self.close_connection = True
        m = _ADMIN.match(self.path.split("?")[0])
        if m and m["what"] == "log" and m["dep"] in self.app._deps:
            return self._send(200, self.app.log(m["dep"]))
        if m and m["what"] == "health":
            return self._send(200, {"deployments": self.app.deployments, "t": self.app.now()})
        if m and m["what"] == "faults" and m["dep"] in self.app._deps:
            return self._send(200, self.app.faults(m["dep"]).to_dict())
        models = _MODELS.match(self.path.split("?")[0])
        if models and (models["dep"] or self.app.deployments[0]) in self.app._deps:
            return self._models(models)
        self._send(404, {"error": {"message": f"no route for GET {self.path}", "type": "invalid_request_error"}})

    def _models(self, m: re.Match[str]) -> None:
        """``GET .../models``: what SDK health checks call. Auth and status faults apply; not logged."""
        dep = self.app._deps[m["dep"] or self.app.deployments[0]]
        api = "anthropic" if self.headers.get("anthropic-version") else "openai"
        faults = dep.faults.at(self.app.now())
        if self._auth_failed(api, dep, faults):
            return None
        if faults.status and faults.status >= 400:
            return self._error(api, faults.status, STATUS_TEXT.get(faults.status, "injected error"))
        specs = list(self.app.catalog)
        if api == "anthropic":
            data = [{"type": "model", "id": s.api_name, "display_name": s.name, "created_at": "2024-01-01T00:00:00Z"}
                    for s in specs if s.provider == "anthropic"]
            return self._send(200, {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                                    "last_id": data[-1]["id"] if data else None})
        self._send(200, {"object": "list", "data": [{"id": s.api_name, "object": "model", "created": 0,
                                                     "owned_by": s.provider} for s in specs]})

    def _auth_failed(self, api: str, dep: _Deployment, faults: Faults) -> bool:
        """Send a 401 (never echoing the key) unless the request carries the deployment's key."""
        given = self.headers.get("x-api-key") or ""
        bearer = self.headers.get("authorization") or ""
        if bearer.lower().startswith("bearer "):
            given = given or bearer[7:].strip()
        if not faults.auth_fail and (dep.api_key is None or given == dep.api_key):
            return False
        self._error(api, 401, "invalid x-api-key" if api == "anthropic" else "Incorrect API key provided.",
                    "invalid_api_key")
        return True

    def _admin_post(self, m: re.Match[str]) -> None:
        try:
            body = json.loads(self._read_body() or b"{}")
            if m["what"] == "faults" and m["dep"]:
                merge = bool(body.pop("merge", False)) if isinstance(body, dict) else False
                f = (self.app.update_faults(m["dep"], **body) if merge else self.app.set_faults(m["dep"], body))
                return self._send(200, f.to_dict())
            if m["what"] == "reset":
                self.app.clear_faults()
                self.app.clear_log()
                self.app.reset_clock()
                return self._send(200, {"ok": True})
        except (ValueError, TypeError) as exc:
            return self._send(400, {"error": {"message": str(exc), "type": "invalid_request_error"}})
        self._send(404, {"error": {"message": f"no route for POST {self.path}", "type": "invalid_request_error"}})

    # --- the provider APIs -----------------------------------------------------------------------
    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        if not self._admit(path):
            return None
        try:
            self._body = read_body(self.rfile, self.headers, self.app.max_body)
        except Rejected as exc:
            return self._refuse(path, exc)
        try:
            self._route_post(path)
        except RecursionError:  # json.loads of a body nested thousands deep: the client's error, not a crash
            self._refuse(path, Rejected(400, "the JSON body is nested too deeply", code="invalid_json"))

    def _route_post(self, path: str) -> None:
        admin = _ADMIN.match(path)
        if admin:
            return self._admin_post(admin)
        m = _ROUTE.match(path)
        api = _api_of(m) if m else "openai"
        if not m:
            self._read_body()
            return self._error(api, 404, f"no route for POST {path}", "not_found")
        dep_name = m["dep"] or self.app.deployments[0]
        if dep_name not in self.app._deps:
            self._read_body()
            return self._error(api, 404, f"unknown deployment {dep_name!r}", "not_found")
        dep = self.app._deps[dep_name]
        with self.app._lock:
            dep.in_flight += 1
        try:
            self._serve(api, dep, path)
        finally:
            with self.app._lock:
                dep.in_flight -= 1

    def _error(self, api: str, status: int, message: str, code: str | None = None,
               headers: Mapping[str, str] | None = None, kind: str | None = None, param: str | None = None) -> None:
        self._send(status, error_body(api, status, message, kind=kind, code=code, param=param), headers)

    def _serve(self, api: str, dep: _Deployment, path: str) -> None:
        app = self.app
        raw = self._read_body()
        t = app.now()
        faults = dep.faults.at(t)
        record: dict[str, Any] = {"t": t, "time": time.time(), "deployment": dep.name, "path": path, "api": api,
                                  "model": None, "prompt_hash": None, "stream": False, "status": None,
                                  "fault": None, "input_tokens": 0, "output_tokens": 0, "done": False}
        with app._lock:
            dep.log.append(record)
            draw = dep.rng.random() if faults.error_rate > 0 else 1.0

        def note(**kw: Any) -> None:
            with app._lock:
                record.update(kw)

        if self._auth_failed(api, dep, faults):  # authentication first, as real providers do
            return note(status=401, fault="auth", done=True)
        parsed = self._request(api, raw, note)
        if parsed is None:
            return None
        body, messages = parsed
        model = str(body["model"])
        stream = bool(body.get("stream"))
        n_in = count_message_tokens(messages)
        note(model=model, stream=stream, input_tokens=n_in,
             prompt_hash=hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:16])
        if self._refused(api, dep, faults, body, model, messages, n_in, draw, note):
            return None
        text, finish, stop_seq = self._answer(api, body, model, messages, _last_user(messages))
        self._reply(api, dep, faults, body, model, stream, text, finish, stop_seq, n_in, note)

    def _request(self, api: str, raw: bytes, note: Any) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The parsed body and its messages (the system prompt as a first message), or None after a 400."""
        try:
            body = json.loads(raw)
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
                raise ValueError("the body needs 'model' and a 'messages' list")
        except ValueError as exc:
            note(status=400, fault="bad_request_body", done=True)
            self._error(api, 400, f"could not parse the JSON body of the request: {str(exc)[:200]}", "invalid_json")
            return None
        problem = conversation_problem(api, body["messages"])  # what the real APIs reject
        if problem is not None:
            note(status=400, fault="bad_conversation", done=True)
            self._error(api, 400, problem)
            return None
        messages = [m if isinstance(m, dict) else {} for m in body["messages"]]
        if api == "anthropic" and body.get("system"):
            messages = [{"role": "system", "content": _text_of(body["system"])}] + messages
        return body, messages

    def _refused(self, api: str, dep: _Deployment, faults: Faults, body: dict[str, Any], model: str,
                 messages: list[dict[str, Any]], n_in: int, draw: float, note: Any) -> bool:
        """Answer with a hang, an injected error, a rejected parameter or a context error; False when none."""
        if faults.hang is not None:
            note(fault="hang")
            self._wait(self.app.max_hang if faults.hang is True else min(float(faults.hang), self.app.max_hang))
            note(done=True)
            self._drop()
            return True
        status = faults.status or (faults.error_status if draw < faults.error_rate else None)
        if status and status >= 400:
            note(status=status, fault=f"status={status}", done=True)
            message = faults.error_message or STATUS_TEXT.get(status, f"injected HTTP {status}").format(model=model)
            self._error(api, status, message, faults.error_code, _retry_after(faults), faults.error_type)
            return True
        param = rejected_param(body, faults.reject_params)
        if param is not None:
            note(status=faults.reject_status, fault=f"rejects={param}", done=True)
            self._reject(api, param, body[param], faults)
            return True
        return self._context_error(api, faults, model, messages, n_in, note)

    def _reject(self, api: str, param: str, value: Any, faults: Faults) -> None:
        if faults.reject_style == "pydantic":  # FastAPI / pydantic servers (vLLM, many proxies)
            detail = [{"type": "extra_forbidden", "loc": ["body", param], "msg": "Extra inputs are not permitted",
                       "input": value}]
            return self._send(faults.reject_status, {"object": "error", "detail": detail,
                                                     "message": json.dumps(detail), "type": "BadRequestError"})
        self._error(api, faults.reject_status, f"Unsupported parameter: '{param}' is not supported with this model.",
                    "unsupported_parameter", param=param)

    def _context_error(self, api: str, faults: Faults, model: str, messages: list[dict[str, Any]], n_in: int,
                       note: Any) -> bool:
        spec = self.app._spec(model)
        limit = faults.context_limit if faults.context_limit is not None else (spec.context_window if spec else None)
        marked = faults.context_marker is not None and any(
            faults.context_marker in _text_of(m.get("content", "")) for m in messages)
        if not marked and (limit is None or n_in <= limit):
            return False
        note(status=400, fault="context_length", done=True)
        limit = limit or 0
        msg = (f"prompt is too long: {n_in} tokens > {limit} maximum" if api == "anthropic" else
               f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
               f"{n_in} tokens. Please reduce the length of the messages.")
        self._error(api, 400, msg, "context_length_exceeded")
        return True

    def _reply(self, api: str, dep: _Deployment, faults: Faults, body: dict[str, Any], model: str, stream: bool,
               text: str, finish: str, stop_seq: str | None, n_in: int, note: Any) -> None:
        app = self.app
        spec = app._spec(model)
        n_out = count_text(text)
        ttft = total = 0.0
        if spec is not None and app.latency_scale > 0:
            with app._lock:
                a, b = spec.latency.sample(np.array([n_out]), dep.np_rng)
            ttft, total = float(a[0]) * app.latency_scale, float(b[0]) * app.latency_scale
        fault = ("malformed" if faults.malformed else f"cut_after={faults.cut_after}"
                 if stream and faults.cut_after is not None else f"stream_error={faults.stream_error}"
                 if stream and faults.stream_error else "delay" if faults.delay else None)
        note(status=200, fault=fault, output_tokens=n_out)
        if not self._wait(faults.delay + (ttft if stream else total)):
            note(done=True)
            return self._drop()
        cached = min(faults.cached_tokens or 0, n_in)
        use = usage(api, n_in, n_out, cached, min(faults.cache_write_tokens or 0, n_in - cached))
        if stream:
            ok = self._stream(api, model, text, finish, stop_seq, use, faults, max(0.0, total - ttft), body)
        else:
            ok = self._whole(api, model, text, finish, stop_seq, use, faults)
        note(done=True, **({} if ok else {"fault": fault or "client_gone"}))

    def _answer(self, api: str, body: dict[str, Any], model: str, messages: list[dict[str, Any]],
                prompt: str) -> tuple[str, str, str | None]:
        try:
            text = self.app._answers(model, messages)
        except Exception:  # noqa: BLE001 - a broken lookup must not take the server down
            text = None
        if text is None:
            text = f"Echo: {prompt}"
        finish, stop_seq = "stop", None
        stops = body.get("stop_sequences" if api == "anthropic" else "stop") or []
        for s in [stops] if isinstance(stops, str) else stops:
            if s and s in text:
                text, finish, stop_seq = text[: text.index(s)], "stop", s
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        if isinstance(max_tokens, int) and max_tokens > 0 and count_text(text) > max_tokens:
            enc = encoding()
            text = enc.decode(enc.encode_ordinary(text)[:max_tokens])
            finish, stop_seq = "length", None
        return text, finish, stop_seq

    def _whole(self, api: str, model: str, text: str, finish: str, stop_seq: str | None, use: Mapping[str, Any],
               faults: Faults) -> bool:
        if faults.malformed:
            bad = b'{"unexpected": "shape", "note": "not a provider reply"}' if faults.malformed == "json" \
                else b"<html><body>502 upstream said something odd</body></html>"
            self._send(200, bad)
            return True
        self._send(200, whole_body(api, model, text, finish, stop_seq, use))
        return True

    def _stream(self, api: str, model: str, text: str, finish: str, stop_seq: str | None, use: Mapping[str, Any],
                faults: Faults, spread: float, body: dict[str, Any]) -> bool:
        pieces = re.findall(r"\s*\S+\s*?", text) or ([text] if text else [])
        if pieces and "".join(pieces) != text:
            pieces[-1] += text[len("".join(pieces)):]
        try:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
        except OSError:
            self.close_connection = True
            return False
        gap = spread / max(1, len(pieces))
        events = anthropic_events if api == "anthropic" else openai_events
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        sent = 0
        for kind, data in events(api, model, pieces, finish, stop_seq, use, include_usage):
            if kind in ("text", "end") and faults.stream_error and sent >= faults.stream_error_after:
                self._chunk(stream_error(api, faults.stream_error, faults.error_message or
                                         STATUS_TEXT.get(529 if "overload" in faults.stream_error else 500, "error")))
                return self._chunk(b"")
            if kind == "text":
                if faults.cut_after is not None and sent >= faults.cut_after:
                    self._drop()
                    return False
                if sent and gap and not self._wait(gap):
                    self._drop()
                    return False
                sent += 1
            if faults.malformed and kind == "text":
                data = (b"event: content_block_delta\n" if api == "anthropic" else b"") + \
                    b'data: {"choices": [{"delta": {"content": "oops"\n\n'
            if not self._chunk(data):
                return False
        return self._chunk(b"")


def _retry_after(faults: Faults) -> dict[str, str]:
    """The Retry-After headers of an injected error (``retry_after_raw`` verbatim, or from ``retry_after``)."""
    if faults.retry_after_raw is not None:
        return {"retry-after": faults.retry_after_raw}
    headers: dict[str, str] = {}
    if faults.retry_after is not None:
        if faults.retry_after_header in ("both", "seconds"):
            headers["retry-after"] = str(math.ceil(faults.retry_after))
        if faults.retry_after_header in ("both", "ms"):
            headers["retry-after-ms"] = str(int(round(faults.retry_after * 1000)))
    return headers
