"""The local provider server: deployments, fault injection, answers, request logs (see :mod:`routerlab.server`)."""

from __future__ import annotations

import hashlib
import math
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, Strict, StrictBool, field_validator, model_validator

from .._validation import Validated, validate
from .guard import DEFAULT_MAX_BODY, Access, parse_size
from .http import _Handler, _HTTPServer, _last_user
from ..catalog import Catalog, ModelSpec
from ..errors import ConfigError
from ..tokens import count_text

__all__ = ["ProviderServer", "Faults", "Window", "Answers", "answers_from_dataset"]

Answers = Callable[[str, list[dict[str, Any]]], "str | None"]
"""``(model, messages) -> answer text | None`` (``None``: not recorded, the server echoes)."""


NonNegative = Annotated[float, Strict(), Field(ge=0)]
Count = Annotated[int, Strict(), Field(ge=0)]
Status = Annotated[int, Strict(), Field(ge=100, le=599)]


class Window(Validated):
    """Fault overrides active from ``start`` to ``end`` seconds after the server's clock zero.

    Example::

        >>> w = Window(0, 30, status=503)          # an outage for the first 30 s
        >>> w.active(10.0), w.active(30.0)
        (True, False)
    """

    section = "window"
    start: Annotated[float, Strict()]
    end: Annotated[float, Strict(), Field(allow_inf_nan=True)]
    overrides: Mapping[str, Any] = Field(default_factory=dict)

    def __init__(self, start: float, end: float, overrides: Mapping[str, Any] | None = None, **faults: Any) -> None:
        super().__init__(start=start, end=end, overrides={**dict(overrides or {}), **faults})

    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @model_validator(mode="before")
    @classmethod
    def _fault_fields(cls, data: Any) -> Any:  # {start, end, status: 503} from a file: the rest are overrides
        if isinstance(data, Mapping) and "overrides" not in data:
            data = {"start": data.get("start"), "end": data.get("end"),
                    "overrides": {k: v for k, v in data.items() if k not in ("start", "end")}}
        return data

    @field_validator("overrides")
    @classmethod
    def _valid_faults(cls, value: Mapping[str, Any]) -> Mapping[str, Any]:
        if "windows" in value:
            raise ValueError("a window cannot hold windows")
        checked = validate(Faults, dict(value))  # names and values, as Faults checks them
        return {k: getattr(checked, k) for k in value}

    @model_validator(mode="after")
    def _a_real_span(self) -> Window:  # a window that can never be active is a typo, not a no-op
        if not (math.isfinite(self.start) and self.start >= 0):
            raise ValueError(f"start={self.start} must be a finite number of seconds >= 0 (0: from the start)")
        if math.isnan(self.end) or self.end <= self.start:
            raise ValueError(f"end={self.end} must be after start={self.start} (seconds; omit end for no end), "
                             "else the window is never active")
        return self

    def active(self, t: float) -> bool:
        return self.start <= t < self.end

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, **self.overrides}


