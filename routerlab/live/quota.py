"""Quotas for the Gateway: per-deployment rate limits (token buckets) and spend budgets (a ledger).

Example::

    >>> from routerlab.live.config import BudgetPolicy
    >>> ledger = SpendLedger(BudgetPolicy(per_model={"gpt-4o": 0.01}))
    >>> held = ledger.reserve("gpt-4o", "openai", 0.0075)    # before the call: its estimated cost
    >>> ledger.charge("gpt-4o", "openai", "east", (1000, 500), 0.0075, ok=True); ledger.release(held)
    >>> ledger.reserve("gpt-4o", "openai", 0.0075)
    Traceback (most recent call last):
    ...
    routerlab.live.quota.BudgetExceeded: gpt-4o spend $0.007500 (+ $0.000000 held by calls in flight) and this call's estimate $0.007500 would pass the cap $0.01
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ERROR_KINDS, ConfigError, Unavailable
from .config import BudgetPolicy

__all__ = ["TokenBucket", "DeploymentLimits", "SpendLedger", "BudgetExceeded"]


class BudgetExceeded(Unavailable):
    """A spend cap leaves no room for the call and the budget policy refuses (or no model in the chain is
    within budget). ``scope`` says which cap: ``total``, ``model`` or ``provider``."""

    kind = ERROR_KINDS["budget_exceeded"]
    scope: str = "total"


class TokenBucket:
    """A refilling bucket for per-minute limits, on an injected monotonic clock.

    Example::

        >>> t = [0.0]
        >>> b = TokenBucket(60, clock=lambda: t[0])   # 60 per minute = 1 per second, burst 60
        >>> b.take(60); b.wait_time(1)
        1.0
    """

    def __init__(self, per_minute: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not per_minute > 0:
            raise ConfigError(f"a rate limit must be positive, got {per_minute!r}")
        self.rate = float(per_minute) / 60.0
        self.capacity = float(per_minute)
        self.tokens = self.capacity
        self._clock = clock
        self._t = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._t) * self.rate)
        self._t = now

    def wait_time(self, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens are there (a request larger than the bucket waits for a full one)."""
        with self._lock:
            self._refill()
            return max(0.0, (min(float(n), self.capacity) - self.tokens) / self.rate)

    def take(self, n: float = 1.0) -> None:
        """Use ``n`` tokens (negative gives back; the level may go below zero: later calls wait longer)."""
        with self._lock:
            self._refill()
            self.tokens = min(self.capacity, self.tokens - float(n))


