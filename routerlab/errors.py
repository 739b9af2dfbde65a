"""routerlab's exceptions: one hierarchy, messages that say what to fix.

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
          ├── Timeout             the attempt exceeded its deadline
          ├── ConnectionFailed    the provider could not be reached
          ├── ServerError         5xx
          ├── BadRequest          400 for the request itself (not the provider's fault)
          │    └── ContextTooLong the request does not fit the model's context window
          ├── AuthError           401/403: the deployment is misconfigured
          ├── MalformedResponse   the reply is not in the provider's wire format
          ├── StreamInterrupted   a stream was cut after some tokens were emitted
          └── Unavailable         no deployment can take the call now (says when one returns)

Every ``ConfigError`` is also a ``ValueError`` and ``UnknownModelError`` also a ``KeyError``, so code
that catches the built-in types keeps working.
"""

from __future__ import annotations

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
]


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
    ``retryable`` says whether another attempt can help; ``tokens`` holds (input, output) tokens
    the failed attempt consumed, so they can be charged.
    """

    retryable: bool = True
    counts_as_failure: bool = True  # for circuit breakers

    def __init__(self, message: str, *, status: int | None = None, deployment: str | None = None,
                 retry_after: float | None = None, tokens: tuple[int, int] = (0, 0)) -> None:
        super().__init__(message)
        self.status = status
        self.deployment = deployment
        self.retry_after = retry_after
        self.tokens = tokens


class RateLimited(ProviderError):
    """HTTP 429. ``retry_after`` (seconds) is the provider's Retry-After, when it sent one."""


class Timeout(ProviderError):
    """The attempt exceeded its deadline."""


class ConnectionFailed(ProviderError):
    """The provider could not be reached."""


class ServerError(ProviderError):
    """HTTP 5xx from the provider."""


class BadRequest(ProviderError):
    """HTTP 400 for the request itself: not the provider's fault, never retried as is."""

    retryable = False
    counts_as_failure = False


class ContextTooLong(BadRequest):
    """The request plus its output budget does not fit the model's context window."""


class AuthError(ProviderError):
    """HTTP 401/403: the key is missing, wrong or lacks access. The deployment leaves rotation."""

    retryable = False
    counts_as_failure = False


class MalformedResponse(ProviderError):
    """The reply is not in the provider's wire format."""


class StreamInterrupted(ProviderError):
    """A stream was cut after some output was emitted; retrying would emit tokens twice."""

    retryable = False


class Unavailable(ProviderError):
    """No deployment can take the call now. ``retry_after`` says when the earliest one returns."""

    retryable = False
