"""Each Gateway's state in its own memory: the default, and what a Redis-backed Gateway falls back to.

Example::

    >>> state = MemoryState()
    >>> state.shared
    False
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..balancer import LocalCooldowns
from ..breaker import CircuitBreaker
from ..cache import ResponseCache
from ..config import BudgetPolicy
from ..quota import DeploymentLimits, SpendLedger

__all__ = ["MemoryState"]


class MemoryState:
    """The Gateway's rate limits, budgets, breakers, cooldowns and exact cache, in this process (the objects of
    :mod:`routerlab.live.quota`, :mod:`routerlab.live.breaker`, :mod:`routerlab.live.balancer` and
    :mod:`routerlab.live.cache` as they are). ``shared`` is False: another process sees none of it."""

    shared = False

    def __repr__(self) -> str:
        return "MemoryState()"

    def breakers(self) -> Callable[..., Any]:
        """What the load balancer calls to make each deployment's breaker."""
        return CircuitBreaker

    def cooldowns(self, clock: Callable[[], float] = time.monotonic) -> LocalCooldowns:
        return LocalCooldowns()

    def limits(self, limits: Mapping[str, tuple[float | None, float | None]], *,
               clock: Callable[[], float] = time.monotonic) -> DeploymentLimits:
        return DeploymentLimits(limits, clock=clock)

    def ledger(self, policy: BudgetPolicy) -> SpendLedger:
        return SpendLedger(policy)

    def exact_cache(self, directory: str | None) -> ResponseCache | None:
        """The exact cache on disk at ``directory`` (None: no exact cache)."""
        return ResponseCache(directory) if directory else None

    def close(self) -> None:
        pass
