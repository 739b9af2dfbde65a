"""Circuit breakers, deployment health and load balancing for the live path.

The semantics are those of ``shared/RELIABILITY.md`` (after resilience4j, Envoy outlier detection and
Polly):

* a :class:`~routerlab.breaker.CircuitBreaker` per deployment (defined in :mod:`routerlab.breaker`), CLOSED → OPEN over a count-based sliding window (W calls,
  at least M of them, failure rate ≥ F or slow-call rate ≥ S), OPEN for D seconds growing ×2 with each
  consecutive opening (capped), then HALF_OPEN admitting at most P probes: P successes close it, any
  failure re-opens it;
* :class:`ProviderHealth`: success rate and EWMA latency over a window plus the in-flight count;
* :class:`LoadBalancer`: picks a deployment among the available ones (not open, not cooled down after a
  ``Retry-After``, not misconfigured) with one of five strategies.

Time and randomness are injected (a monotonic ``clock`` callable, a seeded ``random.Random``), so every
decision is reproducible in tests.

Example::

    >>> lb = LoadBalancer(["P1", "P2"], strategy="round-robin")
    >>> lease = lb.acquire()
    >>> lease.deployment
    'P1'
    >>> lb.release(lease, latency=0.2)
    'ok'
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import errors
from .breaker import BreakerConfig, BreakerState, CircuitBreaker, Clock, Permit, Transition
from ..errors import ConfigError

__all__ = [
    "BreakerState",
    "BreakerConfig",
    "Permit",
    "Transition",
    "CircuitBreaker",
    "ProviderHealth",
    "Lease",
    "LoadBalancer",
    "STRATEGIES",
    "outcome_of",
    "AT_CAPACITY",
    "PROBING",
]

STRATEGIES: tuple[str, ...] = ("weighted", "best", "round-robin", "least-latency", "least-busy")
AT_CAPACITY = "at max concurrency"
PROBING = "half-open, probes in flight"


class ProviderHealth:
    """Success rate and EWMA latency over a window, plus the number of calls in flight.

    ``score`` (higher is better) is what the weighted and best strategies use: the Laplace-smoothed
    success rate divided by ``1 + EWMA latency`` (a soft preference: taking a failing deployment out
    is the breaker's job, and it needs calls to see it fail and recover).

    Example::

        >>> h = ProviderHealth()
        >>> h.record(True, 0.5); h.record(False, None)
        >>> round(h.success_rate, 2), h.ewma_latency
        (0.5, 0.5)
    """

    def __init__(self, window: int = 20, alpha: float = 0.3) -> None:
        if not 0 < alpha <= 1:
            raise ConfigError(f"health alpha={alpha!r}: must be in (0, 1]")
        self._window: deque[bool] = deque(maxlen=int(window))
        self._ok = 0
        self.alpha = float(alpha)
        self.ewma_latency: float | None = None
        self.in_flight = 0
        self.total_calls = 0
        self.total_failures = 0

    def record(self, success: bool, latency: float | None) -> None:
        """Add one finished call (``latency`` of a failed call may be None)."""
        w = self._window
        if len(w) == w.maxlen:
            self._ok -= w[0]
        w.append(bool(success))
        self._ok += bool(success)
        self.total_calls += 1
        self.total_failures += 0 if success else 1
        if success and latency is not None:
            lat = float(latency)
            self.ewma_latency = lat if self.ewma_latency is None else (
                self.alpha * lat + (1 - self.alpha) * self.ewma_latency)

    @property
    def success_rate(self) -> float:
        """Plain success rate over the window (1.0 when no call was made yet)."""
        return self._ok / len(self._window) if self._window else 1.0

    @property
    def score(self) -> float:
        smoothed = (self._ok + 1) / (len(self._window) + 2)
        return smoothed / (1.0 + (self.ewma_latency or 0.0))


@dataclass(eq=False)
class Lease:
    """A deployment picked for one call; hand it back to :meth:`LoadBalancer.release` exactly once."""

    deployment: str
    permit: Permit
    started: float
    released: bool = field(default=False)


def outcome_of(error: BaseException | None) -> str:
    """A short outcome label for an attempt's error (``ok`` for success): its kind's name."""
    return "ok" if error is None else errors.kind_of(error).name


class LocalCooldowns:
    """Deadlines (clock time) until which deployments sit out after a ``Retry-After``, in this process's
    memory. The Gateway's shared state backend (:mod:`routerlab.live.state`) gives one with the same three
    methods kept in Redis, so every replica honours a cooldown any of them was told."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def get(self, name: str) -> float | None:
        """The deadline of ``name`` (clock time; possibly past), None when it never cooled down."""
        return self._until.get(name)

    def extend(self, name: str, until: float) -> float:
        """Make the deadline at least ``until``; returns the deadline now in force."""
        deadline = max(self._until.get(name, -math.inf), until)
        self._until[name] = deadline
        return deadline

    def clear(self, name: str) -> None:
        self._until.pop(name, None)


class LoadBalancer:
    """Picks a deployment per call among the available ones, and learns from every outcome.

    ``deployments`` is a list of names or a mapping name → weight. ``strategy`` is one of
    ``weighted`` (random, in proportion to weight × health score), ``best`` (highest score),
    ``round-robin`` (a rotation over the available deployments), ``least-latency`` (lowest EWMA;
    untried first) and ``least-busy`` (fewest in flight). Ties rotate. Whatever the strategy, a
    half-open deployment gets its probe calls first (at most P of them), so its breaker can decide.
    ``breakers`` (called like :class:`CircuitBreaker`) and ``cooldowns`` (like :class:`LocalCooldowns`) say
    where breaker state and cooldowns live (default: this process; see :mod:`routerlab.live.state`).

    Example::

        >>> lb = LoadBalancer({"P1": 1, "P2": 1, "P3": 1}, strategy="round-robin")
        >>> picks = []
        >>> for _ in range(6):
        ...     lease = lb.acquire(); picks.append(lease.deployment); _ = lb.release(lease, latency=0.1)
        >>> picks
        ['P1', 'P2', 'P3', 'P1', 'P2', 'P3']
    """

    def __init__(self, deployments: Mapping[str, float] | Sequence[str] = (), *, strategy: str = "weighted",
                 breaker: BreakerConfig | None = None, clock: Clock = time.monotonic,
                 rng: random.Random | None = None, health_window: int = 20, ewma_alpha: float = 0.3,
                 on_transition: Callable[[str, Transition], None] | None = None, max_cooldown: float = 120.0,
                 breakers: Callable[..., Any] | None = None, cooldowns: Any = None) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(f"routing.strategy={strategy!r} is not one of {', '.join(STRATEGIES)}")
        self.strategy = strategy
        self.breaker_config = breaker or BreakerConfig()
        self.clock = clock
        self.rng = rng if rng is not None else random.Random(0)
        self._health_window = int(health_window)
        self._alpha = float(ewma_alpha)
        self._on_transition = on_transition
        if not 0 < max_cooldown < math.inf:
            raise ConfigError(f"max_cooldown={max_cooldown!r}: must be a positive number of seconds")
        self.max_cooldown = float(max_cooldown)
        self._lock = threading.RLock()
        self._order: list[str] = []
        self._weights: dict[str, float] = {}
        self._new_breaker = breakers or CircuitBreaker
        self._breakers: dict[str, CircuitBreaker] = {}
        self._health: dict[str, ProviderHealth] = {}
        self._cooldowns = cooldowns if cooldowns is not None else LocalCooldowns()
        self._misconfigured: dict[str, str] = {}
        self._limits: dict[str, int] = {}
        self._pointer: dict[tuple[str, ...], int] = {}
        items = deployments.items() if isinstance(deployments, Mapping) else ((d, 1.0) for d in deployments)
        for name, weight in items:
            self.add(name, weight)

    # membership ------------------------------------------------------------------------------
    def add(self, name: str, weight: float = 1.0, *, max_concurrency: int | None = None) -> None:
        """Add a deployment (``weight`` > 0; ``max_concurrency`` caps its calls in flight)."""
        if name in self._breakers:
            raise ConfigError(f"deployment {name!r} is listed twice; deployment names must be unique")
        if not float(weight) > 0:
            raise ConfigError(f"deployment {name!r}: weight={weight!r} must be positive")
        with self._lock:
            self._order.append(name)
            self._weights[name] = float(weight)
            self._breakers[name] = self._new_breaker(name, self.breaker_config, clock=self.clock,
                                                     on_transition=self._on_transition)
            self._health[name] = ProviderHealth(self._health_window, self._alpha)
            if max_concurrency is not None:
                self._limits[name] = int(max_concurrency)

    @property
    def names(self) -> list[str]:
        return list(self._order)

    def breaker(self, name: str) -> CircuitBreaker:
        return self._breakers[self._known(name)]

    def health(self, name: str) -> ProviderHealth:
        return self._health[self._known(name)]

    def _known(self, name: str) -> str:
        if name not in self._breakers:
            raise ConfigError(f"unknown deployment {name!r}; known: {', '.join(self._order)}")
        return name

    # availability ----------------------------------------------------------------------------
    def cooldown(self, name: str, seconds: float) -> float:
        """Keep ``name`` out of rotation for ``seconds``: deadline = max(existing, now + seconds).

        ``seconds`` is clamped to ``[0, max_cooldown]`` (a provider's Retry-After of 1e12 or ``inf`` must not
        keep a deployment out for ever, nor overflow anything); NaN is ignored. Returns the deadline.
        """
        with self._lock:
            self._known(name)
            wait = float(seconds)
            if wait != wait:  # NaN: no information
                current = self._cooldowns.get(name)
                return -math.inf if current is None else current
            return float(self._cooldowns.extend(name, self.clock() + min(max(0.0, wait), self.max_cooldown)))

    def cooldown_until(self, name: str) -> float | None:
        """The clock time the cooldown of ``name`` ends, or None when it is not cooling down."""
        until = self._cooldowns.get(name)
        return until if until is not None and until > self.clock() else None

    def mark_misconfigured(self, name: str, reason: str) -> None:
        """Take ``name`` out of rotation until :meth:`restore` (401/403: a key or access problem)."""
        with self._lock:
            self._misconfigured[self._known(name)] = reason

    def misconfigured(self) -> dict[str, str]:
        """Deployments out of rotation for configuration reasons, with why."""
        return dict(self._misconfigured)

    def restore(self, name: str) -> None:
        """Put a misconfigured or cooled-down deployment back, with a fresh breaker."""
        with self._lock:
            self._misconfigured.pop(self._known(name), None)
            self._cooldowns.clear(name)
            self._breakers[name].reset()

    def status(self, name: str) -> tuple[bool, str, float | None]:
        """``(available, reason, returns_at)`` for one deployment (``returns_at`` in clock time)."""
        with self._lock:
            if name in self._misconfigured:
                return False, f"misconfigured ({self._misconfigured[name]})", None
            cool = self._cooldowns.get(name)
            br = self._breakers[name]
            limit = self._limits.get(name)
            if cool is None and limit is None:  # the common case, kept cheap: it runs per candidate per call
                state = br.state
                if state is BreakerState.CLOSED:
                    return True, "closed", None
            now = self.clock()
            state = br.state
            open_until = br.open_until
            if cool is not None and cool > now:
                until = max(cool, open_until) if open_until is not None else cool
                return False, "cooling down (Retry-After)", until
            if state is BreakerState.OPEN:
                return False, "circuit open", open_until
            if state is BreakerState.HALF_OPEN and not br.allows():
                return False, PROBING, now
            if limit is not None and self._health[name].in_flight >= limit:
                return False, AT_CAPACITY, now
            return True, state.value, None

    def available(self, names: Iterable[str] | None = None) -> list[str]:
        """The deployments among ``names`` (default: all) that can take a call now, in config order."""
        with self._lock:
            return [n for n in (self._order if names is None else names) if self.status(n)[0]]

    def earliest_return(self, names: Iterable[str] | None = None) -> tuple[str, float] | None:
        """``(deployment, clock time)`` of the first unavailable deployment to come back; None if never."""
        best: tuple[str, float] | None = None
        with self._lock:
            for n in (self._order if names is None else names):
                ok, _, until = self.status(n)
                if ok:
                    return n, self.clock()
                if until is not None and (best is None or until < best[1]):
                    best = (n, until)
        return best

    # selection -------------------------------------------------------------------------------
    def acquire(self, names: Sequence[str] | None = None, *, exclude: Iterable[str] = (),
                admit: Callable[[str], bool] | None = None) -> Lease | None:
        """Pick a deployment among ``names`` (default: all) and take a breaker permit for it.

        ``exclude`` removes deployments for this call; ``admit`` is an extra filter (rate limits), asked
        only about the deployment about to be picked (so it may take what it admits: a shared rate limit
        takes its tokens atomically); one it refuses is passed over for the next pick. Returns ``None`` when
        nothing is available. The pick and the permit are atomic.
        """
        group = tuple(self._order if names is None else names)
        skip = set(exclude)
        with self._lock:
            candidates = [n for n in group if n not in skip and self.status(n)[0]]
            # a half-open breaker decides only after its probes: send them first, whatever the strategy,
            # or a strategy that prefers others (least-latency, best) could leave it half-open forever
            probing = [n for n in candidates if self._breakers[n]._state is BreakerState.HALF_OPEN]
            if probing:
                candidates = probing
            while candidates:
                name = self._pick(group, candidates)
                if admit is not None and not admit(name):
                    candidates.remove(name)
                    continue
                permit = self._breakers[name].acquire()
                if permit is None:  # another process took the last probe (a shared breaker)
                    candidates.remove(name)
                    continue
                self._health[name].in_flight += 1
                return Lease(name, permit, self.clock())
        return None

    def _rotation(self, group: tuple[str, ...], candidates: list[str]) -> list[str]:
        start = self._pointer.get(group, 0) % len(group)
        rank = {n: (group.index(n) - start) % len(group) for n in candidates}
        return sorted(candidates, key=rank.__getitem__)

    def _pick(self, group: tuple[str, ...], candidates: list[str]) -> str:
        ordered = self._rotation(group, candidates)
        if self.strategy == "round-robin":
            name = ordered[0]
        elif self.strategy == "weighted":
            scores = [self._weights[n] * self._health[n].score for n in candidates]
            total = sum(scores)
            x = self.rng.random() * total
            name = candidates[-1]
            for n, s in zip(candidates, scores):
                x -= s
                if x < 0:
                    name = n
                    break
        elif self.strategy == "best":
            name = max(candidates, key=lambda n: self._weights[n] * self._health[n].score)
        elif self.strategy == "least-latency":
            name = min(ordered, key=lambda n: self._health[n].ewma_latency or 0.0)
        else:  # least-busy
            name = min(ordered, key=lambda n: self._health[n].in_flight)
        self._pointer[group] = group.index(name) + 1
        return name

    def release(self, lease: Lease, *, error: BaseException | None = None, latency: float | None = None) -> str:
        """Record the outcome of a leased call and return its label (``ok``, ``timeout``, ...).

        What an error does is its kind's row in :data:`routerlab.errors.ERROR_KINDS`: ``counts`` records a
        failure (breaker and health), ``out_of_rotation`` marks the deployment misconfigured, ``cooldown``
        turns a ``retry_after`` into a cooldown; anything else (a 400, a cancellation) frees the permit and
        says nothing about the deployment. Releasing twice is a no-op.
        """
        with self._lock:
            if lease.released:
                return "released"
            lease.released = True
            name = lease.deployment
            duration = self.clock() - lease.started if latency is None else float(latency)
            health, br = self._health[name], self._breakers[name]
            health.in_flight = max(0, health.in_flight - 1)
            if error is None:
                health.record(True, duration)
                br.record_success(lease.permit, duration)
                return "ok"
            kind = errors.kind_of(error)
            if kind.counts:
                health.record(False, None)
                br.record_failure(lease.permit, duration)
            else:
                br.record_ignored(lease.permit)
            if kind.out_of_rotation:
                self._misconfigured[name] = f"HTTP {getattr(error, 'status', None) or kind.statuses[0]}"
            retry_after = getattr(error, "retry_after", None)
            if kind.cooldown and retry_after is not None:
                self.cooldown(name, float(retry_after))
            return kind.name

    # reporting -------------------------------------------------------------------------------
    def stats(self) -> Any:
        """One row per deployment: state, calls, failures, rates, EWMA latency, in flight, cooldown, ...

        ``calls``/``failures`` are lifetime totals; ``failure_rate``/``slow_rate`` are over the breaker's
        current window of ``window_calls`` calls (cleared when it opens or closes again, so a recovered
        deployment may show failures in its history and a rate of 0); ``cooldown_until``/``open_until``
        are clock times (NaN when not applicable).
        """
        import pandas as pd

        rows = []
        with self._lock:
            for n in self._order:
                br, h = self._breakers[n], self._health[n]
                ok, reason, _ = self.status(n)
                rows.append({
                    "deployment": n,
                    "state": br.state.value,
                    "available": ok,
                    "reason": reason,
                    "calls": h.total_calls,
                    "failures": h.total_failures,
                    "window_calls": br.calls,
                    "failure_rate": br.failure_rate,
                    "slow_rate": br.slow_rate,
                    "success_rate": h.success_rate,
                    "ewma_latency": math.nan if h.ewma_latency is None else h.ewma_latency,
                    "in_flight": h.in_flight,
                    "cooldown_until": self.cooldown_until(n) or math.nan,
                    "open_until": br.open_until or math.nan,
                    "openings": br.openings,
                    "misconfigured": n in self._misconfigured,
                    "weight": self._weights[n],
                    "score": self._weights[n] * h.score,
                })
        return pd.DataFrame(rows, columns=[
            "deployment", "state", "available", "reason", "calls", "failures", "window_calls", "failure_rate", "slow_rate",
            "success_rate", "ewma_latency", "in_flight", "cooldown_until", "open_until", "openings",
            "misconfigured", "weight", "score"])

    def _repr_html_(self) -> str:
        return str(self.stats()._repr_html_())

    def __repr__(self) -> str:
        return f"LoadBalancer({self._order!r}, strategy={self.strategy!r})"
