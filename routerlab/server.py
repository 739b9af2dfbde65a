"""A local HTTP server that speaks the OpenAI, Anthropic and Groq wire formats, with injected faults.

The unmodified official SDKs talk to it. It answers from recorded outcomes (or echoes), sleeps each
model's catalog latency profile (× ``latency_scale``), and injects faults per deployment on a schedule.

**Deployments are addressed by path prefix** on one port (``/d/<name>``), so one server hosts P1, P2, P3:

============  ===============================================  ==========================================
SDK           ``base_url``                                     path the SDK calls
============  ===============================================  ==========================================
openai        ``http://127.0.0.1:PORT/d/P1/v1``                ``/d/P1/v1/chat/completions``
anthropic     ``http://127.0.0.1:PORT/d/P1``                   ``/d/P1/v1/messages``
groq          ``http://127.0.0.1:PORT/d/P1``                   ``/d/P1/openai/v1/chat/completions``
============  ===============================================  ==========================================

``srv.base_url("P1", "anthropic")`` builds these. Paths without ``/d/<name>`` go to the first deployment.

Example::

    >>> from routerlab.server import ProviderServer, Window
    >>> with ProviderServer(["P1", "P2"], latency_scale=0) as srv:          # doctest: +SKIP
    ...     srv.set_faults("P1", status=429, retry_after=7)                # every call: 429, Retry-After 7
    ...     srv.set_faults("P2", windows=[Window(0, 30, status=503)])      # an outage for the first 30 s
    ...     client = openai.OpenAI(base_url=srv.base_url("P2"), api_key="x", max_retries=0)
    ...     srv.log("P1")                                                  # plain dicts, one per request

Run it alone with ``python -m routerlab.server --port 8000 --fault P1:status=500,start=0,end=30``
(or ``routerlab serve``); ``GET /_admin/log/P1`` and ``POST /_admin/faults/P1`` drive it from outside.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import random
import re
import select
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from .catalog import Catalog, ModelSpec
from .errors import ConfigError
from .providers.base import count_message_tokens, count_tokens

__all__ = ["ProviderServer", "Faults", "Window", "Answers", "answers_from_dataset", "serve_main", "parse_fault"]

Answers = Callable[[str, list[dict[str, Any]]], "str | None"]
"""``(model, messages) -> answer text | None`` (``None``: not recorded, the server echoes)."""


@dataclass(frozen=True)
class Window:
    """Fault overrides active from ``start`` to ``end`` seconds after the server's clock zero.

    Example::

        >>> w = Window(0, 30, status=503)          # an outage for the first 30 s
        >>> w.active(10.0), w.active(30.0)
        (True, False)
    """

    start: float
    end: float
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, start: float, end: float, overrides: Mapping[str, Any] | None = None, **faults: Any) -> None:
        merged = {**dict(overrides or {}), **faults}
        unknown = set(merged) - _FAULT_FIELDS - {"windows"}
        if unknown or "windows" in merged:
            raise ConfigError(f"Window got unknown fault fields {sorted(unknown | ({'windows'} & set(merged)))}; "
                              f"known: {sorted(_FAULT_FIELDS)}")
        object.__setattr__(self, "start", float(start))
        object.__setattr__(self, "end", float(end))
        object.__setattr__(self, "overrides", merged)

    def active(self, t: float) -> bool:
        return self.start <= t < self.end

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, **self.overrides}


@dataclass(frozen=True)
class Faults:
    """What a deployment does wrong. All off by default; ``windows`` override fields for a time span.

    - ``status``: answer every request with this HTTP status (500, 503, 429, 529, ...)
    - ``error_rate`` / ``error_status``: that fraction of requests (seeded RNG) gets ``error_status``
    - ``retry_after``: seconds sent as ``Retry-After`` (rounded up) and ``retry-after-ms`` on errors;
      ``retry_after_header``: ``"both"``, ``"seconds"`` or ``"ms"``
    - ``hang``: hold the request this many seconds without answering, then drop the connection
    - ``delay``: extra seconds before answering (a slow deployment); not scaled
    - ``cut_after``: a stream stops after this many text chunks and the connection is dropped
    - ``malformed``: answer 200 with a body not in the wire format (``"text"``: not JSON, ``"json"``:
      JSON of the wrong shape; ``True`` means ``"text"``)
    - ``context_limit`` / ``context_marker``: prompts over that many tokens, or containing the marker,
      get the provider's 400 context-length error
    - ``auth_fail``: 401 for every request
    - ``windows``: :class:`Window` schedules (relative to the server clock)

    Example::

        >>> Faults(error_rate=0.5, error_status=500).at(0.0).error_rate
        0.5
    """

    status: int | None = None
    error_rate: float = 0.0
    error_status: int = 500
    retry_after: float | None = None
    retry_after_header: str = "both"
    hang: float | None = None
    delay: float = 0.0
    cut_after: int | None = None
    malformed: bool | str = False
    context_limit: int | None = None
    context_marker: str | None = None
    auth_fail: bool = False
    windows: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        wins = tuple(w if isinstance(w, Window) else Window(**w) for w in self.windows)
        object.__setattr__(self, "windows", wins)
        if not 0.0 <= float(self.error_rate) <= 1.0:
            raise ConfigError(f"error_rate must be within 0-1, got {self.error_rate}")
        if self.retry_after_header not in ("both", "seconds", "ms"):
            raise ConfigError("retry_after_header must be 'both', 'seconds' or 'ms'")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        unknown = set(data) - _FAULT_FIELDS - {"windows"}
        if unknown:
            raise ConfigError(f"unknown fault fields {sorted(unknown)}; known: {sorted(_FAULT_FIELDS | {'windows'})}")
        return cls(**dict(data))

    def at(self, t: float) -> Faults:
        """The faults in force at time ``t`` (windows applied in order; later ones win)."""
        active = [w for w in self.windows if w.active(t)]
        if not active:
            return self
        merged: dict[str, Any] = {}
        for w in active:
            merged.update(w.overrides)
        return dataclasses.replace(self, windows=(), **merged)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["windows"] = [w.to_dict() for w in self.windows]
        return d


_FAULT_FIELDS = {f for f in Faults.__dataclass_fields__ if f != "windows"}


def answers_from_dataset(ds: Any, catalog: Catalog | None = None) -> Answers:
    """Answers from a routerlab Dataset: ``ds.find_prompt(text)`` then ``ds.outcomes.response(id, model)``.

    Example::

        >>> from routerlab import datasets                                        # doctest: +SKIP
        >>> srv = ProviderServer(answers=answers_from_dataset(datasets.load("zeroeval")))  # doctest: +SKIP
    """
    cat = catalog or Catalog.default()

    def lookup(model: str, messages: list[dict[str, Any]]) -> str | None:
        prompt = _last_user(messages)
        try:
            prompt_id = ds.find_prompt(prompt)
            if prompt_id is None:
                return None
            name = cat.canonical(model) if model in cat else model
            text = ds.outcomes.response(prompt_id, name)
        except Exception:  # noqa: BLE001 - an unrecorded pair falls back to the echo
            return None
        return None if text is None else str(text)

    return lookup


def _as_answers(answers: Answers | Mapping[Any, str] | None) -> Answers:
    if answers is None:
        return lambda model, messages: None
    if isinstance(answers, Mapping):
        table = dict(answers)

        def lookup(model: str, messages: list[dict[str, Any]]) -> str | None:
            prompt = _last_user(messages)
            return table.get((model, prompt), table.get(prompt))

        return lookup
    if callable(answers):
        return answers
    raise ConfigError("answers must be a callable (model, messages) -> str | None, or a dict keyed by "
                      "prompt or (model, prompt)")


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


class _Deployment:
    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.faults = Faults()
        self.api_key: str | None = None
        self.log: list[dict[str, Any]] = []
        self.rng = random.Random(f"{seed}:{name}")
        self.np_rng = np.random.default_rng([seed, int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)])
        self.in_flight = 0


class ProviderServer:
    """Local OpenAI/Anthropic/Groq-compatible server with per-deployment faults and request logs.

    Runs in-process (``with ProviderServer(...) as srv``: a background thread) or as a subprocess
    (``python -m routerlab.server``). Binds 127.0.0.1 only. Fault settings and logs are thread-safe and
    may change while requests run; time-based windows use ``clock`` (injectable, zero at ``start``).

    Example::

        >>> with ProviderServer(["P1"], latency_scale=0, answers={"2+2?": "4"}) as srv:  # doctest: +SKIP
        ...     c = openai.OpenAI(base_url=srv.base_url("P1"), api_key="k", max_retries=0)
        ...     c.chat.completions.create(model="gpt-4o-mini",
        ...                               messages=[{"role": "user", "content": "2+2?"}]).choices[0].message.content
        '4'
    """

    def __init__(self, deployments: Iterable[str] = ("P1", "P2", "P3"), *, port: int = 0, host: str = "127.0.0.1",
                 answers: Answers | Mapping[Any, str] | None = None, latency_scale: float = 1.0, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic, faults: Mapping[str, Faults | Mapping[str, Any]] | None = None,
                 api_keys: Mapping[str, str] | None = None, catalog: Catalog | None = None,
                 max_hang: float = 600.0) -> None:
        names = list(deployments)
        if not names or len(set(names)) != len(names) or any(not re.fullmatch(r"[\w.\-]+", n) for n in names):
            raise ConfigError(f"deployments must be distinct names of letters, digits, '_', '-', '.'; got {names!r}")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError("ProviderServer binds loopback only (host='127.0.0.1')")
        self.host, self.requested_port = host, int(port)
        self.latency_scale = float(latency_scale)
        self.seed, self.clock, self.max_hang = seed, clock, float(max_hang)
        self.catalog = catalog or Catalog.default()
        self._answers = _as_answers(answers)
        self._lock = threading.Lock()
        self._deps = {n: _Deployment(n, seed) for n in names}
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._t0 = clock()
        for name, f in (faults or {}).items():
            self.set_faults(name, f)
        for name, key in (api_keys or {}).items():
            self.set_api_key(name, key)

    def __repr__(self) -> str:
        state = f"port={self.port}" if self._httpd else "stopped"
        return f"ProviderServer(deployments={list(self._deps)}, {state}, latency_scale={self.latency_scale})"

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> ProviderServer:
        """Bind and serve on a background thread; returns self."""
        if self._httpd is not None:
            return self
        self._stop.clear()
        count_tokens("warm up")  # load the encoding now, not inside the first request's latency
        self._httpd = _HTTPServer((self.host, self.requested_port), _Handler)
        self._httpd.app = self  # type: ignore[attr-defined]
        self._t0 = self.clock()
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="routerlab-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hanging requests and drop open connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stop.set()
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- addressing ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise ConfigError("the server is not running: call start() or use it as a context manager")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def deployments(self) -> list[str]:
        return list(self._deps)

    def base_url(self, deployment: str | None = None, kind: str = "openai") -> str:
        """The SDK ``base_url`` for a deployment: kind ``openai`` (and gemini, openai-compatible),
        ``anthropic`` or ``groq``."""
        dep = self._dep(deployment or self.deployments[0]).name
        root = f"{self.url}/d/{dep}"
        return root if kind in ("anthropic", "groq") else root + "/v1"

    # --- faults, keys, clock, logs ---------------------------------------------------------------
    def set_faults(self, deployment: str, faults: Faults | Mapping[str, Any] | None = None, **fields: Any) -> Faults:
        """Replace a deployment's faults (``"*"``: every deployment). ``set_faults("P1")`` clears them."""
        base = faults if isinstance(faults, Faults) else Faults.from_dict(dict(faults or {}))
        if fields:
            Faults.from_dict(fields)  # names and values checked before anything changes
        new = dataclasses.replace(base, **fields) if fields else base
        with self._lock:
            for d in self._targets(deployment):
                d.faults = new
        return new

    def update_faults(self, deployment: str, **fields: Any) -> Faults:
        """Change some fault fields of a deployment, keeping the others."""
        Faults.from_dict(fields)
        with self._lock:
            targets = self._targets(deployment)
            for d in targets:
                d.faults = dataclasses.replace(d.faults, **fields)
            return targets[0].faults

    def clear_faults(self, deployment: str = "*") -> None:
        self.set_faults(deployment, Faults())

    def faults(self, deployment: str) -> Faults:
        return self._dep(deployment).faults

    def set_api_key(self, deployment: str, key: str | None) -> None:
        """Require this key (``x-api-key`` or ``Authorization: Bearer``) on a deployment; ``None``: any."""
        with self._lock:
            for d in self._targets(deployment):
                d.api_key = key

    def now(self) -> float:
        """Seconds on the server clock since ``start`` (or the last ``reset_clock``)."""
        return self.clock() - self._t0

    def reset_clock(self) -> None:
        self._t0 = self.clock()

    def log(self, deployment: str) -> list[dict[str, Any]]:
        """Copies of the deployment's request records: ``t`` (server clock), ``time`` (wall), ``path``,
        ``api``, ``model``, ``prompt_hash``, ``stream``, ``status``, ``fault``, ``input_tokens``,
        ``output_tokens``, ``done``."""
        d = self._dep(deployment)
        with self._lock:
            return [dict(r) for r in d.log]

    def clear_log(self, deployment: str = "*") -> None:
        with self._lock:
            for d in self._targets(deployment):
                d.log.clear()

    def in_flight(self, deployment: str) -> int:
        """Requests of the deployment being answered right now."""
        return self._dep(deployment).in_flight

    def _dep(self, name: str) -> _Deployment:
        try:
            return self._deps[name]
        except KeyError:
            raise ConfigError(f"unknown deployment {name!r}; this server hosts {list(self._deps)}") from None

    def _targets(self, name: str) -> list[_Deployment]:
        return list(self._deps.values()) if name == "*" else [self._dep(name)]

    # --- used by the handler ---------------------------------------------------------------------
    def _spec(self, model: str) -> ModelSpec | None:
        try:
            return self.catalog[model] if model in self.catalog else None
        except Exception:  # noqa: BLE001
            return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # the default backlog of 5 refuses connections at ~64 concurrent clients
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients hanging up mid-request are routine here
            super().handle_error(request, client_address)


