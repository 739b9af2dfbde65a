"""The Ray executor: an Experiment's units as tasks on a Ray cluster, their rows written here, by one writer.

``Experiment.run(executor="ray")`` (or ``executor=RayExecutor(...)``) ships the Experiment (data set,
fitted strategies, scorer, caller) to ``workers`` Ray actors once, then:

- prompt-only routers replayed offline go out as chunks of units, each replayed in one vectorised
  pass (:func:`~routerlab.harness.experiment.replay_rows`) on a worker;
- every other unit is leased in the store here (:class:`~routerlab.harness.executors.leases.UnitFeed`,
  as the local executor does), sent in batches to the actors, and run ``concurrency`` at a time on each
  actor's event loop; calls to each provider are held to ``max_concurrency`` across the whole cluster by a
  semaphore actor;
- rows come back to this process, which alone writes the store and shows progress.

Replay results are identical to a local run (every replayed number is a pure function of the prompt,
model, sample and seed). A live Gateway is rebuilt on each worker from its configuration (its keys are
read there, from the workers' environment); any other caller must pickle. Rate limits, budgets and
breakers of a Gateway are per worker unless its config shares them (``state: {backend: redis, ...}``).

Pointing at a cluster::

    >>> from routerlab.harness.executors import RayExecutor                                  # doctest: +SKIP
    >>> exp.run(executor=RayExecutor(address="ray://head-node:10001", workers=16, cpus_per_worker=0.25,
    ...                              max_concurrency={"openai": 64, "anthropic": 32}))      # doctest: +SKIP

Needs the optional extra ``ray`` (``pip install "routerlab[ray]"``).
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..._aio import run_sync
from ...errors import ConfigError, RouterlabError
from ..store import MemoryStore, Unit
from .base import Plan, ProgressHook, as_strategy, postfix, progress_bar
from .leases import DEFAULT_LEASE_SECONDS, UnitFeed

if TYPE_CHECKING:
    from ..experiment import Experiment

__all__ = ["RayExecutor"]

log = logging.getLogger("routerlab.harness")

#: how many times a batch is sent again when the actor running it died (its leases are still held here)
RESUBMIT = 2


def _ray() -> Any:
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ConfigError('executor="ray" needs Ray: pip install "routerlab[ray]" (or pip install ray)') from None


class RayExecutor:
    """Runs an Experiment's units on a Ray cluster (see the module docstring).

    Parameters
    ----------
    address: the cluster to connect to when Ray is not initialised yet (``"auto"``, ``"ray://host:10001"``;
        default: start a local one). When ``ray.init`` was already called, that connection is used.
    workers: Ray actors (default: the cluster's CPUs / ``cpus_per_worker``).
    cpus_per_worker: CPUs each actor reserves (live calls wait on the network: a fraction packs more
        actors on a node).
    max_concurrency: provider kind (``openai``, ``anthropic``, ``groq``, ...) → calls in flight across the
        whole cluster. Default: for a Gateway, the sum of its deployments' ``max_concurrency`` per provider
        where every deployment of that provider sets one, else the Experiment's ``concurrency``; a replay
        calls no provider and is not held.
    batch: units per task on the per-prompt path (default: 256 for replay, 16 live); ``chunk``: units per
        task of a vectorised replay.
    lease_seconds: the life of a unit's lease without renewal (see
        :class:`~routerlab.harness.executors.LocalExecutor`).
    init: more keyword arguments of ``ray.init`` when this executor starts or connects to Ray.

    Raises :class:`~routerlab.errors.ConfigError` when Ray is not installed or the caller cannot be sent
    to the workers.
    """

    def __init__(self, *, address: str | None = None, workers: int | None = None, cpus_per_worker: float = 1.0,
                 max_concurrency: Mapping[str, int] | None = None, batch: int | None = None, chunk: int = 100_000,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS, init: Mapping[str, Any] | None = None) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"RayExecutor workers must be at least 1, got {workers}")
        if not cpus_per_worker > 0:
            raise ConfigError(f"RayExecutor cpus_per_worker must be positive, got {cpus_per_worker}")
        bad = {k: v for k, v in (max_concurrency or {}).items() if not (isinstance(v, int) and v >= 1)}
        if bad:
            raise ConfigError(f"RayExecutor max_concurrency values must be whole numbers >= 1, got {bad}")
        self.address = address
        self.workers = workers
        self.cpus_per_worker = float(cpus_per_worker)
        self.max_concurrency = dict(max_concurrency or {})
        self.batch = batch
        self.chunk = max(1, int(chunk))
        self.lease_seconds = float(lease_seconds)
        self.init = dict(init or {})

    def __repr__(self) -> str:
        return (f"RayExecutor(address={self.address!r}, workers={self.workers}, "
                f"max_concurrency={self.max_concurrency})")

    # driving --------------------------------------------------------------------------------------
    def run(self, experiment: Experiment, plans: Mapping[str, Plan], *, progress: bool,
            on_rows: ProgressHook | None) -> None:
        """Compute every planned unit on the cluster (see :class:`~routerlab.harness.executors.base.Executor`)."""
        if not any(p.units for p in plans.values()):
            return
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=self.address, **self.init)
        limits = self._limits(experiment)
        limiter = _limiter_class(ray).remote(limits) if limits else None
        try:
            # pickled here, so each worker unpickles its own writable copy (Ray's zero-copy arrays are read-only)
            payload = ray.put(ray.cloudpickle.dumps(_portable(experiment)))
        except (TypeError, AttributeError, ValueError, ray.cloudpickle.PicklingError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            why = next((ln.strip() for ln in str(exc).splitlines() if "serialization:" in ln), first)
            raise ConfigError(f"the Experiment cannot be sent to Ray workers: {type(exc).__name__}: {why}. Every "
                              "strategy, the scorer and the caller must pickle (a Gateway is rebuilt from its "
                              "config on each worker)") from None
        n = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // self.cpus_per_worker))
        worker = _worker_class(ray).options(num_cpus=self.cpus_per_worker, max_concurrency=4)
        actors = _Actors(lambda: worker.remote(payload, limiter), n)
        try:
            run_sync(self._drive(experiment, plans, actors, progress=progress, on_rows=on_rows))
        finally:
            for actor in actors.all:
                ray.kill(actor)
            if limiter is not None:
                ray.kill(limiter)

    async def _drive(self, experiment: Experiment, plans: Mapping[str, Plan], actors: _Actors, *,
                     progress: bool, on_rows: ProgressHook | None) -> None:
        for name, plan in plans.items():
            if not plan.units:
                continue
            bar = progress_bar(name, len(plan.units), progress)
            try:
                if experiment._vectorised(experiment.strategies[name]):
                    await self._replay(experiment, name, plan, actors, bar, on_rows)
                else:
                    await self._units(experiment, name, plan, actors, bar, on_rows)
            finally:
                bar.close()

    async def _replay(self, experiment: Experiment, name: str, plan: Plan, actors: _Actors, bar: Any,
                      on_rows: ProgressHook | None) -> None:
        """A vectorised replay in chunks, one per task, spread over the actors."""
        config = experiment.config_hash(name)
        size = min(self.chunk, math.ceil(len(plan.units) / actors.n))
        chunks = [plan.units[i:i + size] for i in range(0, len(plan.units), size)]
        tasks = [asyncio.ensure_future(actors.call(k % actors.n, "replay", name, chunk)) for k, chunk in enumerate(chunks)]
        frames = []
        for task in tasks:  # in order: the store receives the rows in the data set's order
            frame = await task
            experiment.store.put_frame(config, frame)
            frames.append(frame)
            bar.update(len(frame))
            if on_rows is not None:
                on_rows(name, frame)
        postfix(bar, pd.concat(frames, ignore_index=True))

    async def _units(self, experiment: Experiment, name: str, plan: Plan, actors: _Actors, bar: Any,
                     on_rows: ProgressHook | None) -> None:
        """Per-prompt units: leased here, sent in batches, rows written here as each batch returns."""
        config, store = experiment.config_hash(name), experiment.store
        size = self.batch or (256 if experiment._is_replay() else 16)
        feed = UnitFeed(store, config, name, plan.units, retry_through=plan.seq, batch=size,
                        lease_seconds=self.lease_seconds)
        stats = {"errors": 0, "cost": 0.0, "others": 0}

        async def lane(k: int) -> None:
            while units := await _take(feed, size):
                rows = await actors.call(k, "units", name, units)
                store.put_many(config, rows)  # the one writer; drops the units' leases
                stats["errors"] += sum(bool(r["error_type"]) for r in rows)
                stats["cost"] += sum(float(r["cost"]) for r in rows)
                bar.update(len(rows) + feed.by_others - stats["others"])
                stats["others"] = feed.by_others
                bar.set_postfix(errors=stats["errors"], cost=f"${stats['cost']:.4f}", refresh=False)
                if on_rows is not None:
                    on_rows(name, pd.DataFrame.from_records(rows))

        async with feed:
            await asyncio.gather(*(lane(k) for k in range(actors.n) for _ in range(2)))  # two batches per actor

    def _limits(self, experiment: Experiment) -> dict[str, int]:
        """Provider → calls in flight across the cluster (empty for a replay: nothing leaves the machine)."""
        if experiment._is_replay():
            return {}
        limits: dict[str, int] = {}
        for kind, deps in _deployments_by_provider(experiment.caller).items():
            caps = [d.max_concurrency for d in deps]
            limits[kind] = sum(caps) if all(caps) else experiment.concurrency
        limits.setdefault("*", experiment.concurrency)  # each provider the caller does not name
        limits.update(self.max_concurrency)
        return limits


async def _take(feed: UnitFeed, size: int) -> list[Unit]:
    units: list[Unit] = []
    while len(units) < size and (unit := await feed.next()) is not None:
        units.append(unit)
    return units


class _Actors:
    """The worker actors; one that dies is replaced and its task sent again (the units are still leased
    here, so only the calls it had in flight can be made twice)."""

    def __init__(self, make: Any, n: int) -> None:
        self.make, self.n = make, n
        self.live = [make() for _ in range(n)]
        self.all = list(self.live)

    async def call(self, k: int, method: str, name: str, units: list[Unit]) -> Any:
        ray = _ray()
        for attempt in range(RESUBMIT + 1):
            actor = self.live[k]
            try:
                return await getattr(actor, method).remote(name, units)
            except ray.exceptions.RayActorError as exc:
                if attempt == RESUBMIT:
                    raise RouterlabError(f"{name}: the Ray worker running {len(units)} unit(s) died {RESUBMIT + 1} "
                                         f"times ({type(exc).__name__}); the finished units are stored: run again "
                                         "to compute the rest") from None
                log.warning("%s: a Ray worker died (%s); its %d unit(s) go to a new one", name, type(exc).__name__,
                            len(units))
                if self.live[k] is actor:
                    self.live[k] = self.make()
                    self.all.append(self.live[k])
        raise AssertionError("unreachable")


def _deployments_by_provider(caller: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for d in getattr(caller, "deployments", None) or []:
        out.setdefault(str(d.provider_kind), []).append(d)
    return out


# what goes to the workers ---------------------------------------------------------------------------
class _GatewaySpec:
    """A Gateway as its configuration and catalog: rebuilt on a worker (an SDK client does not pickle)."""

    def __init__(self, gateway: Any) -> None:
        self.config, self.catalog = gateway.config, gateway.catalog

    def build(self) -> Any:
        from ...live.gateway import Gateway

        return Gateway(self.config, catalog=self.catalog)


def _portable(experiment: Experiment) -> Experiment:
    """A copy of the Experiment that pickles: no store (rows go back to the driver), a Gateway as its spec."""
    from ...live.gateway import Gateway

    part = copy.copy(experiment)
    part.store = MemoryStore()
    if isinstance(experiment.caller, Gateway):
        part.caller = _GatewaySpec(experiment.caller)  # type: ignore[assignment]
    return part


class _Worker:
    """One Ray actor: the Experiment, its caller (a Gateway built here) and strategies, kept for every task."""

    def __init__(self, payload: bytes, limiter: Any) -> None:
        experiment = self.experiment = _ray().cloudpickle.loads(payload)
        caller = experiment.caller
        if isinstance(caller, _GatewaySpec):
            caller = caller.build()
        if limiter is not None:
            caller = _HeldCaller(caller, limiter, _provider_of(caller, experiment))
        experiment.caller = caller
        self.strategies = {n: as_strategy(s) for n, s in experiment.strategies.items()
                           if not experiment._vectorised(s)}

    async def units(self, name: str, units: list[Unit]) -> list[dict[str, Any]]:
        exp, strategy = self.experiment, self.strategies[name]
        queue = iter(units)
        rows: dict[Unit, dict[str, Any]] = {}

        async def run() -> None:
            for pid, sample in queue:
                rows[(pid, sample)] = await exp._unit(name, strategy, pid, sample)

        await asyncio.gather(*(run() for _ in range(max(1, min(exp.concurrency, len(units))))))
        return [rows[u] for u in units]

    def replay(self, name: str, units: list[Unit]) -> pd.DataFrame:
        return self.experiment._fast_rows(name, self.experiment.strategies[name], units)


class _HeldCaller:
    """A caller whose calls to each provider wait for a slot of the cluster-wide semaphore actor."""

    def __init__(self, caller: Any, limiter: Any, provider_of: Any) -> None:
        self.inner, self.limiter, self.provider_of = caller, limiter, provider_of

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def complete(self, request: Any, model: str, **kwargs: Any) -> Any:
        provider = self.provider_of(model)
        await self.limiter.acquire.remote(provider)
        try:
            return await self.inner.complete(request, model, **kwargs)
        finally:
            await self.limiter.release.remote(provider)


def _provider_of(caller: Any, experiment: Experiment) -> Any:
    """model → provider kind: a Gateway's deployments of the model, else the catalog, else ``*``."""
    by_model = {m: deps[0].provider_kind for m, deps in getattr(getattr(caller, "config", None), "models", {}).items()}
    catalog = getattr(caller, "catalog", None) or experiment.dataset.catalog

    def provider(model: str) -> str:
        if model in by_model:
            return str(by_model[model])
        return str(catalog[model].provider) if catalog is not None and model in catalog else "*"

    return provider


class _Limiter:
    """Provider → an asyncio semaphore of its limit (a provider without its own takes the ``*`` limit)."""

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.limits = dict(limits)
        self.semaphores: dict[str, asyncio.Semaphore] = {}

    async def acquire(self, provider: str) -> None:
        limit = self.limits.get(provider, self.limits.get("*"))
        if limit is not None:
            await self.semaphores.setdefault(provider, asyncio.Semaphore(limit)).acquire()

    async def release(self, provider: str) -> None:
        if provider in self.semaphores:
            self.semaphores[provider].release()


_classes: dict[str, Any] = {}


def _worker_class(ray: Any) -> Any:
    if "worker" not in _classes:
        _classes["worker"] = ray.remote(_Worker)
    return _classes["worker"]


def _limiter_class(ray: Any) -> Any:
    if "limiter" not in _classes:
        _classes["limiter"] = ray.remote(_Limiter)
    return _classes["limiter"]
