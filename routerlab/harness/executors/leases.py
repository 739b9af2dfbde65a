"""Handing out a strategy's units to the workers of one process, each unit leased in the store first.

A :class:`UnitFeed` claims units from the results store in small batches (:meth:`ResultStore.claim`)
and hands them out one at a time; while it runs, a heartbeat renews its leases. Units another
process finished are dropped; units another process holds are waited for: their rows arrive, or
their lease expires (a crashed worker) and this feed claims them. So N processes (or one Ray driver
and a laptop) sharing a store call every unit once; only a dead worker's in-flight calls may be made
again.

Example::

    >>> import asyncio
    >>> from routerlab.harness.store import MemoryStore
    >>> async def first():
    ...     async with UnitFeed(MemoryStore(), "cfg", "s", [("p1", 0), ("p2", 0)], owner="me") as feed:
    ...         return await feed.next()
    >>> asyncio.run(first())
    ('p1', 0)
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections import deque
from collections.abc import Sequence
from typing import Any

from ..store import Unit

__all__ = ["UnitFeed", "new_owner", "DEFAULT_LEASE_SECONDS"]

#: How long a lease lasts without renewal (seconds). A worker renews every third of it while it runs,
#: so only a worker that stopped (killed, frozen) loses its units, this long after it stopped.
DEFAULT_LEASE_SECONDS = 60.0


def new_owner() -> str:
    """A lease owner name that no other worker, process or machine uses: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class UnitFeed:
    """The units of one strategy that this worker should call, leased in ``store`` before they are handed out.

    ``units``: what the run planned (in order); ``retry_through``: the store's write sequence number when
    it planned (:class:`~routerlab.harness.store.Snapshot`), so stored failures it retries are claimable
    and failures written since (another worker's retry) are not. ``batch``: units claimed per look at
    the store; ``lease_seconds``: a lease's life without renewal; ``poll``: the longest wait between looks
    when every unit left is held by another worker (default: a quarter of the lease, at most 1 s; the first
    looks come sooner, from 20 ms, doubling).

    :meth:`next` returns the next unit to call, or None when every planned unit has a row (written
    here or by another worker). ``by_others`` counts the units another worker finished.
    """

    def __init__(self, store: Any, config: str, strategy: str, units: Sequence[Unit], *, owner: str | None = None,
                 retry_through: int | None = None, batch: int = 32, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 poll: float | None = None) -> None:
        if not lease_seconds > 0:
            raise ValueError(f"lease_seconds must be positive, got {lease_seconds!r}")
        self.store, self.config, self.strategy = store, config, strategy
        self.owner = owner or new_owner()
        self.retry_through = retry_through
        self.batch = max(1, int(batch))
        self.lease_seconds = float(lease_seconds)
        self.poll = float(poll) if poll is not None else min(1.0, self.lease_seconds / 4)
        self._pending: dict[Unit, None] = dict.fromkeys(units)  # not yet claimed here, in plan order
        self._ready: deque[Unit] = deque()  # claimed here, not yet handed out
        self._lock = asyncio.Lock()
        self._heartbeat: asyncio.Task[None] | None = None
        self.by_others = 0

    async def __aenter__(self) -> UnitFeed:
        self._heartbeat = asyncio.ensure_future(self._renew())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop renewing and give back every lease still held (units claimed but not written)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            try:
                await self._heartbeat
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing must not mask the run's error
                pass
            self._heartbeat = None
        self._ready.clear()
        self.store.release(self.owner)

    @property
    def remaining(self) -> int:
        """Planned units not yet handed out here and not known to be finished elsewhere."""
        return len(self._pending) + len(self._ready)

    async def next(self) -> Unit | None:
        """The next unit to call (leased to this worker), or None when there is nothing left to call."""
        async with self._lock:
            waits = 0
            while not self._ready:
                if not self._pending:
                    return None
                if not self._claim() and self._pending:
                    # every unit left is held by a live worker elsewhere: its rows usually land within a call's
                    # time, so look again soon, then less and less often (up to ``poll``)
                    await asyncio.sleep(min(self.poll, 0.02 * 2 ** waits))
                    waits += 1
            return self._ready.popleft()

    def _claim(self) -> bool:
        """Claim the next batch of pending units; drop those finished elsewhere. True when one was claimed."""
        want = list(self._pending)
        got = []
        for start in range(0, len(want), self.batch):
            chunk = want[start:start + self.batch]
            claimed, settled = self.store.claim(self.config, self.strategy, chunk, self.owner,
                                                ttl=self.lease_seconds, retry_through=self.retry_through)
            for u in settled:
                self._pending.pop(u, None)
            self.by_others += len(settled)
            if claimed:
                got = claimed
                break
        for u in got:
            self._pending.pop(u, None)
        self._ready.extend(got)
        return bool(got)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            self.store.renew(self.owner, self.lease_seconds)
