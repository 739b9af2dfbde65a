"""The executor of one machine: units run on this process's event loop; replay may fork workers.

Per strategy, the missing units run either on the vectorised replay path (prompt-only routers replayed
offline) or ``concurrency`` at a time on the per-prompt path, each unit leased in the store before it is
called (:class:`~routerlab.harness.executors.leases.UnitFeed`), so several processes running one
Experiment on one store share the work and pay for every unit once.

With ``workers=N > 1`` (replay only, where the ``fork`` start method exists) the per-prompt strategies are
dealt round-robin and ``N - 1`` shares run in forked worker processes; their rows come back to this
process, the one writer.

Example::

    >>> from routerlab import Experiment, datasets                                       # doctest: +SKIP
    >>> ds = datasets.load("zeroeval")                                                    # doctest: +SKIP
    >>> Experiment(ds, models=["gpt-4o"], store="runs.sqlite").run(executor=LocalExecutor(lease_seconds=30))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..._aio import run_sync
from .. import schema
from ..store import MemoryStore
from .base import Plan, ProgressHook, as_strategy, progress_bar
from .leases import DEFAULT_LEASE_SECONDS, UnitFeed

if TYPE_CHECKING:
    from ..experiment import Experiment

__all__ = ["LocalExecutor"]

log = logging.getLogger("routerlab.harness")

#: units per store transaction on the per-prompt replay path (a replayed call costs nothing: batch the writes)
REPLAY_BATCH = 256


class LocalExecutor:
    """Runs an Experiment's units in this process (see the module docstring).

    ``workers``: forked replay workers (see :meth:`routerlab.harness.Experiment.run`); ``lease_seconds``:
    how long a unit stays leased to this process without renewal (it renews every third of it while it
    runs), so how long the units of a process that died wait before others take them; ``poll``: seconds
    between looks at units another process holds (default: a quarter of the lease, at most 1 s).
    """

    def __init__(self, *, workers: int = 1, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 poll: float | None = None) -> None:
        self.workers = int(workers)
        self.lease_seconds = float(lease_seconds)
        self.poll = poll

    def __repr__(self) -> str:
        return f"LocalExecutor(workers={self.workers}, lease_seconds={self.lease_seconds})"

    def run(self, experiment: Experiment, plans: Mapping[str, Plan], *, progress: bool,
            on_rows: ProgressHook | None) -> None:
        """Compute every planned unit (see :class:`~routerlab.harness.executors.base.Executor`)."""
        if self.workers > 1 and experiment._is_replay() and "fork" in multiprocessing.get_all_start_methods():
            self._run_forked(experiment, plans, progress=progress, on_rows=on_rows)
        else:
            run_sync(self.arun(experiment, plans, progress=progress, on_rows=on_rows))

    async def arun(self, experiment: Experiment, plans: Mapping[str, Plan], *, progress: bool,
                   on_rows: ProgressHook | None) -> None:
        """:meth:`run` on the running event loop, in this process only."""
        for name, plan in plans.items():
            if not plan.units:
                continue
            strategy = experiment.strategies[name]
            config = experiment.config_hash(name)
            bar = progress_bar(name, len(plan.units), progress)
            try:
                if experiment._vectorised(strategy):
                    await experiment._run_fast(name, strategy, config, plan.units, bar, on_rows)
                else:
                    await self._run_units(experiment, name, as_strategy(strategy), config, plan, bar, on_rows)
            finally:
                bar.close()

    # the per-prompt path -----------------------------------------------------------------------
    async def _run_units(self, experiment: Experiment, name: str, strategy: Any, config: str, plan: Plan,
                         bar: Any, on_rows: ProgressHook | None) -> None:
        replay = experiment._is_replay()
        store = experiment.store
        feed = UnitFeed(store, config, name, plan.units, retry_through=plan.seq, lease_seconds=self.lease_seconds,
                        batch=REPLAY_BATCH if replay else min(max(1, experiment.concurrency), 64), poll=self.poll)
        stats = {"errors": 0, "cost": 0.0, "others": 0}

        def write(rows: list[dict[str, Any]]) -> None:
            store.put_many(config, rows)  # also drops the units' leases
            if on_rows is not None:
                on_rows(name, pd.DataFrame.from_records(rows, columns=schema.RESULT_COLUMNS))

        # a live call is paid for: its row is written at once, with the others that finished meanwhile
        rows = _Rows(write, REPLAY_BATCH if replay else 1)

        def note_others() -> None:  # units another process finished count towards this bar too
            if feed.by_others > stats["others"]:
                bar.update(feed.by_others - stats["others"])
                stats["others"] = feed.by_others

        async def worker() -> None:
            while (unit := await feed.next()) is not None:
                row = await experiment._unit(name, strategy, unit[0], unit[1])
                rows.add(row)
                stats["errors"] += bool(row["error_type"])
                stats["cost"] += row["cost"]
                bar.update(1)
                note_others()
                bar.set_postfix(errors=stats["errors"], cost=f"${stats['cost']:.4f}", refresh=False)

        async with feed:  # leaving it gives back the leases of units claimed but not called
            try:
                await asyncio.gather(*(worker() for _ in range(max(1, experiment.concurrency))))
            finally:
                await rows.close()  # nothing already computed is lost, also on Ctrl-C
                note_others()
                bar.set_postfix(errors=stats["errors"], cost=f"${stats['cost']:.4f}", refresh=True)
        if feed.by_others:
            log.info("%s: %d unit(s) were computed by other workers sharing %s", name, feed.by_others,
                     getattr(store, "path", None) or "the store")

    # forked replay workers -----------------------------------------------------------------------
    def _run_forked(self, experiment: Experiment, plans: Mapping[str, Plan], *, progress: bool,
                    on_rows: ProgressHook | None) -> None:
        shares = _shares(experiment, plans, self.workers)
        if not shares:
            run_sync(self.arun(experiment, plans, progress=progress, on_rows=on_rows))
            return
        away = set().union(*shares)
        before = set(multiprocessing.active_children())
        # fork: the workers inherit this Experiment (fitted strategies, data set) without pickling it
        pool = ProcessPoolExecutor(max_workers=len(shares), mp_context=multiprocessing.get_context("fork"),
                                   initializer=_adopt, initargs=(experiment,))
        futures = [pool.submit(_replay_share, {n: plans[n] for n in share}) for share in shares]
        procs = set(multiprocessing.active_children()) - before  # the pool's workers, forked by submit
        try:
            here = {n: p for n, p in plans.items() if n not in away}
            run_sync(self.arun(experiment, here, progress=progress, on_rows=on_rows))
            handed = [_collected(future) for future in futures]
        except BaseException:  # Ctrl-C or an error, here or while waiting: do not wait for the workers
            for proc in procs:
                proc.kill()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        for frames in handed:
            for name, frame in frames.items():
                experiment.store.put_frame(experiment.config_hash(name), frame)
                if on_rows is not None:
                    on_rows(name, frame)
        # what a failed worker did not hand back runs here
        again = {n: experiment._plan(n) for n in plans if n in away}
        run_sync(self.arun(experiment, again, progress=progress, on_rows=on_rows))


class _Rows:
    """Finished rows on their way to the store. ``every > 1`` (replay): written ``every`` at a time. ``every=1``
    (live): a group commit, rows written as soon as they finish, on a thread, all that finished while the
    previous write was on disk in one transaction, so concurrent calls share the disk's flushes and the event
    loop keeps serving answers meanwhile. A failed write is raised by the next :meth:`add` or :meth:`close`."""

    def __init__(self, write: Callable[[list[dict[str, Any]]], None], every: int) -> None:
        self.write, self.every = write, every
        self.buffer: list[dict[str, Any]] = []
        self.task: asyncio.Future[None] | None = None

    def add(self, row: dict[str, Any]) -> None:
        self.buffer.append(row)
        if self.task is not None and self.task.done():
            self.task.result()  # a failed write stops the run
        if self.every > 1:
            if len(self.buffer) >= self.every:
                self._take()
        elif self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._drain())

    def _take(self) -> None:
        rows, self.buffer = self.buffer, []
        self.write(rows)

    async def _drain(self) -> None:
        while self.buffer:
            rows, self.buffer = self.buffer, []
            await asyncio.to_thread(self.write, rows)

    async def close(self) -> None:
        if self.task is not None:
            await asyncio.shield(self.task) if not self.task.done() else None
            self.task.result()
        if self.buffer:
            self._take()


def _shares(experiment: Experiment, plans: Mapping[str, Plan], workers: int) -> list[frozenset[str]]:
    """The per-prompt strategies with units to run, dealt round-robin: share 0 stays here."""
    slow = [n for n, p in plans.items() if p.units and not experiment._vectorised(experiment.strategies[n])]
    return [share for k in range(1, workers) if (share := frozenset(slow[k::workers]))]


_adopted: Experiment | None = None  # in a worker process: the Experiment it was forked from


def _adopt(experiment: Experiment) -> None:
    """A worker's initializer: keep the (inherited, never pickled) Experiment; leave Ctrl-C to the
    parent, which kills the worker."""
    global _adopted
    _adopted = experiment
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _replay_share(plans: dict[str, Plan]) -> dict[str, pd.DataFrame]:
    """In a worker: run the planned units of some strategies into a memory store and hand their rows back."""
    experiment = _adopted
    if experiment is None:
        raise RuntimeError("_replay_share runs in a worker forked by Experiment.run(workers=...)")
    memory = MemoryStore()
    part = experiment._without(set(plans), keep=True, store=memory)
    asyncio.run(LocalExecutor().arun(part, plans, progress=False, on_rows=None))
    return {n: memory.rows(experiment.config_hash(n), [n]) for n in plans}


def _collected(future: Future[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """A worker's rows; none when it failed (its strategies then run in this process)."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a dead or failing worker must not fail the run
        log.warning("a replay worker failed (%s: %s); its strategies run in this process instead",
                    type(exc).__name__, exc)
        return {}
