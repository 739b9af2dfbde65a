"""Circuit breakers and cooldowns shared through Redis: one breaker per deployment for every Gateway replica.

:class:`RedisBreaker` has :class:`~routerlab.live.breaker.CircuitBreaker`'s interface and state machine
(RELIABILITY.md's semantics), run by one Lua script on the Redis server's clock, so failures any replica
records count towards one window, one opening benches the deployment for all, and the half-open probes are
P in all. :class:`RedisCooldowns` keeps each deployment's ``Retry-After`` deadline the same way. Reads of
state (``state``, ``open_until``, ``allows``) may be up to ``refresh`` seconds old; taking a permit and
recording an outcome always go to Redis. While Redis is away each falls back to its own local twin.

Example::

    >>> from routerlab.live.breaker import BreakerConfig
    >>> br = RedisBreaker("P1", BreakerConfig(), link=link)   # doctest: +SKIP
    >>> permit = br.acquire(); br.record_failure(permit, 0.1)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..balancer import LocalCooldowns
from ..breaker import BreakerConfig, BreakerState, CircuitBreaker, Clock, Permit, Transition
from .link import RedisLink

__all__ = ["RedisBreaker", "RedisCooldowns"]

_STATES = (BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN)
#: seconds a read of shared breaker state or cooldowns is reused before Redis is asked again
REFRESH = 0.05


class RedisBreaker:
    """A :class:`~routerlab.live.breaker.CircuitBreaker` whose state lives in Redis (see the module docstring)."""

    def __init__(self, name: str, config: BreakerConfig | None = None, *, link: RedisLink, clock: Clock,
                 on_transition: Callable[[str, Transition], None] | None = None, refresh: float = REFRESH) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self.link, self._clock, self._on_transition, self.refresh = link, clock, on_transition, float(refresh)
        self.local = CircuitBreaker(name, self.config, clock=clock, on_transition=on_transition)
        self.transitions: list[Transition] = []
        c = self.config
        self._args = [c.window, c.minimum_calls, c.failure_rate, c.slow_call_rate,
                      -1 if c.slow_call_duration is None else c.slow_call_duration, c.open_duration,
                      c.open_multiplier, c.max_open_duration, c.half_open_probes]
        self._keys = [link.key("breaker", name), link.key("breaker", name, "window")]
        self._seen: tuple[Any, ...] | None = None  # the last reply: (read at, state, open until, ...)

    # Redis ------------------------------------------------------------------------------------
    def _run(self, op: str, *extra: Any) -> list[Any] | None:
        """The script's reply (the snapshot kept), or None when Redis is away (the caller uses ``local``)."""
        return self.link.call(lambda: self._remember(self.link.script("BREAKER", self._keys, [*self._args, op, *extra])),
                              lambda: None)

    def _remember(self, reply: list[Any]) -> list[Any]:
        now = self._clock()
        state, left = _STATES[int(reply[2])], float(reply[3])
        self._seen = (now, state, now + left if state is BreakerState.OPEN else None, int(reply[4]), int(reply[5]),
                      int(reply[6]), int(reply[7]), int(reply[8]), int(reply[9]), float(reply[11]), float(reply[12]))
        for move in reply[10] or ():
            source, target, why = str(move).split(">", 2)
            tr = Transition(now, _STATES[int(source)], _STATES[int(target)], why)
            self.transitions.append(tr)
            if self._on_transition is not None:
                self._on_transition(self.name, tr)
        return reply

    def _snapshot(self) -> tuple[Any, ...] | None:
        if self._seen is None or self._clock() - self._seen[0] > self.refresh:
            self._run("status")
        return self._seen if self.link.up else None

    # CircuitBreaker's interface -------------------------------------------------------------------
    def _view(self, i: int, local: str) -> Any:
        """Item ``i`` of the shared snapshot, or the local twin's ``local`` attribute while Redis is away."""
        seen = self._snapshot()
        return getattr(self.local, local) if seen is None else seen[i]

    @property
    def state(self) -> BreakerState:
        return self._view(1, "state")

    @property
    def _state(self) -> BreakerState:  # what the balancer reads to send probes first
        return self.state

    @property
    def open_until(self) -> float | None:
        return self._view(2, "open_until")

    @property
    def probes_available(self) -> int:
        return self._view(3, "probes_available")

    def allows(self) -> bool:
        seen = self._snapshot()
        if seen is None:
            return self.local.allows()
        return seen[1] is BreakerState.CLOSED or (seen[1] is BreakerState.HALF_OPEN and seen[3] > 0)

    def acquire(self) -> Permit | None:
        reply = self._run("acquire")
        if reply is None:
            return self.local.acquire()
        return None if int(reply[0]) < 0 else Permit(int(reply[0]), probe=bool(int(reply[1])))

    def _record(self, permit: Permit | None, outcome: str, duration: float | None) -> None:
        if permit is None:
            return
        args = (permit.generation, int(permit.probe), outcome, -1 if duration is None else float(duration))
        if self._run("record", *args) is None:
            # Redis is away: the local breaker learns from it (a permit it did not grant is ignored there)
            {"s": self.local.record_success, "f": self.local.record_failure}.get(
                outcome, lambda p, d=None: self.local.record_ignored(p))(permit, duration)

    def record_success(self, permit: Permit | None, duration: float | None = None) -> None:
        self._record(permit, "s", duration)

    def record_failure(self, permit: Permit | None, duration: float | None = None) -> None:
        self._record(permit, "f", duration)

    def record_ignored(self, permit: Permit | None) -> None:
        self._record(permit, "i", None)

    def reset(self) -> None:
        self.local.reset()
        self._run("reset")

    @property
    def calls(self) -> int:
        return self._view(4, "calls")

    @property
    def failure_rate(self) -> float:
        return self._rate(5, 9, "failure_rate")

    @property
    def slow_rate(self) -> float:
        return self._rate(6, 10, "slow_rate")

    def _rate(self, count: int, opened: int, local: str) -> float:
        """Over the window; while it is empty (open) the rate that opened it, as the local breaker reports."""
        seen = self._snapshot()
        if seen is None:
            return float(getattr(self.local, local))
        return seen[count] / seen[4] if seen[4] else float(seen[opened])

    @property
    def consecutive_openings(self) -> int:
        return self._view(7, "consecutive_openings")

    @property
    def openings(self) -> int:
        return self._view(8, "openings")

    def current_open_duration(self) -> float:
        c = self.config
        return float(min(c.max_open_duration, c.open_duration * c.open_multiplier ** max(self.consecutive_openings, 0)))

    def __repr__(self) -> str:
        return f"RedisBreaker({self.name!r}, state={self.state.value}, openings={self.openings})"


