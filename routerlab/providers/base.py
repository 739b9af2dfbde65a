"""The Provider protocol and what every SDK adapter shares.

A provider turns ``(Request, catalog model name)`` into a :class:`~routerlab.types.Completion` through
one official SDK, or streams it. Everything SDK-specific (wire format, error classes, usage fields)
stays inside ``routerlab/providers/``; callers only ever see routerlab types and
:mod:`routerlab.errors` exceptions:

========================================  =================================================================
what happened                             raised
========================================  =================================================================
an error reply (status, body, message)    its kind (:func:`routerlab.providers.classify.classify`): the
                                          body's error type first (also an error event inside a 200
                                          stream), then the message (context overflow, a key's limit),
                                          then the status: RateLimited (``retry_after`` in s),
                                          DeploymentLimit, ServerError, Overloaded, AuthError, NotFound,
                                          ContextTooLong, BadRequest, ...
a 400/422 naming a parameter sent         one retry without it, remembered (:class:`~routerlab.providers.compat.Compat`)
the request cannot be sent                :class:`~routerlab.errors.InvalidRequest` (before any byte goes out)
deadline exceeded                         :class:`~routerlab.errors.Timeout`
cannot connect / connection dropped       :class:`~routerlab.errors.ConnectionFailed`
reply not in the provider's format        :class:`~routerlab.errors.MalformedResponse`
stream cut after text was emitted         :class:`~routerlab.errors.StreamInterrupted` (``tokens`` charged)
========================================  =================================================================

Token usage includes the prompt-cache fields each API reports (OpenAI's
``prompt_tokens_details.cached_tokens``, Anthropic's ``cache_read_input_tokens`` /
``cache_creation_input_tokens``, DeepSeek's ``prompt_cache_hit_tokens``, ...): a Completion's
``cached_tokens`` and ``cache_write_tokens`` count inside its ``input_tokens`` and are priced as such.

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
import importlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, Protocol, cast, runtime_checkable

from .._aio import run_sync  # the package's one sync bridge (re-exported as providers.run_sync)
from .._text import clip_sentences
from ..catalog import Catalog, ModelSpec
from ..errors import (
    ConfigError,
    ConnectionFailed,
    InvalidRequest,
    MalformedResponse,
    ProviderError,
    StreamInterrupted,
    Timeout,
    UnsupportedParameter,
)
from ..tokens import count_message_tokens, count_text
from ..types import Completion, Request
from .classify import classify, parse_retry_after, unsupported, unsupported_parameter
from .compat import Compat, candidates, sampling_problem, unsendable
from .secret import Secret, is_env_name, redacted

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
    "cache_fields",
]

log = logging.getLogger("routerlab.providers")

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


# --- errors and usage ----------------------------------------------------------------------------
def error_from_status(status: int, message: str, *, headers: Mapping[str, str] | None = None,
                      code: str | None = None, deployment: str | None = None,
                      tokens: tuple[int, int] = (0, 0)) -> ProviderError:
    """The routerlab exception for an HTTP error status and message (``message`` must already be redacted);
    ``code`` is the body's error type or code, when known (see :func:`routerlab.providers.classify.classify`).

    Example::

        >>> e = error_from_status(429, "slow down", headers={"retry-after": "7"})
        >>> type(e).__name__, e.retry_after
        ('RateLimited', 7.0)
    """
    body = {"error": {"message": message, "code": code}}
    return classify(status, body, message=message, headers=headers, deployment=deployment, tokens=tokens)


# prompt-cache fields, as each API reports them (read: served from the cache; write: stored into it)
_CACHE_READ = tuple(n.split(".") for n in (
    "prompt_tokens_details.cached_tokens", "input_tokens_details.cached_tokens", "prompt_cache_hit_tokens",
    "cached_tokens", "cache_read_input_tokens", "cached_content_token_count"))
_CACHE_WRITE = tuple(n.split(".") for n in (
    "prompt_tokens_details.cache_write_tokens", "cache_creation_input_tokens", "cache_write_tokens"))


def _fields(obj: Any) -> Mapping[str, Any]:
    """An object's fields as a mapping, without attribute look-ups that raise (a pydantic model answers a
    missing attribute with an exception: ~10 us each, per call, on the hot path)."""
    if isinstance(obj, Mapping):
        return obj
    fields = getattr(obj, "__dict__", None)
    if fields is None:
        return {}
    extra = getattr(obj, "__pydantic_extra__", None)  # the SDKs keep undeclared fields there
    return {**fields, **extra} if extra else fields


def _field(obj: Any, path: list[str]) -> Any:
    for part in path:
        obj = _fields(obj).get(part)
        if obj is None:
            return None
    return obj


def usage_field(usage: Any, name: str) -> Any:
    """A field of a usage object or mapping (None when absent)."""
    return _fields(usage).get(name) if usage is not None else None


def _first_count(usage: Any, paths: tuple[list[str], ...]) -> int:
    for path in paths:
        value = _field(usage, path)
        if isinstance(value, (int, float)):
            return max(int(value), 0)
    return 0


def cache_fields(usage: Any) -> tuple[int, int]:
    """``(cached, cache_write)`` input tokens from a usage object or mapping of any of the SDKs.

    Example::

        >>> cache_fields({"prompt_tokens": 2006, "prompt_tokens_details": {"cached_tokens": 1920}})
        (1920, 0)
        >>> cache_fields({"input_tokens": 50, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20})
        (100, 20)
    """
    return _first_count(usage, _CACHE_READ), _first_count(usage, _CACHE_WRITE)


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
    """What the SDK adapters share: the key, one async client per event loop, the request's wire form
    (compatibility settings, the check that it can be sent), costs and errors.

    Subclasses set ``name``, ``package`` and ``default_key_env`` and implement ``_new_client``,
    ``_params`` (the request as the API's keyword arguments), ``_complete`` and ``_stream`` (which send
    ``state.params``, set ``state.received`` once the reply arrives and fill ``state``'s usage).
    ``compat`` (a :class:`~routerlab.providers.compat.Compat` or mapping) says how the host differs; a
    host that rejects a parameter updates it at run time.
    """

    name: str = "base"
    package: str = ""
    default_key_env: str = ""
    default_base_url: str | None = None

    def __init__(self, *, base_url: str | None = None, api_key_env: str | None = None,
                 deployment: str | None = None, timeout: float = 60.0, catalog: Catalog | None = None,
                 name: str | None = None, max_output_default: int = 4096,
                 compat: Compat | Mapping[str, Any] | None = None) -> None:
        if name:
            self.name = name
        self.base_url = base_url or self.default_base_url
        self.api_key_env = api_key_env or self.default_key_env
        self.deployment = deployment or self.name
        if timeout is None or not 0 < timeout < float("inf"):
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = float(timeout)
        self.catalog = catalog
        self.max_output_default = int(max_output_default)
        self.compat = compat if isinstance(compat, Compat) else Compat(**dict(compat or {}))
        if not is_env_name(self.api_key_env):  # most likely a key pasted in place of its variable's name
            raise ConfigError(
                f"api_key_env of the {self.name} provider (deployment {self.deployment!r}) is not an environment "
                "variable name (letters, digits, _): it must name the variable that holds the key, never the key "
                "itself. Put the key in the environment and name its variable, e.g. api_key_env='OPENAI_API_KEY'.")
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
        """The whole answer of ``model`` to ``request``, with usage (cached tokens included), cost and
        measured latency. Raises the routerlab error of the reply (see the module docstring); a request
        that cannot be sent raises :class:`~routerlab.errors.InvalidRequest` before any byte goes out.

        Example::

            >>> c = await provider.complete(Request.from_prompt("2+2?"), "gpt-4o-mini")  # doctest: +SKIP
        """
        spec = self.spec(model)
        deadline = self.timeout if timeout is None else float(timeout)
        self._client()  # built (and its lazy imports paid) outside the deadline and the latency
        end = asyncio.get_running_loop().time() + deadline + 0.05  # the SDK's own timeout normally fires first
        start = time.perf_counter()
        for retry in (False, True):
            state = self._prepare(request, spec, stream=False)
            err: ProviderError | None = None
            try:
                async with asyncio.timeout_at(end):
                    text, finish = await self._complete(request, spec, deadline, state)
            except Exception as exc:  # noqa: BLE001 - every SDK error becomes a routerlab error (or is re-raised)
                err = self._error(exc, deadline, state)
            if err is None:
                return self._completion(spec, text, state, finish, time.perf_counter() - start, None)
            if retry or not self._learn(err):
                raise err  # raised outside the except block: no SDK exception (holding headers) chained
        raise AssertionError("unreachable")  # pragma: no cover

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
        for retry in (False, True):
            state = self._prepare(request, spec, stream=True)
            try:
                async for delta in self._deltas(request, spec, deadline, state, end, start):
                    yield delta
                break
            except UnsupportedParameter as exc:  # the host rejected a parameter before any text
                if retry or not self._learn(exc):
                    raise
        yield self._completion(spec, "".join(state.parts), state, state.finish, time.perf_counter() - start,
                               state.ttft)

    async def _deltas(self, request: Request, spec: ModelSpec, deadline: float, state: _StreamState, end: float,
                      start: float) -> AsyncIterator[str]:
        """The adapter's deltas, each pull under the deadline, errors mapped (StreamInterrupted after text)."""
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
                except Exception as exc:  # noqa: BLE001
                    err = self._error(exc, deadline, state)
                if err is not None:
                    raise self._interrupted(err, state)
                if delta is None:
                    return
                if delta:
                    if state.ttft is None:
                        state.ttft = time.perf_counter() - start
                    state.parts.append(delta)
                    yield delta
        finally:
            await inner.aclose()

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
        except Exception as exc:  # noqa: BLE001
            err = self._error(exc, deadline, None)
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

    # --- the request on the wire -----------------------------------------------------------------
    def _prepare(self, request: Request, spec: ModelSpec, *, stream: bool) -> _StreamState:
        """The request as this host takes it (a request the adapter cannot build is InvalidRequest; one the SDK
        cannot encode is found when it refuses, before any byte goes out, and named by :func:`unsendable`)."""
        problem = sampling_problem(request)
        if problem:
            raise InvalidRequest(self._client_error(problem), deployment=self.deployment)
        try:
            params = self._params(request, spec)
        except InvalidRequest:
            raise
        except (TypeError, ValueError) as exc:  # e.g. tools that are not JSON: the caller's request
            raise InvalidRequest(self._client_error(f"{type(exc).__name__}: {exc}"), deployment=self.deployment) from None
        if stream:
            params.update(self._stream_params())
        state = _StreamState(request)
        state.params = self.compat.apply(params)
        return state

    def _client_error(self, what: str) -> str:
        return (f"{self.name} (deployment {self.deployment}): the request cannot be sent: "
                f"{clip_sentences(self._secret.redact(what), 400)}; fix the request (this is not the provider's fault)")

    def _learn(self, err: ProviderError) -> bool:
        """After a reply rejecting a parameter: drop or rename it for this deployment; True to retry once."""
        if not isinstance(err, UnsupportedParameter):
            return False
        new = self.compat.without(err.param)
        if new is None:
            return False
        self.compat = new
        log.warning("deployment %s rejects the parameter %r: compat is now %s (put it in the deployment's "
                    "config to skip the first failure)", self.deployment, err.param, new.describe())
        return True

    async def _post(self, path: str, params: Mapping[str, Any], timeout: float) -> Any:
        """A whole-answer request through the SDK client's ``post`` (its auth, headers, connection pool,
        timeout and error classes), the body already in wire form, the reply as parsed JSON (a text reply
        as ``str``). The SDK's per-call parameter transform and response models (~0.3-0.5 ms of CPU
        together, most of a call's client cost beside the transport) change nothing for the plain JSON the
        adapters build and read."""
        body = {k: v for k, v in params.items() if k != "extra_body"}
        body.update(params.get("extra_body") or {})
        return await self._client().post(path, cast_to=object, body=body, options={"timeout": timeout})

    # --- for subclasses --------------------------------------------------------------------------
    def _params(self, request: Request, spec: ModelSpec) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover

    def _stream_params(self) -> dict[str, Any]:
        return {"stream": True}

    async def _complete(self, request: Request, spec: ModelSpec, timeout: float,
                        state: _StreamState) -> tuple[str, str | None]:
        raise NotImplementedError  # pragma: no cover

    def _stream(self, request: Request, spec: ModelSpec, timeout: float, state: _StreamState) -> AsyncIterator[str]:
        raise NotImplementedError  # pragma: no cover

    def _error(self, exc: BaseException, timeout: float, state: _StreamState | None) -> ProviderError:
        """Any exception of an attempt as a routerlab error; re-raised as is when it is not one (a bug)."""
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, TimeoutError):
            return Timeout(f"{self.name} did not answer within {timeout:g} s", deployment=self.deployment)
        err = self._map_exception(exc, timeout, state)
        if err is None:
            raise exc
        return err

    def _map_exception(self, exc: BaseException, timeout: float, state: _StreamState | None = None) -> ProviderError | None:
        """Map an SDK exception (the three SDKs share Stainless's classes) or an httpx/json failure."""
        sdk = self._sdk
        if isinstance(exc, getattr(sdk, "APIResponseValidationError", ())):
            return self._malformed(exc)
        if isinstance(exc, getattr(sdk, "APIStatusError", ())) or (
                isinstance(exc, getattr(sdk, "APIError", ())) and getattr(exc, "body", None) is not None):
            return self._reply_error(exc, state)
        if isinstance(exc, getattr(sdk, "APITimeoutError", ())):
            return Timeout(f"{self.name} did not answer within {timeout:g} s", deployment=self.deployment)
        if isinstance(exc, getattr(sdk, "APIConnectionError", ())):
            cause = exc.__cause__ or exc.__context__
            said = clip_sentences(self._secret.redact(str(cause)), 200) if cause else ""
            detail = f" ({type(cause).__name__}: {said})" if cause else ""
            return ConnectionFailed(f"{self.name} at {self.base_url or 'its default URL'} could not be "
                                    f"reached{detail}", deployment=self.deployment)
        return self._local_exception(exc, timeout, state)

    def _local_exception(self, exc: BaseException, timeout: float, state: _StreamState | None) -> ProviderError | None:
        kind = type(exc).__name__
        module = type(exc).__module__.split(".")[0]
        if isinstance(exc, asyncio.TimeoutError) or (module.startswith("httpx") and "Timeout" in kind):
            return Timeout(f"{self.name} did not answer within {timeout:g} s ({kind})", deployment=self.deployment)
        if isinstance(exc, json.JSONDecodeError) or kind == "ValidationError":
            return self._malformed(exc)
        if isinstance(exc, OSError) or module.startswith("httpx"):  # RemoteProtocolError, ReadError, ...
            msg = clip_sentences(self._secret.redact(str(exc)), 300)
            return ConnectionFailed(f"{self.name} connection failed: {kind}: {msg}", deployment=self.deployment)
        received = state is None or state.received
        if not received and isinstance(exc, (TypeError, ValueError, UnicodeError)):  # raised before any byte went out
            what = unsendable(state.params) if state is not None else None  # name the field when we can
            return InvalidRequest(self._client_error(what or f"{kind}: {exc}"), deployment=self.deployment)
        if received and isinstance(exc, (TypeError, ValueError, AttributeError, KeyError, IndexError)):
            return self._malformed(exc)  # our reading of a reply that does not have the expected shape
        return None  # not a provider failure (a bug, a cancellation): re-raised as is

    def _malformed(self, exc: BaseException) -> MalformedResponse:
        return MalformedResponse(f"{self.name} reply is not in its wire format: {type(exc).__name__}: "
                                 f"{clip_sentences(self._secret.redact(str(exc)), 300)}", deployment=self.deployment)

    def _reply_error(self, exc: Any, state: _StreamState | None) -> ProviderError:
        """An error reply (a status error, or an error event inside a stream) classified by what it says."""
        body = redacted(getattr(exc, "body", None), self._secret.redact)
        response = getattr(exc, "response", None)
        headers = dict(response.headers.items()) if response is not None else None
        status = getattr(exc, "status_code", None)
        err = classify(int(status) if status is not None else None, body,
                       message=self._secret.redact(str(getattr(exc, "message", exc))), headers=headers,
                       deployment=self.deployment)
        param = unsupported_parameter(err, body, candidates(state.params)) if state is not None else None
        return unsupported(err, param) if param is not None else err

    def _max_tokens(self, request: Request, spec: ModelSpec) -> int:
        """The output budget: the request's, else the model's ``max_output`` capped by ``max_output_default``."""
        return int(request.max_tokens or min(spec.max_output, self.max_output_default))

    def _completion(self, spec: ModelSpec, text: str, state: _StreamState, finish: str | None, latency: float,
                    ttft: float | None) -> Completion:
        n_in = state.input_tokens if state.input_tokens is not None else state.prompt_tokens()
        n_out = state.output_tokens if state.output_tokens is not None else count_text(text)
        cached = min(state.cached_tokens, n_in)
        written = min(state.cache_write_tokens, n_in - cached)
        return Completion(
            text=text, model=spec.name, provider=self.name, input_tokens=int(n_in), output_tokens=int(n_out),
            cost=float(spec.cost(n_in, n_out, cached_tokens=cached, cache_write_tokens=written)), latency=latency,
            ttft=ttft, simulated_latency=False, finish_reason=normalize_finish_reason(finish),
            deployment=self.deployment, cached_tokens=cached, cache_write_tokens=written,
        )


class _StreamState:
    """What one exchange with the provider learned so far: the parameters sent, whether a reply arrived,
    the text, usage (cache fields included) and the stop reason, as adapters fill them in."""

    __slots__ = ("parts", "ttft", "finish", "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens",
                 "request", "params", "received")

    def __init__(self, request: Request) -> None:
        self.parts: list[str] = []
        self.ttft: float | None = None
        self.finish: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cached_tokens = self.cache_write_tokens = 0
        self.request = request
        self.params: dict[str, Any] = {}
        self.received = False

    def prompt_tokens(self) -> int:
        """Our count of the prompt, for when the provider reported none before failing."""
        return count_message_tokens(self.request.messages_as_dicts())
