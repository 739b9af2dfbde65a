"""The circuit breaker: one per deployment, count-based, with growing open periods and limited probes.

CLOSED → OPEN when, over the last W calls (at least M of them), the failure rate is ≥ F or the slow-call
rate is ≥ S; OPEN lasts D seconds, ×2 with each consecutive opening, capped; then HALF_OPEN admits at
most P probe calls: P successes close it, any failure (or a probe still slow) re-opens it. Time comes
from an injected monotonic clock. Semantics: ``shared/RELIABILITY.md``.

Example::

    >>> t = [0.0]
    >>> cb = CircuitBreaker("P1", BreakerConfig(), clock=lambda: t[0])
    >>> for _ in range(10):
    ...     cb.record_failure(cb.acquire(), 0.1)
    >>> cb.state.value, cb.open_until
    ('open', 30.0)
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated

from pydantic import Field, Strict, ValidationInfo, field_validator

from .._validation import Validated

__all__ = ["BreakerState", "BreakerConfig", "Permit", "Transition", "CircuitBreaker", "Clock"]

Clock = Callable[[], float]


class BreakerState(str, Enum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerConfig(Validated):
    """Circuit-breaker parameters (defaults are RELIABILITY.md's); invalid values raise ConfigError.

    ``window`` calls (at least ``minimum_calls`` of them) are judged: the breaker opens at a failure rate
    of ``failure_rate`` or a slow-call rate of ``slow_call_rate`` (fractions in (0, 1]); a call is slow
    from ``slow_call_duration`` seconds (``None`` disables slow-call detection). ``open_duration`` (seconds)
    is the first open period; each consecutive opening multiplies it by ``open_multiplier`` up to
    ``max_open_duration``; then ``half_open_probes`` probes decide.

    Example::

        >>> BreakerConfig(open_duration=0.5, slow_call_duration=3.0, slow_call_rate=0.5).window
        20
    """

    section = "breaker"
    window: Annotated[int, Strict(), Field(gt=0)] = 20
    minimum_calls: Annotated[int, Strict(), Field(gt=0)] = 10
    failure_rate: Annotated[float, Strict(), Field(gt=0, le=1)] = 0.5
    slow_call_rate: Annotated[float, Strict(), Field(gt=0, le=1)] = 1.0
    slow_call_duration: Annotated[float, Strict(), Field(gt=0)] | None = None
    open_duration: Annotated[float, Strict(), Field(gt=0)] = 30.0
    open_multiplier: Annotated[float, Strict(), Field(ge=1)] = 2.0
    max_open_duration: Annotated[float, Strict(), Field(gt=0)] = 300.0
    half_open_probes: Annotated[int, Strict(), Field(gt=0)] = 3

    @field_validator("minimum_calls")
    @classmethod
    def _within_window(cls, value: int, info: ValidationInfo) -> int:
        window = info.data.get("window")
        if window is not None and value > window:
            raise ValueError(f"must be between 1 and window ({window}), got {value}")
        return value

    @field_validator("max_open_duration")
    @classmethod
    def _at_least_open_duration(cls, value: float, info: ValidationInfo) -> float:
        first = info.data.get("open_duration")
        if first is not None and value < first:
            raise ValueError(f"must be at least open_duration ({first:g}), got {value:g}")
        return value


@dataclass(frozen=True, slots=True)
class Permit:
    """Permission to make one call, bound to the breaker generation that granted it.

    Outcomes of permits from an older generation (a call admitted before the breaker changed state)
    are ignored, so a late answer can neither close a re-opened breaker nor use up a probe slot.
    """

    generation: int
    probe: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    """One breaker state change: when (clock time), from, to, and why."""

    time: float
    source: BreakerState
    target: BreakerState
    reason: str


class CircuitBreaker:
    """A count-based circuit breaker with growing, capped open periods and limited half-open probes.

    Call :meth:`acquire` before a call (``None`` means rejected), then exactly one of
    :meth:`record_success`, :meth:`record_failure` or :meth:`record_ignored` with the permit.

    Example::

        >>> t = [0.0]
        >>> cb = CircuitBreaker("P1", BreakerConfig(window=4, minimum_calls=2), clock=lambda: t[0])
        >>> for _ in range(2):
        ...     cb.record_failure(cb.acquire(), 0.1)
        >>> cb.state, cb.acquire()
        (<BreakerState.OPEN: 'open'>, None)
        >>> t[0] = 31.0
        >>> cb.state
        <BreakerState.HALF_OPEN: 'half_open'>
    """

    def __init__(self, name: str, config: BreakerConfig | None = None, *, clock: Clock = time.monotonic,
                 on_transition: Callable[[str, Transition], None] | None = None) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock
        self._on_transition = on_transition
        self._lock = threading.RLock()
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._window: deque[tuple[bool, bool]] = deque(maxlen=int(self.config.window))
        # the (failure, slow-call) rates of the window that opened the breaker: shown while it is open
        self._opened_rates: tuple[float, float] = (math.nan, math.nan)
        self._n_fail = 0  # running counts over the window: evaluating it is O(1)
        self._n_slow = 0
        self._open_until: float | None = None
        self._probes_admitted = 0
        self._probe_successes = 0
        self.consecutive_openings = 0
        self.openings = 0
        self.transitions: list[Transition] = []

    # state -----------------------------------------------------------------------------------
    @property
    def state(self) -> BreakerState:
        """The current state (an OPEN breaker whose period is over reads as HALF_OPEN)."""
        with self._lock:
            self._refresh()
            return self._state

    @property
    def open_until(self) -> float | None:
        """Clock time at which an OPEN breaker turns HALF_OPEN (None unless OPEN)."""
        with self._lock:
            self._refresh()
            return self._open_until if self._state is BreakerState.OPEN else None

    @property
    def probes_available(self) -> int:
        """How many more probes HALF_OPEN admits now (0 unless HALF_OPEN)."""
        with self._lock:
            self._refresh()
            if self._state is not BreakerState.HALF_OPEN:
                return 0
            return int(self.config.half_open_probes) - self._probes_admitted

    def allows(self) -> bool:
        """Whether :meth:`acquire` would grant a permit now (without taking it)."""
        with self._lock:
            self._refresh()
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.HALF_OPEN:
                return self._probes_admitted < int(self.config.half_open_probes)
            return False

    def acquire(self) -> Permit | None:
        """A permit for one call, or ``None`` when OPEN or when every probe slot is taken."""
        with self._lock:
            self._refresh()
            if self._state is BreakerState.CLOSED:
                return Permit(self._generation)
            if self._state is BreakerState.HALF_OPEN and self._probes_admitted < int(self.config.half_open_probes):
                self._probes_admitted += 1
                return Permit(self._generation, probe=True)
            return None

    # outcomes --------------------------------------------------------------------------------
    def record_success(self, permit: Permit | None, duration: float | None = None) -> None:
        """A call succeeded in ``duration`` seconds (a success over the slow threshold is a slow call)."""
        slow = self._is_slow(duration)
        with self._lock:
            if not self._current(permit):
                return
            if self._state is BreakerState.HALF_OPEN:
                if slow:  # a probe that is still slow proves the deployment has not recovered
                    self._open("slow probe")
                    return
                self._probe_successes += 1
                if self._probe_successes >= int(self.config.half_open_probes):
                    self._close()
                return
            self._push(False, slow)
            self._evaluate()

    def record_failure(self, permit: Permit | None, duration: float | None = None) -> None:
        """A call failed in a way that is the deployment's fault (5xx, 429, timeout, connection)."""
        with self._lock:
            if not self._current(permit):
                return
            if self._state is BreakerState.HALF_OPEN:
                self._open("probe failed")
                return
            self._push(True, self._is_slow(duration))
            self._evaluate()

    def record_ignored(self, permit: Permit | None) -> None:
        """A call ended without saying anything about the deployment (400, cancelled): frees its slot."""
        with self._lock:
            if self._current(permit) and permit is not None and permit.probe and self._probes_admitted > 0:
                self._probes_admitted -= 1

    def reset(self) -> None:
        """Back to CLOSED with an empty window and no opening history."""
        with self._lock:
            self._close("reset")
            self.consecutive_openings = 0

    # window views ----------------------------------------------------------------------------
    @property
    def calls(self) -> int:
        """Calls in the current window."""
        return len(self._window)

    @property
    def failure_rate(self) -> float:
        """Failure rate over the window. Opening clears the window, so while the breaker is OPEN or
        HALF_OPEN with no probe back yet this is the rate that opened it (e.g. 0.8 after 4 of 5 failed),
        never NaN; NaN only when a CLOSED breaker has recorded nothing."""
        n = len(self._window)
        return self._n_fail / n if n else self._opened_rates[0]

    @property
    def slow_rate(self) -> float:
        """Slow-call rate over the window (while OPEN with an empty window: the rate when it opened)."""
        n = len(self._window)
        return self._n_slow / n if n else self._opened_rates[1]

    def current_open_duration(self) -> float:
        """How long the next opening would last."""
        c = self.config
        n = max(self.consecutive_openings, 0)
        return float(min(c.max_open_duration, c.open_duration * c.open_multiplier ** n))

    # internals -------------------------------------------------------------------------------
    def _is_slow(self, duration: float | None) -> bool:
        threshold = self.config.slow_call_duration
        return threshold is not None and duration is not None and duration >= float(threshold)

    def _current(self, permit: Permit | None) -> bool:
        self._refresh()
        return permit is not None and permit.generation == self._generation and self._state is not BreakerState.OPEN

    def _refresh(self) -> None:
        if self._state is BreakerState.OPEN and self._open_until is not None and self._clock() >= self._open_until:
            self._move(BreakerState.HALF_OPEN, "open period over")
            self._probes_admitted = 0
            self._probe_successes = 0

    def _push(self, failed: bool, slow: bool) -> None:
        w = self._window
        if len(w) == w.maxlen:
            old_failed, old_slow = w[0]
            self._n_fail -= old_failed
            self._n_slow -= old_slow
        w.append((failed, slow))
        self._n_fail += failed
        self._n_slow += slow

    def _clear_window(self) -> None:
        self._window.clear()
        self._n_fail = self._n_slow = 0

    def _evaluate(self) -> None:
        c = self.config
        n = len(self._window)
        if n < int(c.minimum_calls):
            return
        failures, slows = self._n_fail, self._n_slow
        if failures / n >= float(c.failure_rate):
            self._open(f"failure rate {failures}/{n}")
        elif c.slow_call_duration is not None and slows / n >= float(c.slow_call_rate):
            self._open(f"slow-call rate {slows}/{n}")

    def _open(self, reason: str) -> None:
        n = len(self._window)
        self._opened_rates = (self._n_fail / n, self._n_slow / n) if n else (1.0, math.nan)  # a failed probe
        duration = self.current_open_duration()
        self.consecutive_openings += 1
        self.openings += 1
        self._open_until = self._clock() + duration
        self._clear_window()
        self._move(BreakerState.OPEN, f"{reason}; open {duration:g}s")

    def _close(self, reason: str = "probes succeeded") -> None:
        self._opened_rates = (math.nan, math.nan)
        self.consecutive_openings = 0
        self._open_until = None
        self._clear_window()
        self._probes_admitted = 0
        self._probe_successes = 0
        if self._state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED, reason)

    def _move(self, target: BreakerState, reason: str) -> None:
        tr = Transition(self._open_until if target is BreakerState.HALF_OPEN and self._open_until is not None
                        else self._clock(), self._state, target, reason)
        self._state = target
        self._generation += 1
        self.transitions.append(tr)
        if self._on_transition is not None:
            self._on_transition(self.name, tr)

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state.value}, openings={self.openings})"