_ROUTE = re.compile(r"^(?:/d/(?P<dep>[\w.\-]+))?(?P<route>/v1/chat/completions|/openai/v1/chat/completions|/v1/messages)/?$")
_ADMIN = re.compile(r"^/_admin/(?P<what>log|faults|reset|health)(?:/(?P<dep>[\w.\-*]+))?/?$")
_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                    500: "api_error", 529: "overloaded_error", 503: "overloaded_error"}
_OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_denied",
                 404: "invalid_request_error", 429: "requests"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # without it: ~22 req/s from delayed-ACK stalls
    timeout = 120  # idle keep-alive connections close eventually
    server_version = "routerlab-local/1"

    @property
    def app(self) -> ProviderServer:
        return self.server.app  # type: ignore[attr-defined,no-any-return]

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
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # --- admin (subprocess mode) -----------------------------------------------------------------
    def do_GET(self) -> None:
        m = _ADMIN.match(self.path.split("?")[0])
        if m and m["what"] == "log" and m["dep"] in self.app._deps:
            return self._send(200, self.app.log(m["dep"]))
        if m and m["what"] == "health":
            return self._send(200, {"deployments": self.app.deployments, "t": self.app.now()})
        if m and m["what"] == "faults" and m["dep"] in self.app._deps:
            return self._send(200, self.app.faults(m["dep"]).to_dict())
        self._send(404, {"error": {"message": f"no route for GET {self.path}", "type": "invalid_request_error"}})

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
        admin = _ADMIN.match(path)
        if admin:
            return self._admin_post(admin)
        m = _ROUTE.match(path)
        api = "anthropic" if m and m["route"] == "/v1/messages" else "groq" if m and m["route"].startswith("/openai") else "openai"
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
               headers: Mapping[str, str] | None = None) -> None:
        if api == "anthropic":
            body: dict[str, Any] = {"type": "error", "error": {"type": _ANTHROPIC_TYPES.get(status, "api_error"),
                                                               "message": message}}
        else:
            body = {"error": {"message": message, "type": _OPENAI_TYPES.get(status, "server_error"),
                              "param": None, "code": code}}
        self._send(status, body, headers)

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

        # authentication first, as real providers do; the key is never echoed
        given = self.headers.get("x-api-key") or ""
        bearer = self.headers.get("authorization") or ""
        if bearer.lower().startswith("bearer "):
            given = given or bearer[7:].strip()
        if faults.auth_fail or (dep.api_key is not None and given != dep.api_key):
            note(status=401, fault="auth", done=True)
            msg = "invalid x-api-key" if api == "anthropic" else "Incorrect API key provided."
            return self._error(api, 401, msg, "invalid_api_key")
        try:
            body = json.loads(raw)
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
                raise ValueError("the body needs 'model' and a 'messages' list")
            messages = [m if isinstance(m, dict) else {} for m in body["messages"]]
        except ValueError as exc:
            note(status=400, fault="bad_request_body", done=True)
            return self._error(api, 400, f"could not parse the JSON body of the request: {str(exc)[:200]}",
                               "invalid_json")
        model = str(body["model"])
        if api == "anthropic" and body.get("system"):
            messages = [{"role": "system", "content": _text_of(body["system"])}] + messages
        prompt = _last_user(messages)
        stream = bool(body.get("stream"))
        n_in = count_message_tokens(messages)
        note(model=model, stream=stream, input_tokens=n_in,
             prompt_hash=hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:16])

        if faults.hang is not None:
            note(fault="hang")
            self._wait(min(faults.hang, app.max_hang))
            note(done=True)
            return self._drop()
        status = faults.status or (faults.error_status if draw < faults.error_rate else None)
        if status and status >= 400:
            note(status=status, fault=f"status={status}", done=True)
            headers: dict[str, str] = {}
            if faults.retry_after is not None:
                if faults.retry_after_header in ("both", "seconds"):
                    headers["retry-after"] = str(math.ceil(faults.retry_after))
                if faults.retry_after_header in ("both", "ms"):
                    headers["retry-after-ms"] = str(int(round(faults.retry_after * 1000)))
            return self._error(api, status, _STATUS_TEXT.get(status, f"injected HTTP {status}"),
                               _STATUS_CODE.get(status), headers)
        spec = app._spec(model)
        limit = faults.context_limit if faults.context_limit is not None else (spec.context_window if spec else None)
        marked = faults.context_marker is not None and any(
            faults.context_marker in _text_of(m.get("content", "")) for m in messages)
        if marked or (limit is not None and n_in > limit):
            note(status=400, fault="context_length", done=True)
            limit = limit or 0
            msg = (f"prompt is too long: {n_in} tokens > {limit} maximum" if api == "anthropic" else
                   f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
                   f"{n_in} tokens. Please reduce the length of the messages.")
            return self._error(api, 400, msg, "context_length_exceeded")

        text, finish, stop_seq = self._answer(api, body, model, messages, prompt)
        n_out = count_tokens(text)
        ttft = total = 0.0
        if spec is not None and app.latency_scale > 0:
            with app._lock:
                a, b = spec.latency.sample(np.array([n_out]), dep.np_rng)
            ttft, total = float(a[0]) * app.latency_scale, float(b[0]) * app.latency_scale
        fault = ("malformed" if faults.malformed else f"cut_after={faults.cut_after}"
                 if stream and faults.cut_after is not None else "delay" if faults.delay else None)
        note(status=200, fault=fault, output_tokens=n_out)
        if not self._wait(faults.delay + (ttft if stream else total)):
            note(done=True)
            return self._drop()
        if stream:
            ok = self._stream(api, dep, model, text, finish, stop_seq, n_in, n_out, faults, max(0.0, total - ttft), body)
        else:
            ok = self._whole(api, dep, model, text, finish, stop_seq, n_in, n_out, faults)
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
        if isinstance(max_tokens, int) and max_tokens > 0 and count_tokens(text) > max_tokens:
            from .providers.base import _encoding

            enc = _encoding()
            text = enc.decode(enc.encode(text, disallowed_special=())[:max_tokens]) if enc else text[: 4 * max_tokens]
            finish, stop_seq = "length", None
        return text, finish, stop_seq

    def _whole(self, api: str, dep: _Deployment, model: str, text: str, finish: str, stop_seq: str | None,
               n_in: int, n_out: int, faults: Faults) -> bool:
        if faults.malformed:
            bad = b'{"unexpected": "shape", "note": "not a provider reply"}' if faults.malformed == "json" \
                else b"<html><body>502 upstream said something odd</body></html>"
            self._send(200, bad)
            return True
        if api == "anthropic":
            reason = {"stop": "stop_sequence" if stop_seq else "end_turn", "length": "max_tokens"}[finish]
            body: dict[str, Any] = {
                "id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": reason, "stop_sequence": stop_seq,
                "usage": {"input_tokens": n_in, "output_tokens": n_out},
            }
        else:
            body = {
                "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion", "created": int(time.time()),
                "model": model, "system_fingerprint": "routerlab-local",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                             "logprobs": None, "finish_reason": finish}],
                "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
            }
            if api == "groq":
                body["x_groq"] = {"id": "req_" + uuid.uuid4().hex[:16]}
        self._send(200, body)
        return True

    def _stream(self, api: str, dep: _Deployment, model: str, text: str, finish: str, stop_seq: str | None,
                n_in: int, n_out: int, faults: Faults, spread: float, body: dict[str, Any]) -> bool:
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
        events = _anthropic_events if api == "anthropic" else _openai_events
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        sent = 0
        for kind, data in events(api, model, pieces, finish, stop_seq, n_in, n_out, include_usage):
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


