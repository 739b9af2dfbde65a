"""Quotas for the Gateway: per-deployment rate limits (token buckets) and spend budgets (a ledger).

Example::

    >>> from routerlab.live.config import BudgetPolicy
    >>> ledger = SpendLedger(BudgetPolicy(per_model={"gpt-4o": 0.01}))
    >>> ledger.charge("gpt-4o", "openai", "east", (1000, 500), 0.0075, ok=True)
    >>> ledger.blocked("gpt-4o", {"east": "openai"})
    (None, ('east',))
    >>> ledger.charge("gpt-4o", "openai", "east", (1000, 500), 0.0075, ok=True)
    >>> ledger.blocked("gpt-4o", {"east": "openai"})[0]
    'gpt-4o spend $0.0150 reached its cap $0.01'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigError, Unavailable
from .config import BudgetPolicy

__all__ = ["TokenBucket", "DeploymentLimits", "SpendLedger", "BudgetExceeded"]


class BudgetExceeded(Unavailable):
    """A spend cap was reached and the budget policy refuses (or no model in the chain is within budget)."""


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


class SpendLedger:
    """Every attempt's tokens and USD by (model, provider kind, deployment), checked against budgets.

    Each attempt is charged exactly once, whether it answered or failed after consuming tokens.
    """

    COLUMNS = ("model", "provider", "deployment", "answers", "attempts", "failed_attempts", "input_tokens",
               "output_tokens", "cost")

    def __init__(self, policy: BudgetPolicy | None = None) -> None:
        self.policy = policy or BudgetPolicy()
        self._rows: dict[tuple[str, str, str], list[float]] = {}
        self._model: dict[str, float] = {}
        self._provider: dict[str, float] = {}
        self.total = 0.0
        self._lock = threading.Lock()

    def charge(self, model: str, provider: str, deployment: str, tokens: tuple[int, int], cost: float, *,
               ok: bool) -> None:
        """Record one attempt."""
        with self._lock:
            row = self._rows.setdefault((model, provider, deployment), [0, 0, 0, 0, 0, 0.0])
            row[0] += 1 if ok else 0
            row[1] += 1
            row[2] += 0 if ok else 1
            row[3] += int(tokens[0])
            row[4] += int(tokens[1])
            row[5] += float(cost)
            self._model[model] = self._model.get(model, 0.0) + cost
            self._provider[provider] = self._provider.get(provider, 0.0) + cost
            self.total += cost

    def blocked(self, model: str, providers: Mapping[str, str]) -> tuple[str | None, tuple[str, ...]]:
        """``(reason, allowed deployments)`` for ``model`` whose deployments map to ``providers``.

        ``reason`` is None while the model is within budget; the allowed deployments exclude those whose
        provider reached its cap.
        """
        b = self.policy
        if b.total is not None and self.total >= b.total:
            return f"total spend ${self.total:.4f} reached the cap ${b.total:g}", ()
        spent = self._model.get(model, 0.0)
        if model in b.per_model and spent >= b.per_model[model]:
            return f"{model} spend ${spent:.4f} reached its cap ${b.per_model[model]:g}", ()
        allowed = tuple(n for n, kind in providers.items()
                        if self._provider.get(kind, 0.0) < b.per_provider.get(kind, float("inf")))
        if not allowed:
            return f"every provider of {model} reached its spend cap ({dict(b.per_provider)})", ()
        return None, allowed

    def frame(self, by: str | tuple[str, ...] | list[str] = ("model", "provider")) -> Any:
        """A DataFrame grouped ``by`` any of ``model``, ``provider``, ``deployment``."""
        import pandas as pd

        cols = list(self.COLUMNS)
        keys = [by] if isinstance(by, str) else list(by)
        bad = [k for k in keys if k not in cols[:3]]
        if bad:
            raise ConfigError(f"spend(by=...): {bad} not among model, provider, deployment")
        with self._lock:
            df = pd.DataFrame([(*k, *v) for k, v in self._rows.items()], columns=cols)
        for c in ("answers", "attempts", "failed_attempts", "input_tokens", "output_tokens"):
            df[c] = df[c].astype("int64")
        return df.groupby(keys, as_index=False)[cols[3:]].sum() if len(df) else df[keys + cols[3:]]
