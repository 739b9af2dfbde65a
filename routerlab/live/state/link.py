"""One Gateway's connection to its Redis state, and what it does when Redis goes away.

Every shared read or write goes through :meth:`RedisLink.call` with a fallback: when Redis does not answer
within ``timeout`` (or refuses the connection), the link logs one warning, marks itself down, and returns
the fallback's value (the process's own state) for ``retry_after`` seconds; then it tries Redis again and,
when it answers, logs that shared state is back. A request never fails because Redis did.

Example::

    >>> from routerlab.live.config import StateSettings
    >>> link = RedisLink(StateSettings(backend="redis", url="redis://127.0.0.1:1/0", timeout=0.05))  # doctest: +SKIP
    >>> link.call(lambda: link.client.ping(), lambda: "own state")                                 # doctest: +SKIP
    'own state'
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ...errors import ConfigError
from ..config import StateSettings
from . import lua

__all__ = ["RedisLink", "safe_url"]

log = logging.getLogger("routerlab.gateway")
T = TypeVar("T")


def safe_url(url: str) -> str:
    """``url`` without a password (for messages and logs): ``redis://host:port/db``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


class RedisLink:
    """The Redis client, key names and scripts of one Gateway, with the fallback rule (module docstring).

    ``clock``: the monotonic clock the down-and-retry timing uses. Raises
    :class:`~routerlab.errors.ConfigError` when the ``redis`` package is missing.
    """

    def __init__(self, settings: StateSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        try:
            redis = importlib.import_module("redis")
        except ImportError:
            raise ConfigError('state: {backend: redis} needs the redis package: pip install "routerlab[redis]"') from None
        assert settings.url is not None
        self.settings = settings
        self.where = safe_url(settings.url)
        self.client = redis.Redis.from_url(settings.url, socket_timeout=settings.timeout,
                                           socket_connect_timeout=settings.timeout, decode_responses=True)
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError,
                                                         redis.exceptions.TimeoutError, OSError)
        self.clock = clock
        self.namespace = settings.namespace
        self.scripts = {name: self.client.register_script(getattr(lua, name))
                        for name in ("BUCKETS", "LEDGER_RESERVE", "LEDGER_RELEASE", "LEDGER_CHARGE", "BREAKER",
                                     "COOLDOWN")}
        self._down_until: float | None = None
        self._lock = threading.Lock()
        self.outages = 0

    def key(self, *parts: str) -> str:
        """A key of this namespace: ``namespace:part:part``."""
        return ":".join((self.namespace, *parts))

    @property
    def up(self) -> bool:
        """Whether shared state is in use now (after an outage: whether it is time to try Redis again)."""
        return self._down_until is None or self.clock() >= self._down_until

    def call(self, shared: Callable[[], T], local: Callable[[], T]) -> T:
        """``shared()`` on Redis; ``local()`` when Redis is down or does not answer (see the module docstring)."""
        if not self.up:
            return local()
        try:
            value = shared()
        except self._errors as exc:
            self._went_down(exc)
            return local()
        if self._down_until is not None:
            with self._lock:
                if self._down_until is not None:
                    self._down_until = None
                    log.warning("shared Gateway state at %s answers again: rate limits, budgets, breakers, cooldowns "
                                "and the shared cache are shared again", self.where)
        return value

    def script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of :mod:`~routerlab.live.state.lua`'s scripts (raises Redis's errors: use inside :meth:`call`)."""
        return self.scripts[name](keys=keys, args=args)

    def _went_down(self, exc: BaseException) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self.clock() + self.settings.retry_after
            if first:
                self.outages += 1
        if first:
            log.warning("shared Gateway state at %s is unreachable (%s: %s); this process carries on with its own "
                        "rate limits, budgets, breakers, cooldowns and cache, and tries Redis again every %g s",
                        self.where, type(exc).__name__, exc, self.settings.retry_after)

    def close(self) -> None:
        try:
            self.client.close()
        except self._errors:  # closing a dead connection must not raise
            pass
