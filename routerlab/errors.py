"""routerlab's exceptions: one hierarchy, messages that say what to fix, and one table of error kinds.

::

    RouterlabError
     ├── ConfigError              a bad argument, config file or routing table
     │    ├── UnknownModelError   a model name not in the catalog (lists close matches)
     │    └── NotFittedError      a learned router used before ``fit`` (also ValueError, AttributeError)
     ├── DatasetError             a malformed dataset / outcomes file (names file, line and field)
     ├── MissingOutcomeError      replay asked for a (prompt, model) that was never recorded
     ├── NoModelFitsError         every candidate was removed by a constraint (names it)
     ├── StoreError               the results store or a cache could not be read or written
     └── ProviderError            a provider call failed
          ├── RateLimited         429, with the provider's Retry-After if any
          │    └── DeploymentLimit this request exceeds a limit of this deployment's key (tokens per
          │                       minute, request size, quota): another deployment may take it
          ├── Timeout             the attempt exceeded its deadline
          ├── ConnectionFailed    the provider could not be reached
          ├── ServerError         5xx
          │    └── Overloaded     529 / ``overloaded_error``: the provider is overloaded
          ├── BadRequest          400 for the request itself (not the provider's fault)
          │    ├── ContextTooLong the request does not fit the model's context window
          │    ├── UnsupportedParameter  the host rejects a parameter the request carries
          │    └── InvalidRequest the request cannot be sent at all (the caller's error; also ValueError)
          ├── AuthError           401/403: the deployment is misconfigured
          ├── NotFound            404: the deployment does not serve the model (misconfigured)
          ├── MalformedResponse   the reply is not in the provider's wire format
          ├── StreamInterrupted   a stream was cut after some tokens were emitted
          └── Unavailable         no deployment can take the call now (says when one returns)

Every ``ConfigError`` is also a ``ValueError`` and ``UnknownModelError`` also a ``KeyError``, so code
that catches the built-in types keeps working.

**The table of error kinds.** What the live path does after a failed attempt is data, not code: each
:class:`ProviderError` class names an :class:`ErrorKind` (``error.kind``), one row of :data:`ERROR_KINDS`,
which says whether to retry the same deployment, try another deployment of the model, try the next
model of the fallback chain, count the failure against the deployment's health, take the deployment out
of rotation, honour ``Retry-After`` as its cooldown, and which HTTP statuses and provider error types
map to it. The Gateway, the load balancer and the exports (LiteLLM, Portkey, routing tables) all read
this one table (semantics: ``shared/RELIABILITY.md``).

Example::

    >>> ServerError("HTTP 503").kind.retry_same, AuthError("HTTP 401").kind.out_of_rotation
    (True, True)
    >>> statuses(lambda k: k.retry_same)
    [408, 429, 500, 502, 503, 504, 529]
    >>> statuses(lambda k: k.other_deployment and not k.retry_same)
    [401, 403, 404, 413]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "RouterlabError",
    "ConfigError",
    "UnknownModelError",
    "NotFittedError",
    "DatasetError",
    "MissingOutcomeError",
    "NoModelFitsError",
    "StoreError",
    "ProviderError",
    "RateLimited",
    "Timeout",
    "ConnectionFailed",
    "ServerError",
    "BadRequest",
    "ContextTooLong",
    "AuthError",
    "MalformedResponse",
    "StreamInterrupted",
    "Unavailable",
    "Overloaded",
    "DeploymentLimit",
    "NotFound",
    "UnsupportedParameter",
    "InvalidRequest",
    "ErrorKind",
    "ERROR_KINDS",
    "kind_of",
    "kind_for_status",
    "error_class",
    "statuses",
]


# --- the table of error kinds ----------------------------------------------------------------------
@dataclass(frozen=True)
class ErrorKind:
    """How the live path treats one kind of failed attempt (one row of :data:`ERROR_KINDS`).

    ``name`` is the outcome label (``attempts``, ``gateway.stats()``); ``retry_same``: another attempt
    on the same deployment may help (after backoff); ``other_deployment``: another deployment of the same
    model may help; ``fallback_model``: the next model of the fallback chain may help; ``counts``: the
    failure counts against the deployment's health (its circuit breaker); ``out_of_rotation``: the
    deployment is misconfigured and leaves rotation until ``restore``; ``cooldown``: a ``Retry-After``
    becomes the deployment's cooldown; ``context_fallback``: a model with a larger context window may
    help; ``statuses`` and ``body_types`` are the HTTP statuses and provider error types (``type`` or
    ``code`` of the error body) that map to this kind.
    """

    name: str
    retry_same: bool
    other_deployment: bool
    fallback_model: bool
    counts: bool
    out_of_rotation: bool = False
    cooldown: bool = False
    context_fallback: bool = False
    statuses: tuple[int, ...] = ()
    body_types: tuple[str, ...] = ()
    summary: str = ""

    @property
    def final(self) -> bool:
        """Nothing else can help: the error goes to the caller at once."""
        return not (self.retry_same or self.other_deployment or self.fallback_model or self.context_fallback)


def _kind(name: str, flags: str, *, statuses: Iterable[int] = (), body_types: Iterable[str] = (),
          summary: str = "") -> ErrorKind:
    """A row from its flags: ``R`` retry same, ``D`` other deployment, ``F`` fallback model, ``H`` counts
    against health, ``X`` out of rotation, ``C`` cooldown from Retry-After, ``W`` context (window) fallback."""
    return ErrorKind(name, "R" in flags, "D" in flags, "F" in flags, "H" in flags, "X" in flags, "C" in flags,
                     "W" in flags, tuple(statuses), tuple(body_types), summary)


# One row per kind. Sources for the statuses and types: the OpenAI, Anthropic and Groq API error references
# (platform.openai.com/docs/guides/error-codes, docs.anthropic.com/en/api/errors, console.groq.com/docs/errors).
ERROR_KINDS: dict[str, ErrorKind] = {k.name: k for k in (
    _kind("rate_limited", "RDFHC", statuses=(429,),
          body_types=("rate_limit_error", "rate_limit_exceeded", "requests", "too_many_requests", "rate_limited",
                      "resource_exhausted"),
          summary="the deployment's request rate limit: cool down, serve elsewhere meanwhile"),
    _kind("deployment_limit", "DFHC", statuses=(413,),
          body_types=("request_too_large", "tokens", "insufficient_quota", "billing_error", "quota_exceeded"),
          summary="this request exceeds a limit of this deployment's key (tokens per minute, request size, "
                  "quota): not again here, another deployment may take it"),
    _kind("timeout", "RDFH", statuses=(408,), body_types=("timeout_error", "request_timeout", "deadline_exceeded"),
          summary="the attempt exceeded its deadline"),
    _kind("connection_failed", "RDFH", summary="the provider could not be reached"),
    _kind("server_error", "RDFHC", statuses=(500, 502, 503, 504),
          body_types=("api_error", "server_error", "internal_server_error", "internal_error", "internal",
                      "service_unavailable", "unavailable_error"),
          summary="the provider failed (5xx)"),
    _kind("overloaded", "RDFHC", statuses=(529,), body_types=("overloaded_error", "overloaded", "unavailable"),
          summary="the provider is overloaded: back off, serve elsewhere meanwhile"),
    _kind("malformed_response", "RDFH", summary="the reply is not in the provider's wire format"),
    _kind("provider_error", "RDFH", summary="any other failure of a provider call"),
    _kind("misconfigured", "DFHX", statuses=(401, 403),
          body_types=("authentication_error", "permission_error", "invalid_api_key", "permission_denied",
                      "unauthenticated"),
          summary="the key is missing, wrong or lacks access: the deployment leaves rotation"),
    _kind("not_found", "DFHX", statuses=(404,), body_types=("not_found_error", "model_not_found", "not_found",
                                                            "model_decommissioned"),
          summary="the deployment does not serve this model (or its URL is wrong): it leaves rotation"),
    _kind("context_too_long", "W", body_types=("context_length_exceeded", "exceed_context_size_error",
                                               "model_context_window_exceeded"),
          summary="the request does not fit the model's context window: a larger model may answer"),
    _kind("bad_request", "", statuses=(400, 409, 422),
          body_types=("invalid_request_error",),
          summary="the request itself is wrong: not the deployment's fault, never retried as is"),
    _kind("invalid_request", "",
          summary="the request cannot be sent (it fails to serialise or encode, or the SDK rejects it): the "
                  "caller's error, raised at once"),
    _kind("stream_interrupted", "H",
          summary="a stream was cut after text went out: a retry would emit text twice"),
    _kind("budget_exceeded", "DF", summary="a spend cap leaves no room for this call here"),
    _kind("unavailable", "", summary="no deployment can take the call now"),
    _kind("cancelled", "", summary="the caller stopped waiting: says nothing about the deployment"),
)}


def statuses(where: Callable[[ErrorKind], bool]) -> list[int]:
    """The HTTP statuses of the kinds ``where`` selects, sorted (what exports put in status-code lists).

    Example::

        >>> statuses(lambda k: k.fallback_model)
        [401, 403, 404, 408, 413, 429, 500, 502, 503, 504, 529]
    """
    return sorted({s for k in ERROR_KINDS.values() if where(k) for s in k.statuses})


def kind_for_status(status: int) -> ErrorKind:
    """The kind an HTTP error status maps to: the row that lists it, else ``server_error`` for any other
    5xx and ``bad_request`` for any other 4xx (what a status alone says, before the body is read).

    Example::

        >>> kind_for_status(529).name, kind_for_status(418).name
        ('overloaded', 'bad_request')
    """
    for kind in ERROR_KINDS.values():
        if status in kind.statuses:
            return kind
    return ERROR_KINDS["server_error" if status >= 500 else "bad_request"]


def kind_of(error: BaseException) -> ErrorKind:
    """The kind of any exception an attempt ended with: a ProviderError's own, ``cancelled`` for a
    cancellation (not an ``Exception``), ``provider_error`` for anything else.

    Example::

        >>> kind_of(RateLimited("HTTP 429")).name, kind_of(KeyError("x")).name
        ('rate_limited', 'provider_error')
    """
    if isinstance(error, ProviderError):
        return error.kind
    return ERROR_KINDS["provider_error" if isinstance(error, Exception) else "cancelled"]


# --- the hierarchy ---------------------------------------------------------------------------------
class RouterlabError(Exception):
    """Base class of every error routerlab raises on purpose."""


class ConfigError(RouterlabError, ValueError):
    """A bad argument, configuration file or routing table."""


class UnknownModelError(ConfigError, KeyError):
    """A model name that is not in the catalog; the message lists the closest names.

    ``model`` and ``field`` name the model and, when a feature needed one, the catalog field.
    """

    def __init__(self, message: str, *, model: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.model, self.field = model, field

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotFittedError(ConfigError, AttributeError):
    """A learned component was used before ``fit``."""


class DatasetError(RouterlabError, ValueError):
    """A dataset or outcomes file is malformed.

    ``path``, ``line`` (text files), ``row`` (Parquet, pickle, DataFrames), ``record`` (a sample of
    a log, e.g. ``"sample 3, epoch 2"``) and ``field`` say where; they are also part of the message.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None, row: int | None = None, record: str | None = None) -> None:
        where = ", ".join(
            part for part in (
                f"file {path}" if path else "",
                f"line {line}" if line is not None else "",
                f"row {row}" if row is not None else "",
                record or "",
                f"field {field!r}" if field else "",
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.path, self.line, self.field, self.row, self.record = path, line, field, row, record


class MissingOutcomeError(RouterlabError, KeyError):
    """Replay was asked for a prompt or model that the outcomes table does not hold."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NoModelFitsError(RouterlabError):
    """Every candidate model was removed; the message names the constraint that emptied the list."""


class StoreError(RouterlabError):
    """The results store or a cache could not be read or written."""


class ProviderError(RouterlabError):
    """A provider call failed.

    ``status`` is the HTTP status when there was one; ``deployment`` names where it happened;
    ``retry_after`` (seconds) is the provider's Retry-After; ``tokens`` holds (input, output) tokens the
    failed attempt consumed, so they can be charged. ``kind`` (a class attribute, one row of
    :data:`ERROR_KINDS`) says what the live path does next. Errors the Gateway raises also carry the
    request's ``attempts`` (``((deployment, outcome), ...)``) and its ``cost`` in USD.
    """

    kind: ClassVar[ErrorKind] = ERROR_KINDS["provider_error"]
    attempts: tuple[tuple[str, str], ...] = ()
    cost: float = 0.0

    def __init__(self, message: str, *, status: int | None = None, deployment: str | None = None,
                 retry_after: float | None = None, tokens: tuple[int, int] = (0, 0)) -> None:
        super().__init__(message)
        self.status = status
        self.deployment = deployment
        self.retry_after = retry_after
        self.tokens = tokens

    @property
    def retryable(self) -> bool:
        """Whether another attempt on the same deployment can help (the kind's ``retry_same``)."""
        return self.kind.retry_same

    @property
    def counts_as_failure(self) -> bool:
        """Whether the failure counts against the deployment's health (the kind's ``counts``)."""
        return self.kind.counts

    def with_message(self, message: str, **changes: Any) -> ProviderError:
        """A copy of this error (same class, fields and kind) with another message and ``changes``.

        Example::

            >>> e = RateLimited("HTTP 429 sk-secret", status=429).with_message("HTTP 429 ***")
            >>> type(e).__name__, str(e), e.status
            ('RateLimited', 'HTTP 429 ***', 429)
        """
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        new.args = (message,)
        return new


class RateLimited(ProviderError):
    """HTTP 429. ``retry_after`` (seconds) is the provider's Retry-After, when it sent one."""

    kind = ERROR_KINDS["rate_limited"]


class Timeout(ProviderError):
    """The attempt exceeded its deadline."""

    kind = ERROR_KINDS["timeout"]


class ConnectionFailed(ProviderError):
    """The provider could not be reached."""

    kind = ERROR_KINDS["connection_failed"]


class ServerError(ProviderError):
    """HTTP 5xx from the provider."""

    kind = ERROR_KINDS["server_error"]


class BadRequest(ProviderError):
    """HTTP 400 for the request itself: not the provider's fault, never retried as is."""

    kind = ERROR_KINDS["bad_request"]


class ContextTooLong(BadRequest):
    """The request plus its output budget does not fit the model's context window."""

    kind = ERROR_KINDS["context_too_long"]


class AuthError(ProviderError):
    """HTTP 401/403: the key is missing, wrong or lacks access. The deployment leaves rotation."""

    kind = ERROR_KINDS["misconfigured"]


class MalformedResponse(ProviderError):
    """The reply is not in the provider's wire format."""

    kind = ERROR_KINDS["malformed_response"]


class StreamInterrupted(ProviderError):
    """A stream was cut after some output was emitted; retrying would emit tokens twice."""

    kind = ERROR_KINDS["stream_interrupted"]


class Unavailable(ProviderError):
    """No deployment can take the call now. ``retry_after`` says when the earliest one returns."""

    kind = ERROR_KINDS["unavailable"]


class Overloaded(ServerError):
    """HTTP 529, or an ``overloaded_error`` body (also inside a 200 stream): the provider is overloaded."""

    kind = ERROR_KINDS["overloaded"]


class DeploymentLimit(RateLimited):
    """This request exceeds a limit of the deployment's key: tokens per minute (a 429 or 413 whose body says
    so), the request size (413), or an exhausted quota. Not retried there; another deployment may take it."""

    kind = ERROR_KINDS["deployment_limit"]


class NotFound(ProviderError):
    """HTTP 404: the deployment does not serve the model (or its URL is wrong). It leaves rotation."""

    kind = ERROR_KINDS["not_found"]


class UnsupportedParameter(BadRequest):
    """The host rejects a parameter the request carries (``param`` names it); providers retry once
    without it and remember that for the deployment."""

    def __init__(self, message: str, *, param: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.param = param


class InvalidRequest(BadRequest, ValueError):
    """The request cannot be sent at all: it fails to serialise or encode, or the SDK rejects a parameter
    before any byte goes out. The caller's error: raised at once, never retried, never held against a
    deployment. The message says what in the request is wrong."""

    kind = ERROR_KINDS["invalid_request"]


def error_class(kind: str) -> type[ProviderError]:
    """The exception class of a kind name (``ProviderError`` for kinds without their own class).

    Example::

        >>> error_class("overloaded").__name__
        'Overloaded'
    """
    return _CLASSES.get(kind, ProviderError)


_CLASSES: dict[str, type[ProviderError]] = {
    cls.kind.name: cls for cls in (RateLimited, DeploymentLimit, Timeout, ConnectionFailed, ServerError, Overloaded,
                                   MalformedResponse, AuthError, NotFound, ContextTooLong, BadRequest, InvalidRequest,
                                   StreamInterrupted, Unavailable)}