class RedisCooldowns:
    """:class:`~routerlab.live.balancer.LocalCooldowns` kept in Redis: a deployment told ``Retry-After`` by one
    replica sits out for all. Deadlines come back in this process's clock; the local twin keeps every one seen,
    so it carries on when Redis is away."""

    def __init__(self, *, link: RedisLink, clock: Clock, refresh: float = REFRESH) -> None:
        self.link, self.clock, self.refresh = link, clock, float(refresh)
        self.local = LocalCooldowns()
        self._key = [link.key("cooldowns")]
        self._seen: dict[str, tuple[float, float | None]] = {}  # name -> (read at, deadline)

    def _run(self, op: str, name: str, seconds: float = 0.0) -> float | None:
        def shared() -> float | None:
            left = self.link.script("COOLDOWN", self._key, [op, name, seconds])
            now = self.clock()
            deadline = None if left in ("", None) else now + float(left)
            self._seen[name] = (now, deadline)
            if deadline is not None:
                self.local.extend(name, deadline)
            return deadline

        return self.link.call(shared, lambda: self.local.get(name))

    def get(self, name: str) -> float | None:
        seen = self._seen.get(name)
        if seen is not None and self.clock() - seen[0] <= self.refresh and self.link.up:
            return seen[1]
        return self._run("get", name)

    def extend(self, name: str, until: float) -> float:
        self.local.extend(name, until)
        deadline = self._run("extend", name, max(0.0, until - self.clock()))
        return until if deadline is None else deadline

    def clear(self, name: str) -> None:
        self.local.clear(name)
        self._run("clear", name)
        self._seen.pop(name, None)


def breaker_factory(link: RedisLink) -> Callable[..., RedisBreaker]:
    """What :class:`~routerlab.live.balancer.LoadBalancer` calls to make each deployment's breaker."""

    def make(name: str, config: BreakerConfig, *, clock: Clock,
             on_transition: Callable[[str, Transition], None] | None = None) -> RedisBreaker:
        return RedisBreaker(name, config, link=link, clock=clock, on_transition=on_transition)

    return make
