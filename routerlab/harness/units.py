"""What identifies a unit's answers, and which stored failures a new run calls again.

A unit of an experiment is (config hash, strategy, prompt id, sample); the config hash covers who
answers (:func:`caller_fingerprint`). A stored unit that failed outside the prompt
(:func:`retryable_failure`) is called again by the next run unless ``retry_failed=False``.

Example::

    >>> retryable_failure("Timeout"), retryable_failure("BadRequest")
    (True, False)
"""

from __future__ import annotations

from typing import Any

from .. import errors as _errors
from ..providers.replay import ReplayCaller

__all__ = ["caller_fingerprint", "retryable_failure"]


def caller_fingerprint(caller: Any) -> Any:
    """What identifies the answers a caller gives, for config hashes and store names.

    Replay: its settings (seed, simulated latency). A Gateway (anything with ``deployments``): per
    deployment its name, provider, served model and base URL, so another live configuration never reads
    these rows. A base URL on the loopback interface is taken without its port (a local server picks a
    free port at each start). Retry, breaker, budget and cache settings are left out: they change how a
    call is made, not who answers it, so changing them never repeats a finished (paid) call. Any other
    caller: its ``fingerprint()`` if it has one, else its class name.
    """
    if isinstance(caller, ReplayCaller):
        return caller.fingerprint()
    deployments = getattr(caller, "deployments", None)
    if deployments is not None:
        return {"kind": "live", "deployments": sorted(
            [str(d.name), str(d.provider_kind), str(d.model), _stable_url(d.base_url)] for d in deployments)}
    own = getattr(caller, "fingerprint", None)
    return {"kind": "live", "caller": own() if callable(own) else type(caller).__qualname__}  # hashed as JSON


def _stable_url(url: str | None) -> str:
    if not url:
        return ""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return f"{parts.scheme}://{parts.hostname}{parts.path}"
    return url


def retryable_failure(error_type: str) -> bool:
    """Whether a stored failure happened outside the prompt, so calling again may succeed.

    True for every :class:`~routerlab.errors.ProviderError` kind (missing or wrong key, unavailable,
    timeouts, rate limits, 5xx, connection failures, malformed replies) except
    :class:`~routerlab.errors.BadRequest` and its kinds (context too long, a rejected parameter): those
    are about the request itself and fail the same way again. Failures that are not provider errors
    (a missing recorded outcome in replay, a strategy's own exception) are not retried either: the same
    configuration reproduces them.

    Example::

        >>> retryable_failure("AuthError"), retryable_failure("ContextTooLong"), retryable_failure("")
        (True, False, False)
    """
    kind = getattr(_errors, error_type, None) if error_type else None
    return (isinstance(kind, type) and issubclass(kind, _errors.ProviderError)
            and not issubclass(kind, _errors.BadRequest))
