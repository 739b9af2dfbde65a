"""Where a Gateway keeps its state: in its own memory (default), or in Redis, shared by every replica.

The state is what the live path learns and counts: rate-limit windows (RPM / TPM), budget reservations and
spend, circuit breakers and cooldowns, and the exact response cache. The Gateway reads and writes it
through the same objects whatever the backend (:class:`~routerlab.live.quota.DeploymentLimits`,
:class:`~routerlab.live.quota.SpendLedger`, :class:`~routerlab.live.breaker.CircuitBreaker` and the
balancer's cooldowns, :class:`~routerlab.live.cache.ResponseCache`); :func:`open_state` picks their
backend from the config's ``state:`` section (:class:`~routerlab.live.config.StateSettings`)::

    state: {backend: redis, url: redis://127.0.0.1:6379/0, namespace: my-gateway, cache: true}

::

    memory    MemoryState: each Gateway process its own state (the objects above, as they are)
    redis     RedisState: the same interfaces over Redis (Lua scripts, the Redis clock), a local twin each
    link      RedisLink: the connection, key names, and the fall back to local state when Redis is away
    breakers  RedisBreaker, RedisCooldowns
    quota     RedisLimits, RedisLedger
    cache     RedisResponseCache, MemoryResponseCache
    lua       the scripts

Example::

    >>> from routerlab.live.config import StateSettings
    >>> open_state(StateSettings())
    MemoryState()
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..config import StateSettings
from .memory import MemoryState

__all__ = ["open_state", "MemoryState"]


def open_state(settings: StateSettings, *, clock: Callable[[], float] = time.monotonic) -> Any:
    """The state backend ``settings`` name: :class:`MemoryState`, or a ``RedisState`` (which raises
    :class:`~routerlab.errors.ConfigError` when the ``redis`` package is missing; an unreachable server is not
    an error: the Gateway starts on its own state and warns)."""
    if settings.backend == "redis":
        from .redis import RedisState

        return RedisState(settings, clock=clock)
    return MemoryState()
