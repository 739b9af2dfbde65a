"""The Provider protocol and what every SDK adapter shares.

A provider turns ``(Request, catalog model name)`` into a :class:`~routerlab.types.Completion` through
one official SDK, or streams it. Everything SDK-specific (wire format, error classes, usage fields)
stays inside ``routerlab/providers/``; callers only ever see routerlab types and
:mod:`routerlab.errors` exceptions:

=====================================  ==========================================
what happened                          raised
=====================================  ==========================================
429 (``Retry-After``/``retry-after-ms``) :class:`~routerlab.errors.RateLimited` (``retry_after`` in s)
deadline exceeded                      :class:`~routerlab.errors.Timeout`
cannot connect / connection dropped    :class:`~routerlab.errors.ConnectionFailed`
5xx                                    :class:`~routerlab.errors.ServerError`
400 context length                     :class:`~routerlab.errors.ContextTooLong`
other 4xx                              :class:`~routerlab.errors.BadRequest`
401 / 403                              :class:`~routerlab.errors.AuthError`
reply not in the provider's format     :class:`~routerlab.errors.MalformedResponse`
stream cut after text was emitted      :class:`~routerlab.errors.StreamInterrupted` (``tokens`` charged)
=====================================  ==========================================

Example::

    >>> from routerlab.providers import make_provider
    >>> from routerlab.types import Request
    >>> p = make_provider("openai", base_url="http://127.0.0.1:8000/d/P1/v1", deployment="P1")  # doctest: +SKIP
    >>> c = p.complete_sync(Request.from_prompt("2+2?"), "gpt-4o-mini")                         # doctest: +SKIP
    >>> c.model, c.provider, c.deployment                                                         # doctest: +SKIP
    ('gpt-4o-mini', 'openai', 'P1')
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import json
import os
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, Protocol, cast, runtime_checkable

from .._aio import run_sync  # the package's one sync bridge (re-exported as providers.run_sync)
from ..catalog import Catalog, ModelSpec
from ..errors import (
    AuthError,
    BadRequest,
    ConfigError,
    ConnectionFailed,
    ContextTooLong,
    MalformedResponse,
    ProviderError,
    RateLimited,
    ServerError,
    StreamInterrupted,
    Timeout,
)
from ..tokens import count_message_tokens, count_text
from ..types import Completion, Request

__all__ = [
    "Provider",
    "BaseProvider",
    "Secret",
    "StreamItem",
    "count_message_tokens",
    "parse_retry_after",
    "error_from_status",
    "normalize_finish_reason",
    "collect_stream",
    "run_sync",
]


StreamItem = str | Completion
"""What :meth:`Provider.stream` yields: text deltas (``str``), then exactly one final ``Completion``."""


@runtime_checkable
class Provider(Protocol):
    """One deployment of one provider behind one SDK client.

    ``complete`` returns the whole answer; ``stream`` yields text deltas as they arrive and, last, the
    :class:`~routerlab.types.Completion` (same fields as ``complete``, with a measured ``ttft``).
    ``timeout`` is the whole attempt's deadline in seconds (``None``: the provider's default).

    Example::

        >>> async def show(p, req):                                     # doctest: +SKIP
        ...     async for item in p.stream(req, "gpt-4o-mini"):
        ...         print(item if isinstance(item, str) else item.output_tokens)
    """

    name: str
    deployment: str

    async def complete(self, request: Request, model: str, *, timeout: float | None = None) -> Completion: ...

    def stream(self, request: Request, model: str, *, timeout: float | None = None) -> AsyncIterator[StreamItem]: ...

    async def aclose(self) -> None: ...


class Secret:
    """An API key that never shows itself: ``repr``/``str`` print the variable name, not the value.

    Example::

        >>> s = Secret("sk-123", env="OPENAI_API_KEY")
        >>> s
        Secret(env='OPENAI_API_KEY')
        >>> s.reveal()
        'sk-123'
    """

    __slots__ = ("_value", "env")

    def __init__(self, value: str, *, env: str) -> None:
        self._value = value
        self.env = env

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with the key, and any 8-character piece of it, replaced by ``***``."""
        key = self._value
        if not key or not text:
            return text
        text = text.replace(key, "***")
        for width in (16, 12, 8):  # providers echo partial keys such as "sk-abc...wxyz"
            if len(key) < width:
                continue
            for i in range(len(key) - width + 1):
                piece = key[i:i + width]
                if piece in text:
                    text = text.replace(piece, "***")
        return text

    def __repr__(self) -> str:
        return f"Secret(env={self.env!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled into a cache or a results file
        raise TypeError("a Secret cannot be pickled; build the provider again from the environment")


