"""Experiment: replay (or run live) a Dataset across strategies, resumably, into a Results table.

Example::

    >>> from routerlab import Experiment, datasets
    >>> ds = datasets.load("zeroeval").filter(tasks=["gsm"])
    >>> res = Experiment(ds, models=["gpt-4o", "gpt-4o-mini"], store=None).run(progress=False)
    >>> res.summary()[["quality", "cost"]]                 # doctest: +SKIP

Units are (config hash, strategy, prompt id, sample). Each finished unit is written to the
:class:`~routerlab.store.ResultStore` together with its done-marker in one transaction, so a re-run
(after Ctrl-C, a kernel restart or SIGKILL) computes only what is missing and never repeats a paid
call. Failures are rows (``error_type``, ``error``), never dropped. Prompt-only routers replayed
offline take a vectorised path (``route_many`` + a join on the outcomes) whose rows are identical to
the per-prompt path's.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..datasets import Dataset
from ..errors import ConfigError, RouterlabError
from ..providers.replay import ReplayCaller
from ..routers.base import Batch
from ..routers.params import Params
from ..types import Answer, Caller, Request
from . import schema, views
from .executors.base import Plan, ProgressHook, postfix
from .executors.resolve import resolve
from .executors.local import LocalExecutor
from .replay import replay_rows
from .results import Results
from .store import MemoryStore, ResultStore
from .units import caller_fingerprint, retryable_failure

__all__ = ["Experiment", "fingerprint", "replay_rows", "caller_fingerprint", "retryable_failure"]

log = logging.getLogger("routerlab.harness")


def fingerprint(obj: Any, _depth: int = 0, _path: frozenset[int] = frozenset()) -> Any:
    """A stable, JSON-able description of a strategy's configuration (for the config hash).

    Configuration objects are described in full however deep they sit, so changing any part of one
    changes the hash (a cascade's judge's model, a routing table's route, a catalog's price): objects
    with ``get_params(deep=False)`` (scikit-learn style) by their parameters, dataclasses by their
    compared fields. Data sets, frames and arrays are named by class; any other object is described
    by its public attributes, four levels deep.
    """
    params = _config_of(obj)
    if params is not None and id(obj) not in _path:  # from depth 0: where it sits does not limit what counts
        inner = fingerprint(dict(params), 1, _path | {id(obj)})
        return {"class": type(obj).__qualname__, **inner}
    if _depth > 4 or id(obj) in _path:
        return type(obj).__qualname__
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, (list, tuple)):
        return [fingerprint(x, _depth + 1, _path) for x in obj]
    if isinstance(obj, Mapping):
        return {str(k): fingerprint(v, _depth + 1, _path) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (Dataset, pd.DataFrame, np.ndarray)):
        return type(obj).__qualname__
    attrs = {k: v for k, v in vars(obj).items() if not k.startswith("_") and not k.endswith("_")} \
        if hasattr(obj, "__dict__") else {}
    inner = fingerprint(attrs, _depth + 1, _path)
    return {"class": type(obj).__qualname__, **inner}


def _config_of(obj: Any) -> Mapping[str, Any] | None:
    """The parameters of a configuration object (see :func:`fingerprint`); None for anything else."""
    if isinstance(obj, (type, Dataset, pd.DataFrame, np.ndarray)):
        return None
    if is_dataclass(obj) and not callable(getattr(obj, "get_params", None)):
        return {f.name: getattr(obj, f.name) for f in fields(obj) if f.compare}
    return _params_of(obj)


def _params_of(obj: Any) -> Mapping[str, Any] | None:
    """``obj.get_params(deep=False)`` (its own parameters; nested ones are described under them)."""
    get = getattr(obj, "get_params", None)
    if not callable(get) or isinstance(obj, type):
        return None
    try:
        try:
            return get(deep=False)
        except TypeError:  # a user's get_params() without the scikit-learn keyword
            return get()
    except Exception:  # noqa: BLE001 - a broken get_params must not stop a run
        return None


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Experiment:
    """Replay ``dataset`` across ``strategies`` (name → Strategy or Router) and record every call.

    Parameters
    ----------
    dataset: the prompts (and, for replay, the recorded outcomes).
    strategies: name → Strategy or Router. ``models=[...]`` adds one fixed-model strategy per model.
    caller: a Caller; default: replay the dataset's outcomes (no key, no network).
    scorer: a Scorer for every task; default: each task's default scorer (recorded scores in replay).
    samples: answers per prompt (sample index is part of each unit and of cache keys).
    seed: seeds the replay latency draws and any randomness the harness owns.
    store: a path for the resumable results store (``None``: in memory, nothing resumes across
        processes; a re-run of the same Experiment object still skips finished units).
    concurrency: units in flight at once on the per-prompt path.
    split: label recorded in the ``split`` column (``Experiment.holdout`` sets ``test``).
    retry_failed: a stored unit that failed outside the prompt (:func:`retryable_failure`: missing key,
        auth, unavailable, timeouts, 5xx ...) is called again by the next run (default). ``False`` replays
        stored failures as they are, to reproduce a run exactly. Every run that reuses stored rows says
        how many it reused and retried (``last_run``, ``Results.meta["run"]``, one line on stderr when
        ``progress`` is on).
    """

    def __init__(self, dataset: Dataset, strategies: Mapping[str, Any] | None = None, *,
                 models: Sequence[str] | None = None, caller: Caller | None = None, scorer: Any = None,
                 samples: int = 1, seed: int = 0, store: str | ResultStore | None = None,
                 concurrency: int = 32, split: str = "all", meta: Mapping[str, Any] | None = None,
                 request_options: Mapping[str, Any] | None = None, fast_path: bool = True,
                 retry_failed: bool = True) -> None:
        if samples < 1:
            raise ConfigError(f"samples must be >= 1, got {samples}")
        self.dataset = dataset
        strategies = dict(strategies or {})
        for m in models or ():
            from ..routers import FixedRouter

            strategies.setdefault(m, FixedRouter(m))
        if not strategies:
            raise ConfigError("no strategies to run: pass strategies={name: router_or_strategy} or models=[...]")
        self.strategies = {str(k): v for k, v in strategies.items()}
        for name, strategy in self.strategies.items():  # a bad parameter fails here, not once per prompt
            if isinstance(strategy, Params):
                try:
                    strategy.validate()
                except ConfigError as exc:
                    raise ConfigError(f"strategy {name!r}: {exc}") from None
        self.caller = caller if caller is not None else ReplayCaller(dataset, seed=seed)
        self.scorer = scorer
        self.samples = samples
        self.seed = seed
        self.store = (store if isinstance(store, (ResultStore, MemoryStore))
                      else MemoryStore() if store is None else ResultStore(store))
        self.concurrency = concurrency
        self.split = split
        self.meta = dict(meta or {})
        self.request_options = dict(request_options or {})
        self.fast_path = fast_path
        self.retry_failed = retry_failed
        self.last_run: dict[str, int] = {}

    @classmethod
    def holdout(cls, dataset: Dataset, make_strategies: Callable[[Dataset], Mapping[str, Any]], *,
                test_size: float = 0.5, split_seed: int = 0, **kwargs: Any) -> Experiment:
        """Split ``dataset`` (seeded, stratified by task), build strategies from the train part
        (``make_strategies(train)`` fits whatever needs fitting) and evaluate on the test part."""
        train, test = dataset.split(test_size, seed=split_seed)
        meta = {"split_seed": split_seed, "test_size": test_size, "train_prompts": len(train),
                "test_prompts": len(test), **kwargs.pop("meta", {})}
        return cls(test, make_strategies(train), split="test", meta=meta, **kwargs)

    # configuration ---------------------------------------------------------------------------
    def config_hash(self, name: str) -> str:
        """The hash that identifies one strategy's units: change the config and it recomputes."""
        caller = self.caller
        base = {
            "dataset": self.dataset.name.split("[")[0],
            # replay: what changes the numbers; live: who answers (see caller_fingerprint)
            "caller": caller_fingerprint(caller),
            "scorer": fingerprint(self.scorer),
            "split": self.split,
            # strategies fitted on a train split: another split means other fitted state
            "holdout": {k: self.meta.get(k) for k in ("split_seed", "test_size", "train_prompts")},
            "request": fingerprint(self.request_options),
            "strategy": fingerprint(self.strategies[name]),
        }
        return _hash(base)

    def todo(self, name: str) -> tuple[list[tuple[str, int]], int, int]:
        """Strategy ``name``'s units still to run: ``(units, reused, retried)``.

        ``units`` are the (prompt id, sample) pairs not in the store, plus, with ``retry_failed``, the
        stored failures :func:`retryable_failure` accepts (``retried`` of them); ``reused`` counts the
        stored rows kept as they are. In the data set's prompt order, then sample.
        """
        plan = self._plan(name)
        return plan.units, plan.reused, plan.retried

    def _plan(self, name: str) -> Plan:
        """:meth:`todo` with the store's write sequence number and failure count, read at one moment."""
        snap = self.store.snapshot(self.config_hash(name), name)
        units = [(pid, s) for pid in self.dataset.prompts["prompt_id"] for s in range(self.samples)]
        if not snap.done:
            return Plan(units, seq=snap.seq)
        retry = {u for u, kind in snap.failures.items() if retryable_failure(kind)} if self.retry_failed else set()
        todo = [u for u in units if u not in snap.done or u in retry]
        retried = sum(1 for u in todo if u in snap.done)
        return Plan(todo, len(units) - len(todo), retried, snap.seq, len(snap.failures))

    def _plans(self) -> dict[str, Plan]:
        return {name: self._plan(name) for name in self.strategies}

    def _is_replay(self) -> bool:
        return isinstance(self.caller, ReplayCaller)

    def _vectorised(self, strategy: Any) -> bool:
        """Whether ``strategy`` replays on the vectorised path (a prompt-only router, offline)."""
        return self.fast_path and self._is_replay() and bool(getattr(strategy, "prompt_only", False))

    @property
    def oracles(self) -> list[str]:
        """The strategies that read the recorded answers (``reads_answers = True``, e.g. an
        :class:`~routerlab.routers.OracleRouter`): upper bounds that Results never puts on the frontier."""
        return [n for n, s in self.strategies.items() if getattr(s, "reads_answers", False)]

    # running ---------------------------------------------------------------------------------
    def run(self, *, progress: bool = True, on_rows: ProgressHook | None = None,
            dashboard: bool = False, workers: int = 1, executor: Any = "local") -> Results:
        """Compute every missing unit, store it, and return all the results (sync; works inside Jupyter).

        A unit is (strategy, prompt, sample): ``len(strategies) × len(dataset) × samples`` of them.
        Units already in the store for the same configuration (:meth:`config_hash`) are not computed
        again, so a re-run after Ctrl-C, a kernel restart or SIGKILL continues where it stopped.

        Parameters
        ----------
        progress: a tqdm bar per strategy (a widget in Jupyter, text in a terminal), with the running
            error count and cost in USD.
        on_rows: called as ``on_rows(strategy_name, rows)`` with each batch of newly finished rows (a
            DataFrame with the columns of :mod:`routerlab.harness.schema`), possibly from a worker thread.
        dashboard: show progress and a filling cost-quality plot while running, then the full
            dashboard (a view that :mod:`routerlab.viz` provides); ``on_rows`` is then not used.
        workers: with ``workers=N > 1``, replay only and where the ``fork`` start method exists (the
            CLI passes 2), the per-prompt strategies still to run are dealt round-robin and ``N - 1``
            shares run in forked worker processes (``concurrent.futures.ProcessPoolExecutor``), so
            more cores work. The rows are identical to ``workers=1``. A worker that fails changes
            nothing: its strategies then run here. Prompt-only routers take the vectorised path here.
        executor: where units run. ``"local"`` (default): this process
            (:class:`~routerlab.harness.executors.LocalExecutor`); ``"ray"``: tasks on a Ray cluster, rows
            written here (:class:`~routerlab.harness.executors.RayExecutor`, ``pip install
            "routerlab[ray]"``); or an executor object, e.g. ``RayExecutor(address="ray://head:10001",
            max_concurrency={"openai": 64})``. Whatever the executor, each unit is leased in the store
            before it is called, so processes (and machines) running this Experiment on one store call
            every unit once; a process that dies leaves its units to the others once its leases expire.

        Returns
        -------
        :class:`~routerlab.harness.Results`: every stored row of these strategies on this dataset (not
        only those computed now), ordered by strategy (as given), then the dataset's prompt order, then
        sample; ``meta`` holds the data set, seed, samples, split, strategy names, ``oracles`` and the
        Experiment's ``meta``.

        Raises
        ------
        A failed call is a row (``error_type``, ``error``), never an exception. Raised:
        :class:`~routerlab.errors.ConfigError` for a strategy that is neither a Strategy nor a Router,
        or a ``route_many`` returning the wrong number of decisions; :class:`~routerlab.errors.StoreError`
        when the store cannot be written; ``KeyboardInterrupt`` after the finished units are stored and
        any worker process is killed.

        Example::

            >>> from routerlab import Experiment, datasets
            >>> ds = datasets.load("zeroeval").filter(tasks=["gsm"])          # doctest: +SKIP
            >>> res = Experiment(ds, models=["gpt-4o-mini"]).run(workers=2)   # doctest: +SKIP
            >>> len(res.df) == len(ds)                                        # doctest: +SKIP
            True
        """
        runner = resolve(executor, workers=workers)
        finish = None
        if dashboard:
            on_rows, finish = views.get("live_dashboard")(self)
        plans = self._plans()
        tally = self._tally(plans)
        runner.run(self, plans, progress=progress, on_rows=on_rows)
        self._report(tally, progress)
        results = self.results()
        if finish is not None:
            finish(results)
        return results

    def _without(self, names: set[str], *, keep: bool = False, store: Any = None) -> Experiment:
        """A shallow copy running only some strategies (``keep``) or all but them, on ``store``."""
        part = copy.copy(self)
        part.strategies = {k: v for k, v in self.strategies.items() if (k in names) == keep}
        if store is not None:
            part.store = store
        return part

    async def arun(self, *, progress: bool = True, on_rows: ProgressHook | None = None) -> Results:
        """The async form of :meth:`run` (same ``progress``, ``on_rows``, returns and errors), in one
        process: per strategy, the missing units run on the vectorised replay path (prompt-only routers
        replayed offline, unless ``fast_path=False``) or ``concurrency`` at a time on the per-prompt
        path. Await it in a running event loop; cancelling it stores the finished units first."""
        plans = self._plans()
        tally = self._tally(plans)
        await LocalExecutor().arun(self, plans, progress=progress, on_rows=on_rows)
        self._report(tally, progress)
        return self.results()

    def _tally(self, plans: Mapping[str, Plan]) -> dict[str, int]:
        """What a run reuses, retries and computes now, from each strategy's plan."""
        tally = {"reused": 0, "retried": 0, "computed": 0, "stored_failures": 0}
        for plan in plans.values():
            tally["reused"] += plan.reused
            tally["retried"] += plan.retried
            tally["computed"] += len(plan.units)
            if plan.reused and not self.retry_failed:
                tally["stored_failures"] += plan.failed
        return tally

    def _report(self, tally: dict[str, int], progress: bool) -> None:
        """Say how many stored rows this run reused and retried (``last_run``; stderr with ``progress``)."""
        self.last_run = dict(tally)
        if not tally["reused"] and not tally["retried"]:
            return
        where = getattr(self.store, "path", None) or "memory"
        line = (f"routerlab: reused {tally['reused']:,} stored row(s) from {where}; retried "
                f"{tally['retried']:,} failed unit(s)")
        if not self.retry_failed:
            line += (f"; {tally['stored_failures']:,} stored failure(s) replayed as they are "
                     "(retry_failed=False)")
        log.info(line)
        if progress:
            print(line, file=sys.stderr, flush=True)

    def results(self) -> Results:
        """Every stored result of this experiment's strategies on this dataset, in a stable order
        (strategy as given, the dataset's prompt order, sample), without computing anything."""
        frames = [df for name in self.strategies if len(df := self.store.rows(self.config_hash(name), [name]))]
        meta = {"dataset": self.dataset.name, "seed": self.seed, "samples": self.samples, "split": self.split,
                "strategies": list(self.strategies), "oracles": self.oracles,
                "strategy_params": {n: fingerprint(s) for n, s in self.strategies.items()}, **self.meta}
        if self.last_run:
            meta["run"] = dict(self.last_run)
        if not frames:
            return Results(schema.empty_frame(), meta)
        df = pd.concat(frames, ignore_index=True)
        strat = {n: i for i, n in enumerate(self.strategies)}
        # the dataset's own position of each prompt: orders the rows and drops other data sets' prompts
        df = df.assign(_s=df["strategy"].map(strat), _p=df["prompt_id"].map(self.dataset._pos()))
        df = df[df["_p"].notna() & (df["sample"] < self.samples)]
        df = df.sort_values(["_s", "_p", "sample"], kind="stable").drop(columns=["_s", "_p"])
        return Results(df.reset_index(drop=True), meta)

    # the vectorised replay path -----------------------------------------------------------------
    async def _run_fast(self, name: str, router: Any, config: str, todo: list[tuple[str, int]],
                        bar: Any, on_rows: ProgressHook | None) -> None:
        out = self._fast_rows(name, router, todo)
        for start in range(0, len(out), 5000):
            chunk = out.iloc[start:start + 5000]
            self.store.put_frame(config, chunk)
            bar.update(len(chunk))
            if on_rows is not None:
                on_rows(name, chunk)
        postfix(bar, out)

    def _fast_rows(self, name: str, router: Any, todo: list[tuple[str, int]]) -> pd.DataFrame:
        """The rows of ``todo``'s units of a prompt-only router, replayed in one vectorised pass."""
        assert isinstance(self.caller, ReplayCaller)
        if len(todo) == len(self.dataset) and self.samples == 1:  # every unit (a plan keeps the data set's order)
            return replay_rows(name, router, self.caller, Batch.of(self.dataset), 0, self.split)
        ids = np.array([p for p, _ in todo], dtype=object)
        samples = np.array([s for _, s in todo])
        prompts = self.dataset.prompts.iloc[[self.dataset._pos()[p] for p in ids]].reset_index(drop=True)
        return replay_rows(name, router, self.caller, prompts, samples, self.split)

    # one unit on the per-prompt path (see executors.local) -----------------------------------------
    async def _unit(self, name: str, strategy: Any, pid: str, sample: int) -> dict[str, Any]:
        request = self.dataset.request(pid, sample=sample, **self.request_options)
        base = {"strategy": name, "prompt_id": pid, "task": request.task, "sample": sample, "split": self.split}
        started = time.perf_counter()
        try:
            answer: Answer = await strategy.answer(request, self.caller)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failure is a row, never a lost unit
            # live: the user waited this long for the error; replay has no clock, only simulated latency
            waited = np.nan if self._is_replay() else time.perf_counter() - started
            tokens = getattr(exc, "tokens", (0, 0))
            return schema.make_row(base, error_type=type(exc).__name__, error=str(exc)[:2000], latency=waited,
                                   input_tokens=int(tokens[0]), output_tokens=int(tokens[1]),
                                   cost=float(getattr(exc, "cost", 0.0) or 0.0))
        score, extracted = self._score(request, answer)
        return schema.make_row(
            base, models_called="|".join(answer.models_called), final_model=answer.model, answer=extracted,
            score=score, input_tokens=answer.input_tokens, output_tokens=answer.output_tokens, cost=answer.cost,
            latency=float(answer.latency), ttft=np.nan if answer.ttft is None else float(answer.ttft),
            simulated_latency=answer.simulated_latency, cached=answer.cached)

    def _score(self, request: Request, answer: Answer) -> tuple[float, str | None]:
        final = answer.final_call
        if (self.scorer is None and isinstance(self.caller, ReplayCaller) and final is not None
                and final.provider == ReplayCaller.provider and final.text == answer.text):
            rec = self.caller.recorded(request.prompt_id or "", answer.model, request.sample)
            return float(rec["score"]), rec.get("answer")
        scorer = self.scorer or self.dataset.scorer_for(request.task)
        reference = self.dataset.reference(request.prompt_id or "")
        s = scorer.score(answer.text, reference, model=answer.model)
        return float(s.value), s.answer
