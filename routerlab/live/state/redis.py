"""Gateway state in Redis, shared by every replica that names the same server and namespace.

Example::

    >>> from routerlab.live.config import StateSettings
    >>> state = RedisState(StateSettings(backend="redis", url="redis://127.0.0.1:6379/0"))   # doctest: +SKIP
    >>> state.shared                                                                         # doctest: +SKIP
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..cache import ResponseCache
from ..config import BudgetPolicy, StateSettings
from .breakers import RedisCooldowns, breaker_factory
from .cache import MemoryResponseCache, RedisResponseCache
from .link import RedisLink
from .quota import RedisLedger, RedisLimits

__all__ = ["RedisState"]


class RedisState:
    """Makes the Gateway's state objects over one :class:`~routerlab.live.state.link.RedisLink` (see
    :mod:`routerlab.live.state`). ``shared`` is True; ``link.outages`` counts the times Redis went away."""

    shared = True

    def __init__(self, settings: StateSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.link = RedisLink(settings, clock=clock)

    def __repr__(self) -> str:
        return f"RedisState({self.link.where!r}, namespace={self.link.namespace!r})"

    def breakers(self) -> Callable[..., Any]:
        return breaker_factory(self.link)

    def cooldowns(self, clock: Callable[[], float] = time.monotonic) -> RedisCooldowns:
        return RedisCooldowns(link=self.link, clock=clock)

    def limits(self, limits: Mapping[str, tuple[float | None, float | None]], *,
               clock: Callable[[], float] = time.monotonic) -> RedisLimits:
        return RedisLimits(limits, link=self.link, clock=clock)

    def ledger(self, policy: BudgetPolicy) -> RedisLedger:
        return RedisLedger(policy, link=self.link)

    def exact_cache(self, directory: str | None) -> Any:
        """With ``state.cache``, the exact cache in Redis (falling back to the one at ``directory``, else to
        memory); without, the disk cache at ``directory`` as a memory-backed Gateway has it."""
        local = ResponseCache(directory) if directory else None
        if not self.settings.cache:
            return local
        return RedisResponseCache(link=self.link, local=local if local is not None else MemoryResponseCache(),
                                  ttl=self.settings.cache_ttl)

    def close(self) -> None:
        self.link.close()