# --- errors ------------------------------------------------------------------------------------
_CONTEXT_HINTS = ("context_length_exceeded", "context length", "context window", "prompt is too long",
                  "maximum context", "too many tokens", "reduce the length")


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (preferred) or ``Retry-After`` (seconds or HTTP date).

    Example::

        >>> parse_retry_after({"retry-after": "7"})
        7.0
        >>> parse_retry_after({"retry-after-ms": "1500", "retry-after": "2"})
        1.5
    """
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lower.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_from_status(status: int, message: str, *, headers: Mapping[str, str] | None = None,
                      code: str | None = None, deployment: str | None = None,
                      tokens: tuple[int, int] = (0, 0)) -> ProviderError:
    """The routerlab exception for an HTTP error status (``message`` must already be redacted).

    Example::

        >>> e = error_from_status(429, "slow down", headers={"retry-after": "7"})
        >>> type(e).__name__, e.retry_after
        ('RateLimited', 7.0)
    """
    text = f"HTTP {status}: {message}"
    kw: dict[str, Any] = {"status": status, "deployment": deployment, "tokens": tokens}
    if status == 429:
        return RateLimited(text, retry_after=parse_retry_after(headers), **kw)
    if status in (401, 403):
        return AuthError(f"{text} (check the API key variable and the deployment's access)", **kw)
    if status == 408:
        return Timeout(text, **kw)
    if status >= 500:
        return ServerError(text, retry_after=parse_retry_after(headers), **kw)
    hay = f"{code or ''} {message}".lower()
    if status in (400, 413, 422) and any(h in hay for h in _CONTEXT_HINTS):
        return ContextTooLong(text, **kw)
    return BadRequest(text, **kw)


_FINISH = {
    "stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "eos": "stop",
    "length": "length", "max_tokens": "length", "model_context_window_exceeded": "length",
    "tool_calls": "tool_calls", "tool_use": "tool_calls", "function_call": "tool_calls",
    "content_filter": "content_filter", "refusal": "content_filter", "pause_turn": "stop",
}


def normalize_finish_reason(reason: str | None) -> str | None:
    """One vocabulary for stop reasons: ``stop``, ``length``, ``tool_calls``, ``content_filter``.

    Example::

        >>> normalize_finish_reason("end_turn"), normalize_finish_reason("max_tokens")
        ('stop', 'length')
    """
    if reason is None:
        return None
    return _FINISH.get(str(reason), str(reason))


async def collect_stream(items: AsyncIterator[StreamItem], on_text: Callable[[str], Any] | None = None) -> Completion:
    """Drain a provider stream, calling ``on_text`` per delta, and return its final Completion."""
    final: Completion | None = None
    async for item in items:
        if isinstance(item, Completion):
            final = item
        elif on_text is not None:
            on_text(item)
    if final is None:
        raise MalformedResponse("the stream ended without a final Completion")
    return final


# --- the shared adapter --------------------------------------------------------------------------
class BaseProvider:
    """What the SDK adapters share: the key, one async client per event loop, costs and errors.

    Subclasses set ``name``, ``package`` and ``default_key_env`` and implement ``_new_client``,
    ``_complete`` and ``_stream``; they translate SDK exceptions with ``_map_exception``.
    """

    name: str = "base"
    package: str = ""
    default_key_env: str = ""
    default_base_url: str | None = None

    def __init__(self, *, base_url: str | None = None, api_key_env: str | None = None,
                 deployment: str | None = None, timeout: float = 60.0, catalog: Catalog | None = None,
                 name: str | None = None, max_output_default: int = 4096) -> None:
        if name:
            self.name = name
        self.base_url = base_url or self.default_base_url
        self.api_key_env = api_key_env or self.default_key_env
        self.deployment = deployment or self.name
        if timeout is None or timeout <= 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = float(timeout)
        self.catalog = catalog
        self.max_output_default = int(max_output_default)
        value = os.environ.get(self.api_key_env or "")
        if not value:
            raise ConfigError(
                f"environment variable {self.api_key_env!r} is not set: the {self.name} provider "
                f"(deployment {self.deployment!r}) reads its API key from it. Export it, or pass "
                "api_key_env='OTHER_VARIABLE'."
            )
        self._secret = Secret(value, env=self.api_key_env)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._sdk = self._import_sdk()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(deployment={self.deployment!r}, base_url={self.base_url!r}, "
                f"api_key_env={self.api_key_env!r}, timeout={self.timeout})")

    # --- SDK and client --------------------------------------------------------------------------
    def _import_sdk(self) -> Any:
        try:
            return importlib.import_module(self.package)
        except ImportError:
            raise ConfigError(
                f"the {self.name} provider needs the {self.package!r} package: pip install {self.package}"
            ) from None

    def _new_client(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _client(self) -> Any:
        """The SDK client of the running event loop (one per loop: async clients are loop-bound)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                for old in [lp for lp in self._clients if lp.is_closed()]:
                    del self._clients[old]  # its loop is gone; so is any use for its connections
                client = self._new_client()
                self._clients[loop] = client
            return client

    async def aclose(self) -> None:
        """Close the client of the running loop (others close with their loops)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.pop(loop, None)
        if client is not None:
            await client.close()

    # --- public API ------------------------------------------------------------------------------
    def spec(self, model: str) -> ModelSpec:
        """The catalog entry for ``model`` (raises UnknownModelError with close matches)."""
        return (self.catalog or Catalog.default())[model]

    async def complete(self, request: Request, model: str, *, timeout: float | None = None) -> Completion:
        """The whole answer of ``model`` to ``request``, with usage, cost and measured latency.

        Example::

            >>> c = await provider.complete(Request.from_prompt("2+2?"), "gpt-4o-mini")  # doctest: +SKIP
        """
        spec = self.spec(model)
        deadline = self.timeout if timeout is None else float(timeout)
        self._client()  # built (and its lazy imports paid) outside the deadline and the latency
        start = time.perf_counter()
        err: ProviderError | None = None
        try:
            async with asyncio.timeout(deadline + 0.05):  # the SDK's own timeout normally fires first
                text, n_in, n_out, finish = await self._complete(request, spec, deadline)
        except TimeoutError:
            err = Timeout(f"{self.name} did not answer within {deadline:g} s", deployment=self.deployment)
        except ProviderError as exc:
            err = exc
        except Exception as exc:  # noqa: BLE001 - every SDK error becomes a routerlab error
            err = self._map_exception(exc, deadline)
            if err is None:
                raise
        if err is not None:
            raise err  # raised outside the except block: no SDK exception (holding headers) chained
        return self._completion(spec, text, n_in, n_out, finish, time.perf_counter() - start, None)

    async def stream(self, request: Request, model: str, *, timeout: float | None = None) -> AsyncIterator[StreamItem]:
        """Yield text deltas as they arrive, then the final Completion (``ttft`` measured).

        A stream cut after some text was yielded raises StreamInterrupted with the tokens consumed
        (the caller must not retry: it would emit text twice); before any text, the usual errors.

        Example::

            >>> async for item in provider.stream(Request.from_prompt("hi"), "gpt-4o"):  # doctest: +SKIP
            ...     print(item)
        """
        spec = self.spec(model)
        deadline = self.timeout if timeout is None else float(timeout)
        self._client()
        start = time.perf_counter()
        end = asyncio.get_running_loop().time() + deadline + 0.05
        state = _StreamState(request)
        inner = cast(AsyncGenerator[str, None], self._stream(request, spec, deadline, state).__aiter__())
        try:
            while True:
                err: ProviderError | None = None
                delta: str | None = None
                # The deadline guards each pull, never a yield: a timeout held across a yield would
                # cancel the consumer's task wherever it happens to be awaiting.
                try:
                    async with asyncio.timeout_at(end):
                        delta = await inner.__anext__()
                except StopAsyncIteration:
                    if state.finish is None:
                        err = MalformedResponse("the stream ended without a stop reason (truncated)",
                                                deployment=self.deployment)
                except TimeoutError:
                    err = Timeout(f"{self.name} stream did not finish within {deadline:g} s",
                                  deployment=self.deployment)
                except ProviderError as exc:
                    err = exc
                except Exception as exc:  # noqa: BLE001
                    err = self._map_exception(exc, deadline)
                    if err is None and not state.parts:
                        raise
                    if err is None:
                        err = ProviderError(f"{self.name} stream failed: {type(exc).__name__}",
                                            deployment=self.deployment)
                if err is not None:
                    raise self._interrupted(err, state)
                if delta is None:
                    break
                if delta:
                    if state.ttft is None:
                        state.ttft = time.perf_counter() - start
                    state.parts.append(delta)
                    yield delta
        finally:
            await inner.aclose()
        text = "".join(state.parts)
        n_in = state.input_tokens if state.input_tokens is not None else state.prompt_tokens()
        n_out = state.output_tokens if state.output_tokens is not None else count_text(text)
        yield self._completion(spec, text, n_in, n_out, state.finish, time.perf_counter() - start, state.ttft)

    async def warmup(self, timeout: float | None = None) -> None:
        """Open a connection with a cheap authenticated call (``GET /models``); raises like ``complete``.

        A 401/403 here (AuthError) means the deployment is misconfigured before any user request.
        """
        client = self._client()
        deadline = self.timeout if timeout is None else float(timeout)
        err: ProviderError | None = None
        try:
            async with asyncio.timeout(deadline + 0.05):
                await client.models.list(timeout=deadline)
        except TimeoutError:
            err = Timeout(f"{self.name} did not answer within {deadline:g} s", deployment=self.deployment)
        except Exception as exc:  # noqa: BLE001
            err = self._map_exception(exc, deadline)
            if err is None:
                raise
        if err is not None:
            raise err

    def _interrupted(self, err: ProviderError, state: _StreamState) -> ProviderError:
        """After text went out, any failure is a StreamInterrupted charging the tokens consumed."""
        if not state.parts:
            err.deployment = err.deployment or self.deployment
            return err
        n_in = state.input_tokens if state.input_tokens is not None else state.prompt_tokens()
        n_out = max(state.output_tokens or 0, count_text("".join(state.parts)))
        return StreamInterrupted(
            f"{self.name} stream cut after {len(state.parts)} chunks ({n_out} output tokens): {err}",
            status=err.status, deployment=self.deployment, tokens=(n_in, n_out),
        )

    def complete_sync(self, request: Request, model: str, *, timeout: float | None = None) -> Completion:
        """``complete`` from sync code (works inside Jupyter's running loop)."""
        return run_sync(self.complete(request, model, timeout=timeout))

    # --- for subclasses --------------------------------------------------------------------------
    async def _complete(self, request: Request, spec: ModelSpec, timeout: float) -> tuple[str, int, int, str | None]:
        raise NotImplementedError  # pragma: no cover

    def _stream(self, request: Request, spec: ModelSpec, timeout: float, state: _StreamState) -> AsyncIterator[str]:
        raise NotImplementedError  # pragma: no cover

    def _map_exception(self, exc: BaseException, timeout: float) -> ProviderError | None:
        """Map an SDK exception (the three SDKs share Stainless's classes) or an httpx/json failure."""
        sdk = self._sdk
        kind = type(exc).__name__
        validation = getattr(sdk, "APIResponseValidationError", None)
        status_cls = getattr(sdk, "APIStatusError", None)
        if validation is not None and isinstance(exc, validation):
            return MalformedResponse(f"{self.name} reply is not in its wire format: "
                                     f"{self._secret.redact(str(exc))[:300]}", deployment=self.deployment)
        if status_cls is not None and isinstance(exc, status_cls):
            message, code = _error_fields(getattr(exc, "body", None), str(getattr(exc, "message", exc)))
            response = getattr(exc, "response", None)
            headers = dict(response.headers.items()) if response is not None else None
            return self._status_error(int(exc.status_code), message, headers, code)
        timeout_cls = getattr(sdk, "APITimeoutError", None)
        if timeout_cls is not None and isinstance(exc, timeout_cls):
            return Timeout(f"{self.name} did not answer within {timeout:g} s", deployment=self.deployment)
        conn_cls = getattr(sdk, "APIConnectionError", None)
        if conn_cls is not None and isinstance(exc, conn_cls):
            cause = exc.__cause__ or exc.__context__
            detail = f" ({type(cause).__name__}: {self._secret.redact(str(cause))[:200]})" if cause else ""
            return ConnectionFailed(f"{self.name} at {self.base_url or 'its default URL'} could not be "
                                    f"reached{detail}", deployment=self.deployment)
        msg = self._secret.redact(str(exc))[:300]
        module = type(exc).__module__.split(".")[0]
        if isinstance(exc, asyncio.TimeoutError) or (module.startswith("httpx") and "Timeout" in kind):
            return Timeout(f"{self.name} did not answer within {timeout:g} s ({kind})", deployment=self.deployment)
        if isinstance(exc, json.JSONDecodeError) or kind == "ValidationError":
            return MalformedResponse(f"{self.name} reply is not in its wire format: {kind}: {msg}",
                                     deployment=self.deployment)
        if isinstance(exc, OSError) or module.startswith("httpx"):  # RemoteProtocolError, ReadError, ...
            return ConnectionFailed(f"{self.name} connection failed: {kind}: {msg}", deployment=self.deployment)
        return None  # not a provider failure (a bug, a cancellation): re-raised as is

    def _status_error(self, status: int, message: str, headers: Mapping[str, str] | None,
                      code: str | None = None) -> ProviderError:
        return error_from_status(status, self._secret.redact(message), headers=headers, code=code,
                                 deployment=self.deployment)

    def _max_tokens(self, request: Request, spec: ModelSpec) -> int:
        """The output budget: the request's, else the model's ``max_output`` capped by ``max_output_default``."""
        return int(request.max_tokens or min(spec.max_output, self.max_output_default))

    def _completion(self, spec: ModelSpec, text: str, n_in: int, n_out: int, finish: str | None,
                    latency: float, ttft: float | None) -> Completion:
        return Completion(
            text=text, model=spec.name, provider=self.name, input_tokens=int(n_in), output_tokens=int(n_out),
            cost=float(spec.cost(n_in, n_out)), latency=latency, ttft=ttft, simulated_latency=False,
            finish_reason=normalize_finish_reason(finish), deployment=self.deployment,
        )


def _error_fields(body: Any, fallback: str) -> tuple[str, str | None]:
    """(message, code) from a provider error body: OpenAI/Groq ``{"error": {...}}``, Anthropic's too."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            message = inner.get("message") or fallback
            code = inner.get("code") or inner.get("type")
            return str(message), None if code is None else str(code)
        if isinstance(inner, str):
            return inner, None
    if isinstance(body, str) and body:
        return body[:300], None
    return fallback, None


class _StreamState:
    """What a stream learned so far; adapters fill usage and the stop reason as events arrive."""

    __slots__ = ("parts", "ttft", "finish", "input_tokens", "output_tokens", "request")

    def __init__(self, request: Request) -> None:
        self.parts: list[str] = []
        self.ttft: float | None = None
        self.finish: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.request = request

    def prompt_tokens(self) -> int:
        """Our count of the prompt, for when the provider reported none before failing."""
        return count_message_tokens(self.request.messages_as_dicts())