def _sse(obj: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + json.dumps(obj).encode() + b"\n\n"


def _openai_events(api: str, model: str, pieces: list[str], finish: str, stop_seq: str | None, n_in: int,
                   n_out: int, include_usage: bool) -> Iterable[tuple[str, bytes]]:
    base = {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model, "system_fingerprint": "routerlab-local"}
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], reason: str | None = None, **more: Any) -> bytes:
        return _sse({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
                     **extra, **more})

    usage = {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}
    yield "head", chunk({"role": "assistant", "content": ""})
    for p in pieces:
        yield "text", chunk({"content": p})
    groq_usage = {"x_groq": {"id": base["id"], "usage": usage}} if api == "groq" else {}
    yield "end", chunk({}, finish, **groq_usage)
    if include_usage:
        yield "usage", _sse({**base, "choices": [], "usage": usage})
    yield "done", b"data: [DONE]\n\n"


def _anthropic_events(api: str, model: str, pieces: list[str], finish: str, stop_seq: str | None, n_in: int,
                      n_out: int, include_usage: bool) -> Iterable[tuple[str, bytes]]:
    msg = {"id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant", "model": model,
           "content": [], "stop_reason": None, "stop_sequence": None,
           "usage": {"input_tokens": n_in, "output_tokens": 1}}
    yield "head", _sse({"type": "message_start", "message": msg}, "message_start")
    yield "head", _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                       "content_block_start")
    yield "head", _sse({"type": "ping"}, "ping")
    for p in pieces:
        yield "text", _sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}},
                           "content_block_delta")
    yield "end", _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    reason = {"stop": "stop_sequence" if stop_seq else "end_turn", "length": "max_tokens"}[finish]
    yield "end", _sse({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": stop_seq},
                       "usage": {"output_tokens": n_out}}, "message_delta")
    yield "done", _sse({"type": "message_stop"}, "message_stop")