class Faults(Validated):
    """What a deployment does wrong. All off by default; ``windows`` override fields for a time span.

    - ``status``: answer every request with this HTTP status (500, 503, 429, 529, ...)
    - ``error_rate`` / ``error_status``: that fraction of requests (seeded RNG) gets ``error_status``
    - ``retry_after``: seconds sent as ``Retry-After`` (rounded up) and ``retry-after-ms`` on errors;
      ``retry_after_header``: ``"both"``, ``"seconds"`` or ``"ms"``
    - ``hang``: hold the request this many seconds (``True``: ``max_hang``) without answering, then
      drop the connection; the server lets go early when the client hangs up
    - ``delay``: extra seconds before answering (a slow deployment); not scaled
    - ``cut_after``: a stream stops after this many text chunks and the connection is dropped
    - ``malformed``: answer 200 with a body not in the wire format (``"text"``: not JSON, ``"json"``:
      JSON of the wrong shape; ``True`` means ``"text"``)
    - ``context_limit`` / ``context_marker``: prompts over that many tokens, or containing the marker,
      get the provider's 400 context-length error
    - ``auth_fail``: 401 for every request
    - ``error_message`` / ``error_type`` / ``error_code``: the message, body error type and code of injected
      error replies (default: what the status implies), e.g. a 413 whose body says ``tokens`` /
      ``rate_limit_exceeded`` (a tokens-per-minute limit), or a 400 typed ``overloaded_error``
    - ``retry_after_raw``: a ``Retry-After`` header sent verbatim (``"1e12"``, ``"inf"``, ``"-5"``, garbage)
    - ``stream_error`` / ``stream_error_after``: streams answer 200, then send an error event of that type
      (``overloaded_error``, ``rate_limit_error``, ``server_error``, ...) after that many text chunks
    - ``reject_params`` / ``reject_status``: a host that rejects these parameters: a request carrying one
      gets ``reject_status`` (400 or 422) naming it (``reject_style``: ``"openai"`` error object or
      ``"pydantic"``'s ``{"detail": [...extra_forbidden...]}``)
    - ``cached_tokens`` / ``cache_write_tokens``: usage reports that many prompt tokens read from / written
      to the prompt cache (in each API's fields)
    - ``windows``: :class:`Window` schedules (relative to the server clock)

    Invalid fields or values raise :class:`~routerlab.errors.ConfigError` naming them.

    Example::

        >>> Faults(error_rate=0.5, error_status=500).at(0.0).error_rate
        0.5
    """

    section = "faults"
    status: Status | None = None
    error_rate: Annotated[float, Strict(), Field(ge=0, le=1)] = 0.0
    error_status: Status = 500
    retry_after: NonNegative | None = None
    retry_after_header: Literal["both", "seconds", "ms"] = "both"
    hang: StrictBool | NonNegative | None = None
    delay: NonNegative = 0.0
    cut_after: Count | None = None
    malformed: StrictBool | Literal["text", "json"] = False
    context_limit: Count | None = None
    context_marker: Annotated[str, Strict(), Field(min_length=1)] | None = None
    auth_fail: StrictBool = False
    error_message: Annotated[str, Strict()] | None = None
    error_type: Annotated[str, Strict()] | None = None
    error_code: Annotated[str, Strict()] | None = None
    retry_after_raw: Annotated[str, Strict()] | None = None
    stream_error: Annotated[str, Strict(), Field(min_length=1)] | None = None
    stream_error_after: Count = 0
    reject_params: tuple[Annotated[str, Strict()], ...] = ()
    reject_status: Literal[400, 422] = 400
    reject_style: Literal["openai", "pydantic"] = "openai"
    cached_tokens: Count | None = None
    cache_write_tokens: Count | None = None
    windows: tuple[Window, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """Faults from plain data (a file, a ``--fault`` flag, an admin POST); errors name the field."""
        return validate(cls, dict(data), prefix="faults")

    def at(self, t: float) -> Faults:
        """The faults in force at time ``t`` (windows applied in order; later ones win)."""
        active = [w for w in self.windows if w.active(t)]
        if not active:
            return self
        merged: dict[str, Any] = {}
        for w in active:
            merged.update(w.overrides)
        return self.model_copy(update={**merged, "windows": ()})  # overrides were validated with their window

    def to_dict(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in type(self).model_fields}
        d["windows"] = [w.to_dict() for w in self.windows]
        return d


_FAULT_FIELDS = set(Faults.model_fields) - {"windows"}


def answers_from_dataset(ds: Any, catalog: Catalog | None = None) -> Answers:
    """Answers from a routerlab Dataset: ``ds.find_prompt(text)`` then ``ds.outcomes.response(id, model)``.

    Example::

        >>> from routerlab import datasets                                        # doctest: +SKIP
        >>> srv = ProviderServer(answers=answers_from_dataset(datasets.load("zeroeval")))  # doctest: +SKIP
    """
    cat = catalog or getattr(ds, "catalog", None) or Catalog.default()

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

        cat = Catalog.default()

        def lookup(model: str, messages: list[dict[str, Any]]) -> str | None:
            prompt = _last_user(messages)
            name = cat.canonical(model) if model in cat else model
            return table.get((model, prompt), table.get((name, prompt), table.get(prompt)))

        return lookup
    if callable(answers):
        return answers
    raise ConfigError("answers must be a callable (model, messages) -> str | None, or a dict keyed by "
                      "prompt or (model, prompt)")


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

    - ``deployments``: names served under ``/d/<name>``; ``port=0`` picks a free port
    - ``answers``: ``(wire model, messages) -> str | None``, or a dict keyed by prompt or by
      ``(model, prompt)`` (wire or catalog model name); unknown prompts are echoed (``"Echo: <prompt>"``)
    - ``latency_scale``: × the catalog latency profile (0: answer at once); ``seed``: latency and
      ``error_rate`` draws, one stream per deployment
    - ``faults``: ``{deployment: Faults | dict}``; ``api_keys``: ``{deployment: key}`` to require
    - ``max_hang``: the longest a ``hang`` fault holds a request (the server also lets go as soon as the
      client hangs up, or at ``stop``)
    - ``max_body``: the largest request body in bytes (or ``"8MiB"``); larger ones get a 413 in the route's
      wire format, read in bounded memory (see :mod:`routerlab.server.guard`)
    - ``admin_token``: what HTTP admin routes (``/_admin/...``) require (default: a random one, in
      ``srv.admin_token``); the Python API (``set_faults``, ``log``, ...) needs none
    - ``allowed_hosts`` / ``allowed_origins``: ``Host`` names and browser origins accepted besides this
      machine's own (anything else gets a 403)

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
                 max_hang: float = 600.0, max_body: int | str = DEFAULT_MAX_BODY, admin_token: str | None = None,
                 allowed_hosts: Iterable[str] = (), allowed_origins: Iterable[str] = ()) -> None:
        names = list(deployments)
        if not names or len(set(names)) != len(names) or any(not re.fullmatch(r"[\w.\-]+", n) for n in names):
            raise ConfigError(f"deployments must be distinct names of letters, digits, '_', '-', '.'; got {names!r}")
        if host not in ("127.0.0.1", "localhost"):
            raise ConfigError("ProviderServer binds loopback only (host='127.0.0.1')")
        self.host, self.requested_port = host, int(port)
        self.latency_scale = float(latency_scale)
        self.seed, self.clock, self.max_hang = seed, clock, float(max_hang)
        self.max_body = parse_size(max_body)
        self.access = Access.build(admin_token, allowed_hosts, allowed_origins)
        self.catalog = catalog or Catalog.default()
        self._answers = _as_answers(answers)
        self._lock = threading.Lock()
        self._deps = {n: _Deployment(n, seed) for n in names}
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
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
        count_text("warm up")  # load the encoding now, not inside the first request's latency
        self._httpd = _HTTPServer((self.host, self.requested_port), _Handler)
        self._httpd.app = self
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

    close = stop

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

    @property
    def admin_token(self) -> str:
        """The token HTTP admin routes require (``Authorization: Bearer <token>``)."""
        return self.access.admin_token

    @property
    def admin_headers(self) -> dict[str, str]:
        """The headers of an HTTP admin request.

        Example::

            >>> httpx.get(srv.url + "/_admin/log/P1", headers=srv.admin_headers).json()   # doctest: +SKIP
        """
        return {"authorization": f"Bearer {self.admin_token}"}

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
        new = base.replace(**fields) if fields else base  # names and values checked before anything changes
        with self._lock:
            for d in self._targets(deployment):
                d.faults = new
        return new

    def update_faults(self, deployment: str, **fields: Any) -> Faults:
        """Change some fault fields of a deployment, keeping the others."""
        with self._lock:
            targets = self._targets(deployment)
            new = [d.faults.replace(**fields) for d in targets]  # all checked before any changes
            for d, f in zip(targets, new):
                d.faults = f
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


# --- command line ----------------------------------------------------------------------------------
