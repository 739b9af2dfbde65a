"""Rate limits and budgets shared through Redis: one RPM / TPM window and one spend ledger for every replica.

:class:`RedisLimits` has :class:`~routerlab.live.quota.DeploymentLimits`' interface over token buckets kept
in Redis; admitting a call (:meth:`RedisLimits.ok`, which the load balancer asks only about the deployment it
is about to pick) takes its request and token estimate in the same atomic script that checks for room, so N
replicas never together pass a limit. :class:`RedisLedger` has :class:`~routerlab.live.quota.SpendLedger`'s
interface: reservations and spend in Redis, a reservation checked against every cap and taken in one
script, each replica's holds in a hash that expires if the replica dies. Both keep a local twin, updated with
what Redis reported, that serves while Redis is away.

Example::

    >>> limits = RedisLimits({"P1": (60, None)}, link=link, clock=time.monotonic)   # doctest: +SKIP
    >>> limits.ok("P1", 100)                                                      # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import secrets
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from typing import Any

from ..config import BudgetPolicy
from ..quota import BudgetExceeded, DeploymentLimits, Reservation, SpendLedger
from .link import RedisLink

__all__ = ["RedisLimits", "RedisLedger"]

#: seconds a replica's budget holds outlive its last reservation or release (a dead replica's holds go then)
HOLD_TTL = 900


class RedisLimits:
    """Per-deployment RPM / TPM token buckets in Redis (see the module docstring).

    A True from :meth:`ok` has already taken the call's share; the attempt's :meth:`take` then uses it up
    instead of taking again (an admission never followed by an attempt is used by the next attempt on that
    deployment).
    """

    def __init__(self, limits: Mapping[str, tuple[float | None, float | None]], *, link: RedisLink,
                 clock: Callable[[], float]) -> None:
        self.link = link
        self.local = DeploymentLimits(limits, clock=clock)
        self._rates = {n: (float(r or 0.0), float(t or 0.0)) for n, (r, t) in limits.items() if r or t}
        self._admitted: dict[str, deque[float]] = defaultdict(deque)

    def __bool__(self) -> bool:
        return bool(self._rates)

    def _script(self, mode: str, name: str, tokens: float, requests: float = 1.0) -> list[Any]:
        rpm, tpm = self._rates[name]
        reply = self.link.script("BUCKETS", [self.link.key("bucket", name, "rpm"), self.link.key("bucket", name, "tpm")],
                                 [mode, rpm / 60.0, rpm, tpm / 60.0, tpm, requests, tokens])
        self._mirror(name, float(reply[2]), float(reply[3]))
        return list(reply)

    def _mirror(self, name: str, rpm_level: float, tpm_level: float) -> None:
        """The local buckets take the levels Redis reported, so they carry on from there if Redis goes away."""
        for buckets, level in ((self.local._rpm, rpm_level), (self.local._tpm, tpm_level)):
            bucket = buckets.get(name)
            if bucket is not None:
                with bucket._lock:
                    bucket.tokens, bucket._t = level, bucket._clock()

    def wait(self, name: str, tokens: float) -> float:
        if name not in self._rates:
            return 0.0
        return self.link.call(lambda: float(self._script("wait", name, tokens)[1]), lambda: self.local.wait(name, tokens))

    def ok(self, name: str, tokens: float) -> bool:
        """Admit one call of ``tokens`` estimated tokens on ``name`` if there is room now (and take its share)."""
        if name not in self._rates:
            return True

        def shared() -> bool:
            admitted = int(self._script("admit", name, tokens)[0]) == 1
            if admitted:
                self._admitted[name].append(tokens)
            return admitted

        return self.link.call(shared, lambda: self.local.ok(name, tokens))

    def take(self, name: str, tokens: float) -> None:
        if name not in self._rates:
            return
        if self._admitted[name]:
            self._admitted[name].popleft()  # admitted by ok(): already taken in Redis
            self.local.take(name, 0.0)
            return
        self.link.call(lambda: self._script("force", name, tokens), lambda: self.local.take(name, tokens))

    def settle(self, name: str, estimated: float, actual: float) -> None:
        if name not in self._rates or not self._rates[name][1]:
            return
        self.link.call(lambda: self._script("force", name, actual - estimated, requests=0.0),
                       lambda: self.local.settle(name, estimated, actual))


class RedisLedger:
    """:class:`~routerlab.live.quota.SpendLedger` with its reservations and spend in Redis (module docstring).

    ``frame`` and ``spent`` report what every replica charged; ``local`` is this replica's own ledger (all
    its charges, and the last spend Redis reported), which decides while Redis is away.
    """

    COLUMNS = SpendLedger.COLUMNS

    def __init__(self, policy: BudgetPolicy | None = None, *, link: RedisLink) -> None:
        self.policy = policy or BudgetPolicy()
        self.link = link
        self.local = SpendLedger(self.policy)
        self._spent_key, self._rows_key = link.key("ledger", "spent"), link.key("ledger", "rows")
        self._holders = link.key("ledger", "holders")
        self._held_key = link.key("ledger", "held", f"{os.getpid()}-{secrets.token_hex(4)}")
        self._shared: dict[Reservation, int] = {}  # reservations held in Redis (equal ones are interchangeable)
        self._unsent: deque[list[Any]] = deque()  # charges made while Redis was away: sent when it is back

    @staticmethod
    def _fields(model: str, provider: str) -> list[str]:
        return ["total:", f"model:{model}", f"provider:{provider}"]

    def _seed(self, model: str, provider: str, spent: list[float]) -> None:
        """The local ledger takes the spend Redis reported (if higher), so it carries on from there."""
        with self.local._lock:
            for key, value in zip(SpendLedger._scopes(model, provider), spent):
                self.local._spent[key] = max(self.local._spent.get(key, 0.0), float(value))
            self.local.total = max(self.local.total, self.local._spent.get(("total", ""), 0.0))

    def reserve(self, model: str, provider: str, amount: float) -> Reservation:
        """Hold ``amount`` USD against every cap; raises :class:`~routerlab.live.quota.BudgetExceeded` as
        :meth:`SpendLedger.reserve` does, about the spend and holds of every replica."""
        scopes = SpendLedger._scopes(model, provider)
        args: list[Any] = [amount, self._held_key, HOLD_TTL]
        for (scope, name), field in zip(scopes, self._fields(model, provider)):
            cap = self.local._cap(scope, name)
            args += [field, "" if cap is None else cap]

        def shared() -> Reservation:
            reply = self.link.script("LEDGER_RESERVE", [self._spent_key, self._held_key, self._holders], args)
            if int(reply[0]) == 1:
                self._seed(model, provider, [float(v) for v in reply[1:]])
                held = Reservation(model, provider, float(amount))
                self._shared[held] = self._shared.get(held, 0) + 1
                return held
            scope, name = scopes[int(reply[1]) - 1]
            spent, held_all = float(reply[2]), float(reply[3])
            cap = self.local._cap(scope, name)
            label = {"total": "total", "model": model, "provider": f"provider {provider}"}[scope]
            exc = BudgetExceeded(f"{label} spend ${spent:.6f} (+ ${held_all:.6f} held by calls in flight, every "
                                 f"replica) and this call's estimate ${amount:.6f} would pass the cap ${cap:g}")
            exc.scope = scope
            raise exc

        return self.link.call(shared, lambda: self.local.reserve(model, provider, amount))

    def release(self, reservation: Reservation) -> None:
        count = self._shared.get(reservation, 0)
        if not count:
            self.local.release(reservation)
            return
        if count == 1:
            del self._shared[reservation]
        else:
            self._shared[reservation] = count - 1
        fields = self._fields(reservation.model, reservation.provider)
        # a hold Redis cannot take back now expires with this replica's hash (HOLD_TTL)
        self.link.call(lambda: self.link.script("LEDGER_RELEASE", [self._held_key],
                                                [reservation.amount, HOLD_TTL, *fields]), lambda: None)

    def charge(self, model: str, provider: str, deployment: str, tokens: tuple[int, int], cost: float, *,
               ok: bool, cached: int = 0, cache_write: int = 0) -> None:
        self.local.charge(model, provider, deployment, tokens, cost, ok=ok, cached=cached, cache_write=cache_write)
        row = "\x1f".join((model, provider, deployment))
        self._unsent.append([float(cost), row, int(ok), int(tokens[0]), int(tokens[1]), int(cached), int(cache_write),
                             *self._fields(model, provider)])

        def shared() -> None:
            while self._unsent:  # in order; a charge leaves the queue once Redis has it
                self.link.script("LEDGER_CHARGE", [self._spent_key, self._rows_key], self._unsent[0])
                self._unsent.popleft()

        self.link.call(shared, lambda: None)

    def spent(self, scope: str = "total", name: str = "") -> float:
        field = "total:" if scope == "total" else f"{scope}:{name}"
        return self.link.call(lambda: float(self.link.client.hget(self._spent_key, field) or 0.0),
                              lambda: self.local.spent(scope, name))

    @property
    def total(self) -> float:
        """USD charged so far by every replica."""
        return self.spent()

    def held(self) -> float:
        def shared() -> float:
            holders = self.link.client.smembers(self._holders)
            return sum(float(self.link.client.hget(h, "total:") or 0.0) for h in holders)

        return self.link.call(shared, self.local.held)

    def frame(self, by: str | tuple[str, ...] | list[str] = ("model", "provider")) -> Any:
        """:meth:`SpendLedger.frame` over every replica's charges (this replica's alone while Redis is away)."""

        def shared() -> Any:
            raw = self.link.client.hgetall(self._rows_key)
            rows: dict[tuple[str, ...], dict[str, float]] = {}
            for field, value in raw.items():
                *key, column = field.split("\x1f")
                rows.setdefault(tuple(key), {})[column] = float(value)
            ledger = SpendLedger(self.policy)
            ledger._rows = {(k[0], k[1], k[2]): [v.get(c, 0.0) for c in self.COLUMNS[3:]] for k, v in rows.items()}
            return ledger.frame(by)

        return self.link.call(shared, lambda: self.local.frame(by))