_STATUS_TEXT = {429: "Rate limit reached for requests (injected by routerlab's local server).",
                500: "The server had an error while processing your request (injected).",
                502: "Bad gateway (injected).", 503: "The service is temporarily unavailable (injected).",
                529: "Overloaded (injected).", 400: "Bad request (injected).", 401: "Unauthorized (injected).",
                403: "Forbidden (injected).", 404: "Not found (injected)."}
_STATUS_CODE = {429: "rate_limit_exceeded", 500: "server_error", 503: "service_unavailable"}


# --- command line ----------------------------------------------------------------------------------
def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_fault(spec: str) -> tuple[str, dict[str, Any]]:
    """Parse a ``--fault`` flag: ``DEPLOYMENT:field=value,...``; ``start``/``end`` make it a window.

    Example::

        >>> parse_fault("P1:status=429,retry_after=7")
        ('P1', {'status': 429, 'retry_after': 7})
        >>> parse_fault("P2:status=503,start=0,end=30")
        ('P2', {'windows': [{'start': 0, 'end': 30, 'status': 503}]})
    """
    dep, sep, rest = spec.partition(":")
    if not sep or not dep:
        raise ConfigError(f"--fault {spec!r}: expected DEPLOYMENT:field=value[,field=value...]")
    fields: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        key, eq, val = part.partition("=")
        if not eq:
            raise ConfigError(f"--fault {spec!r}: {part!r} is not field=value")
        fields[key.strip()] = _value(val.strip())
    unknown = set(fields) - _FAULT_FIELDS - {"start", "end"}
    if unknown:
        raise ConfigError(f"--fault {spec!r}: unknown fields {sorted(unknown)}; known: {sorted(_FAULT_FIELDS)}")
    if "start" in fields or "end" in fields:
        window = {"start": fields.pop("start", 0), "end": fields.pop("end", float("inf")), **fields}
        return dep, {"windows": [window]}
    return dep, fields