class DeploymentLimits:
    """Per-deployment request and token rate limits (``rpm``/``tpm`` of each deployment), as token buckets.

    A call takes one request and its token estimate at admission; :meth:`settle` corrects the token
    bucket by the difference between the actual and the estimated tokens.

    Example::

        >>> t = [0.0]
        >>> limits = DeploymentLimits({"P1": (60, None)}, clock=lambda: t[0])
        >>> limits.ok("P1", 100), limits.wait("P1", 100)
        (True, 0.0)
    """

    def __init__(self, limits: Mapping[str, tuple[float | None, float | None]], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rpm = {n: TokenBucket(r, clock=clock) for n, (r, _) in limits.items() if r}
        self._tpm = {n: TokenBucket(t, clock=clock) for n, (_, t) in limits.items() if t}

    def __bool__(self) -> bool:
        return bool(self._rpm or self._tpm)

    def wait(self, name: str, tokens: float) -> float:
        """Seconds until ``name`` may take a call of ``tokens`` estimated tokens (0.0: now)."""
        rpm, tpm = self._rpm.get(name), self._tpm.get(name)
        return max(rpm.wait_time(1) if rpm is not None else 0.0, tpm.wait_time(tokens) if tpm is not None else 0.0)

    def ok(self, name: str, tokens: float) -> bool:
        """Whether ``name`` may take a call of ``tokens`` estimated tokens now."""
        return self.wait(name, tokens) == 0.0

    def take(self, name: str, tokens: float) -> None:
        """Admit one call of ``tokens`` estimated tokens on ``name``."""
        if name in self._rpm:
            self._rpm[name].take(1)
        if name in self._tpm:
            self._tpm[name].take(tokens)

    def settle(self, name: str, estimated: float, actual: float) -> None:
        """Correct ``name``'s token bucket once the call's actual tokens are known."""
        if name in self._tpm:
            self._tpm[name].take(actual - estimated)


@dataclass(frozen=True)
class Reservation:
    """USD held against the caps of ``model`` and ``provider`` while one call is in flight."""

    model: str
    provider: str
    amount: float


class SpendLedger:
    """Every attempt's tokens and USD by (model, provider kind, deployment), checked against budgets.

    Each attempt is charged exactly once, whether it answered or failed after consuming tokens. Budgets
    hold under concurrency: a call :meth:`reserve` s an estimate of its cost before it is sent (refused when
    spend plus what calls in flight hold plus the estimate would pass a cap), and :meth:`settle` replaces
    the estimate by the actual cost, so N concurrent calls overrun a cap by no more than their estimates
    under-shoot their costs (estimates from ``max_tokens`` are upper bounds).
    """

    COLUMNS = ("model", "provider", "deployment", "answers", "attempts", "failed_attempts", "input_tokens",
               "output_tokens", "cached_tokens", "cache_write_tokens", "cost")

    def __init__(self, policy: BudgetPolicy | None = None) -> None:
        self.policy = policy or BudgetPolicy()
        self._rows: dict[tuple[str, str, str], list[float]] = {}
        self._spent: dict[tuple[str, str], float] = {}  # ("model" | "provider" | "total", name) -> USD
        self._held: dict[tuple[str, str], float] = {}  # the same keys -> USD reserved by calls in flight
        self.total = 0.0
        self._lock = threading.Lock()

    def charge(self, model: str, provider: str, deployment: str, tokens: tuple[int, int], cost: float, *,
               ok: bool, cached: int = 0, cache_write: int = 0) -> None:
        """Record one attempt: its (input, output) tokens, the cached / cache-write ones among the input
        tokens, and its cost in USD."""
        with self._lock:
            row = self._rows.get((model, provider, deployment))
            if row is None:
                row = self._rows[(model, provider, deployment)] = [0, 0, 0, 0, 0, 0, 0, 0.0]
            row[0] += ok
            row[1] += 1
            row[2] += not ok
            row[3] += int(tokens[0])
            row[4] += int(tokens[1])
            row[5] += int(cached)
            row[6] += int(cache_write)
            row[7] += float(cost)
            spent = self._spent
            for key in (("total", ""), ("model", model), ("provider", provider)):
                spent[key] = spent.get(key, 0.0) + cost
            self.total += cost

    @staticmethod
    def _scopes(model: str, provider: str) -> tuple[tuple[str, str], ...]:
        return ("total", ""), ("model", model), ("provider", provider)

    def _cap(self, scope: str, name: str) -> float | None:
        b = self.policy
        return b.total if scope == "total" else (b.per_model if scope == "model" else b.per_provider).get(name)

    def reserve(self, model: str, provider: str, amount: float) -> Reservation:
        """Hold ``amount`` USD (a call's estimated cost) against every cap of ``model`` and ``provider``.

        Raises :class:`BudgetExceeded` (``scope`` = ``total``, ``model`` or ``provider``) naming the cap,
        the spend and what calls in flight hold when the call could pass a cap.
        """
        with self._lock:
            for scope, name in self._scopes(model, provider):
                cap = self._cap(scope, name)
                if cap is None:
                    continue
                spent, held = self._spent.get((scope, name), 0.0), self._held.get((scope, name), 0.0)
                if spent + held >= cap or spent + held + amount > cap:
                    label = {"total": "total", "model": model, "provider": f"provider {provider}"}[scope]
                    exc = BudgetExceeded(f"{label} spend ${spent:.6f} (+ ${held:.6f} held by calls in flight) and "
                                         f"this call's estimate ${amount:.6f} would pass the cap ${cap:g}")
                    exc.scope = scope
                    raise exc
            for key in self._scopes(model, provider):
                self._held[key] = self._held.get(key, 0.0) + amount
        return Reservation(model, provider, float(amount))

    def release(self, reservation: Reservation) -> None:
        """Give back what a call held (after it was charged, or when it ended without a charge)."""
        with self._lock:
            for key in self._scopes(reservation.model, reservation.provider):
                self._held[key] = max(0.0, self._held.get(key, 0.0) - reservation.amount)

    def spent(self, scope: str = "total", name: str = "") -> float:
        """USD charged so far in a scope (``total``, ``model`` with its name, ``provider`` with its kind)."""
        return self._spent.get((scope, name), 0.0)

    def held(self) -> float:
        """USD held by calls in flight (over every scope's total: what reservations hold in all)."""
        return self._held.get(("total", ""), 0.0)

    def frame(self, by: str | tuple[str, ...] | list[str] = ("model", "provider")) -> Any:
        """A DataFrame grouped ``by`` any of ``model``, ``provider``, ``deployment``: answers, attempts,
        failed attempts, input / output / cached / cache-write tokens and cost (USD)."""
        import pandas as pd

        cols = list(self.COLUMNS)
        keys = [by] if isinstance(by, str) else list(by)
        bad = [k for k in keys if k not in cols[:3]]
        if bad:
            raise ConfigError(f"spend(by=...): {bad} not among model, provider, deployment")
        with self._lock:
            df = pd.DataFrame([(*k, *v) for k, v in self._rows.items()], columns=cols)
        for c in cols[3:-1]:
            df[c] = df[c].astype("int64")
        return df.groupby(keys, as_index=False)[cols[3:]].sum() if len(df) else df[keys + cols[3:]]