def serve_main(argv: Sequence[str] | None = None) -> int:
    """``routerlab serve``: run the local provider server until interrupted.

    Prints one JSON line (``{"url": ..., "port": ..., "deployments": [...]}``) once it listens.

    Example::

        $ routerlab serve --port 8000 --deployments P1,P2,P3 --latency-scale 0.1 \\
              --fault P1:status=429,retry_after=7 --fault P2:status=503,start=0,end=30
    """
    ap = argparse.ArgumentParser(prog="routerlab serve", description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--deployments", default="P1,P2,P3", help="comma-separated deployment names")
    ap.add_argument("--latency-scale", type=float, default=1.0, help="× catalog latency (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fault", action="append", default=[], metavar="DEP:FIELD=VALUE,...",
                    help="inject a fault (repeatable); start=/end= make it a time window; DEP may be '*'")
    ap.add_argument("--api-key-env", action="append", default=[], metavar="DEP=VARIABLE",
                    help="require the key held in environment VARIABLE on deployment DEP")
    ap.add_argument("--dataset", default=None, help="answer from a routerlab dataset (e.g. zeroeval)")
    args = ap.parse_args(list(argv) if argv is not None else None)

    import os

    answers: Answers | None = None
    if args.dataset:
        try:
            from . import datasets  # type: ignore[attr-defined]

            answers = answers_from_dataset(datasets.load(args.dataset))  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001
            print(f"routerlab serve: cannot load dataset {args.dataset!r} ({exc}); echoing instead", file=sys.stderr)
    try:
        srv = ProviderServer([d.strip() for d in args.deployments.split(",") if d.strip()], port=args.port,
                             answers=answers, latency_scale=args.latency_scale, seed=args.seed)
        for spec in args.fault:
            dep, fields = parse_fault(spec)
            for d in srv._targets(dep):
                merged = d.faults.to_dict()
                windows = merged.pop("windows") + fields.pop("windows", [])
                srv.set_faults(d.name, {**merged, **fields, "windows": windows})
        for item in args.api_key_env:
            dep, _, var = item.partition("=")
            if not os.environ.get(var):
                raise ConfigError(f"--api-key-env {item!r}: environment variable {var!r} is not set")
            srv.set_api_key(dep, os.environ[var])
        srv.start()
    except (ConfigError, OSError) as exc:
        print(f"routerlab serve: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, lambda *_: stop.set())
        except ValueError:  # not the main thread
            pass
    print(json.dumps({"url": srv.url, "port": srv.port, "deployments": srv.deployments}), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(serve_main())
