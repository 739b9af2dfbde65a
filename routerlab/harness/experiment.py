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
import math
import os
import pickle
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._aio import run_sync
from ..datasets import Dataset
from ..errors import ConfigError, RouterlabError
from ..providers.replay import ReplayCaller
from .results import RESULT_COLUMNS, Results
from .store import MemoryStore, ResultStore
from ..types import Answer, Caller, Request
from . import views

__all__ = ["Experiment", "fingerprint", "replay_rows"]

ProgressHook = Callable[[str, pd.DataFrame], None]


def fingerprint(obj: Any, _depth: int = 0) -> Any:
    """A stable, JSON-able description of a strategy's configuration (for the config hash).

    Uses ``get_params()`` when the object has it (scikit-learn style), dataclass fields, or simple
    attributes; nested objects are described the same way, anything else by its class name.
    """
    if _depth > 4:
        return type(obj).__qualname__
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, (list, tuple)):
        return [fingerprint(x, _depth + 1) for x in obj]
    if isinstance(obj, Mapping):
        return {str(k): fingerprint(v, _depth + 1) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (Dataset, pd.DataFrame, np.ndarray)):
        return type(obj).__qualname__
    params: Mapping[str, Any] | None = None
    if hasattr(obj, "get_params"):
        try:
            params = obj.get_params()
        except Exception:  # noqa: BLE001 - a broken get_params must not stop a run
            params = None
    if params is None and is_dataclass(obj) and not isinstance(obj, type):
        params = {f.name: getattr(obj, f.name) for f in fields(obj)}
    if params is None:
        params = {k: v for k, v in vars(obj).items() if not k.startswith("_") and not k.endswith("_")} \
            if hasattr(obj, "__dict__") else {}
    inner = fingerprint(dict(params), _depth + 1)
    return {"class": type(obj).__qualname__, **inner} if isinstance(inner, dict) else \
        {"class": type(obj).__qualname__, "params": inner}


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _as_strategy(obj: Any) -> Any:
    if hasattr(obj, "answer"):
        return obj
    if hasattr(obj, "route"):
        from ..routers import RouterStrategy

        return RouterStrategy(obj)
    raise ConfigError(f"{obj!r} is neither a Strategy (has .answer) nor a Router (has .route)")


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
    """

    def __init__(self, dataset: Dataset, strategies: Mapping[str, Any] | None = None, *,
                 models: Sequence[str] | None = None, caller: Caller | None = None, scorer: Any = None,
                 samples: int = 1, seed: int = 0, store: str | ResultStore | None = None,
                 concurrency: int = 32, split: str = "all", meta: Mapping[str, Any] | None = None,
                 request_options: Mapping[str, Any] | None = None, fast_path: bool = True) -> None:
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
            # replay: what changes the numbers; live: only "live", so a resumed paid run never repeats
            # a finished call because some gateway setting changed in between
            "caller": caller.fingerprint() if isinstance(caller, ReplayCaller) else "live",
            "scorer": fingerprint(self.scorer),
            "split": self.split,
            # strategies fitted on a train split: another split means other fitted state
            "holdout": {k: self.meta.get(k) for k in ("split_seed", "test_size", "train_prompts")},
            "request": fingerprint(self.request_options),
            "strategy": fingerprint(self.strategies[name]),
        }
        return _hash(base)

    def _is_replay(self) -> bool:
        return isinstance(self.caller, ReplayCaller)

    # running ---------------------------------------------------------------------------------
    def run(self, *, progress: bool = True, on_rows: ProgressHook | None = None,
            dashboard: bool = False, workers: int = 1) -> Results:
        """Run what is missing and return every result (sync; works inside Jupyter).

        ``workers=2`` (replay only, on systems with ``fork``; the CLI uses it) hands every other
        per-prompt strategy to a forked worker process, so both cores work. A worker that fails
        changes nothing: its strategies then run here.
        """
        if dashboard:
            hook, finish = views.get("live_dashboard")(self)
            results = run_sync(self.arun(progress=progress, on_rows=hook))
            finish(results)
            return results
        if workers > 1 and self._is_replay() and hasattr(os, "fork"):
            return self._run_forked(progress=progress, on_rows=on_rows)
        return run_sync(self.arun(progress=progress, on_rows=on_rows))

    def _without(self, names: set[str], *, keep: bool = False, store: Any = None) -> Experiment:
        """A shallow copy running only some strategies (``keep``) or all but them, on ``store``."""
        part = copy.copy(self)
        part.strategies = {k: v for k, v in self.strategies.items() if (k in names) == keep}
        if store is not None:
            part.store = store
        return part

    def _run_forked(self, *, progress: bool, on_rows: ProgressHook | None) -> Results:
        slow = [n for n, s in self.strategies.items()
                if not (self.fast_path and getattr(s, "prompt_only", False))
                and len(self.store.done(self.config_hash(n), n)) < len(self.dataset) * self.samples]
        handed = set(slow[1::2])
        if not handed:
            return run_sync(self.arun(progress=progress, on_rows=on_rows))
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: replay is pure computation, so a forked copy can do it
            os.close(read_fd)
            code = 1
            try:
                mem = MemoryStore()
                asyncio.run(self._without(handed, keep=True, store=mem).arun(progress=False))
                frames = {n: mem.rows(self.config_hash(n), [n]) for n in handed}
                with os.fdopen(write_fd, "wb") as fh:
                    pickle.dump(frames, fh, protocol=pickle.HIGHEST_PROTOCOL)
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        try:
            run_sync(self._without(handed).arun(progress=progress, on_rows=on_rows))
        except BaseException:  # Ctrl-C or an error here: do not wait for the worker's share
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_fd)
            raise
        with os.fdopen(read_fd, "rb") as fh:
            payload = fh.read()
        _, status = os.waitpid(pid, 0)
        try:
            frames = pickle.loads(payload) if status == 0 else {}
        except Exception:  # noqa: BLE001 - a broken hand-over means: compute it here
            frames = {}
        for name, frame in frames.items():
            self.store.put_frame(self.config_hash(name), frame)
            if on_rows is not None:
                on_rows(name, frame)
        return run_sync(self.arun(progress=progress, on_rows=on_rows))  # computes only what is missing

    async def arun(self, *, progress: bool = True, on_rows: ProgressHook | None = None) -> Results:
        """The async form of :meth:`run`."""
        for name in self.strategies:
            strategy = self.strategies[name]
            config = self.config_hash(name)
            done = self.store.done(config, name)
            todo = [(pid, s) for pid in self.dataset.prompts["prompt_id"] for s in range(self.samples)
                    if (pid, s) not in done]
            if not todo:
                continue
            bar = _progress(name, len(todo), progress)
            try:
                if self.fast_path and self._is_replay() and getattr(strategy, "prompt_only", False):
                    await self._run_fast(name, strategy, config, todo, bar, on_rows)
                else:
                    await self._run_units(name, _as_strategy(strategy), config, todo, bar, on_rows)
            finally:
                bar.close()
        return self.results()

    def results(self) -> Results:
        """Every stored result of this experiment's strategies on this dataset, in a stable order."""
        frames = [df for name in self.strategies if len(df := self.store.rows(self.config_hash(name), [name]))]
        meta = {"dataset": self.dataset.name, "seed": self.seed, "samples": self.samples, "split": self.split,
                "strategies": list(self.strategies), **self.meta}
        if not frames:
            return Results(pd.DataFrame(columns=RESULT_COLUMNS), meta)
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
        assert isinstance(self.caller, ReplayCaller)
        ids = np.array([p for p, _ in todo], dtype=object)
        samples = np.array([s for _, s in todo])
        prompts = self.dataset.prompts.iloc[[self.dataset._pos()[p] for p in ids]].reset_index(drop=True)
        out = replay_rows(name, router, self.caller, prompts, samples, self.split)
        for col in ("strategy", "split", "models_called", "final_model", "error_type", "error"):
            out[col] = out[col].astype(object)
        for start in range(0, len(out), 5000):
            chunk = out.iloc[start:start + 5000]
            self.store.put_frame(config, chunk)
            bar.update(len(chunk))
            if on_rows is not None:
                on_rows(name, chunk)
        _postfix(bar, out)

    # the per-prompt path ----------------------------------------------------------------------
    async def _run_units(self, name: str, strategy: Any, config: str, todo: list[tuple[str, int]],
                         bar: Any, on_rows: ProgressHook | None) -> None:
        flush_every = 256 if self._is_replay() else 1  # a live call is paid for: persist it at once
        buffer: list[dict[str, Any]] = []
        stats = {"errors": 0, "cost": 0.0}
        queue = iter(todo)

        def flush() -> None:
            if buffer:
                self.store.put_many(config, buffer)
                if on_rows is not None:
                    on_rows(name, pd.DataFrame.from_records(buffer))
                buffer.clear()

        async def worker() -> None:
            for pid, sample in queue:
                row = await self._unit(name, strategy, pid, sample)
                buffer.append(row)
                stats["errors"] += bool(row["error_type"])
                stats["cost"] += row["cost"]
                bar.update(1)
                if len(buffer) >= flush_every:
                    flush()
                    bar.set_postfix(errors=stats["errors"], cost=f"${stats['cost']:.4f}", refresh=False)

        try:
            await asyncio.gather(*(worker() for _ in range(max(1, self.concurrency))))
        finally:
            flush()  # nothing already computed is lost, also on Ctrl-C
            bar.set_postfix(errors=stats["errors"], cost=f"${stats['cost']:.4f}", refresh=True)

    async def _unit(self, name: str, strategy: Any, pid: str, sample: int) -> dict[str, Any]:
        request = self.dataset.request(pid, sample=sample, **self.request_options)
        base = {"strategy": name, "prompt_id": pid, "task": request.task, "sample": sample, "split": self.split}
        started = time.perf_counter()
        try:
            answer: Answer = await strategy.answer(request, self.caller)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failure is a row, never a lost unit
            row = {**base, **_EMPTY}
            # live: the user waited this long for the error; replay has no clock, only simulated latency
            waited = np.nan if self._is_replay() else time.perf_counter() - started
            row.update(error_type=type(exc).__name__, error=str(exc)[:2000], latency=waited)
            tokens = getattr(exc, "tokens", (0, 0))
            row.update(input_tokens=int(tokens[0]), output_tokens=int(tokens[1]),
                       cost=float(getattr(exc, "cost", 0.0) or 0.0))
            return row
        score, extracted = self._score(request, answer)
        return {**base, "models_called": "|".join(answer.models_called), "final_model": answer.model,
                "answer": extracted, "score": score, "input_tokens": answer.input_tokens,
                "output_tokens": answer.output_tokens, "cost": answer.cost, "latency": float(answer.latency),
                "ttft": np.nan if answer.ttft is None else float(answer.ttft),
                "simulated_latency": answer.simulated_latency, "cached": answer.cached,
                "error_type": "", "error": ""}

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


def replay_rows(name: str, router: Any, caller: ReplayCaller, prompts: pd.DataFrame,
                samples: np.ndarray | int = 0, split: str = "all", *,
                prompt_codes: np.ndarray | None = None) -> pd.DataFrame:
    """The vectorised replay of a prompt-only router: ``route_many`` plus a join on the outcomes.

    Returns result rows (``RESULT_COLUMNS``; text columns as categoricals) equal to what the
    per-prompt path records. ``prompt_codes`` (``caller.outcomes.prompt_codes(ids)``) lets several
    strategies share the prompt half of the join.
    """
    n = len(prompts)
    samples = np.broadcast_to(np.asarray(samples), (n,))
    decided = np.asarray(router.route_many(prompts), dtype=object)
    if len(decided) != n:
        raise ConfigError(f"{name}: route_many returned {len(decided)} decisions for {n} prompts")
    outcomes = caller.outcomes
    pc = outcomes.prompt_codes(prompts["prompt_id"]) if prompt_codes is None else prompt_codes
    codes, uniques = pd.factorize(decided)
    canonical = np.array([caller.catalog.canonical(str(m), strict=False) for m in uniques], dtype=object)
    models = canonical[codes] if len(uniques) else decided
    pos = outcomes.positions(models=models, prompt_codes=pc, samples=samples)
    ok = pos >= 0
    got = caller.complete_many(positions=pos[ok], samples=samples[ok], columns=())

    def full(values: np.ndarray, fill: Any, dtype: Any = None) -> np.ndarray:
        if ok.all():
            return values
        out = np.full(n, fill, dtype=dtype or values.dtype)
        out[ok] = values
        return out

    def const(value: str) -> pd.Categorical:
        return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[value])

    model_cat = pd.Categorical.from_codes(codes, categories=canonical) if len(uniques) else decided
    answer = full(got["answer"], None, object) if "answer" in got else np.full(n, None, dtype=object)
    out = pd.DataFrame({
        "strategy": const(name), "prompt_id": prompts["prompt_id"].array, "task": prompts["task"].array,
        "sample": samples.astype(np.int64), "split": const(split),
        "models_called": model_cat, "final_model": model_cat, "answer": answer,
        "score": full(got["score"], np.nan, float) if "score" in got else np.full(n, np.nan),
        "input_tokens": full(got["input_tokens"], 0), "output_tokens": full(got["output_tokens"], 0),
        "cost": full(got["cost"], 0.0), "latency": full(got["latency"], np.nan),
        "ttft": full(got["ttft"], np.nan), "simulated_latency": full(got["simulated_latency"], False),
        "cached": np.zeros(n, dtype=bool), "error_type": const(""), "error": const(""),
    })
    if not ok.all():  # each missing outcome is a row that says what is missing, as on the per-prompt path
        for col in ("models_called", "final_model", "error_type", "error"):
            out[col] = out[col].astype(object)
        for i in np.flatnonzero(~ok):
            try:
                outcomes.record(str(out.at[i, "prompt_id"]), str(models[i]), int(samples[i]))
            except RouterlabError as exc:
                out.loc[i, ["error_type", "error", "final_model", "models_called"]] = [type(exc).__name__, str(exc), "", ""]
    return out


_EMPTY: dict[str, Any] = {"models_called": "", "final_model": "", "answer": None, "score": np.nan,
                          "input_tokens": 0, "output_tokens": 0, "cost": 0.0, "latency": np.nan,
                          "ttft": np.nan, "simulated_latency": False, "cached": False,
                          "error_type": "", "error": ""}


def _empty_rows(base: pd.DataFrame) -> pd.DataFrame:
    n = len(base)
    out = base.reset_index(drop=True).copy()
    for col, value in _EMPTY.items():
        out[col] = pd.Series([value] * n, dtype=object if isinstance(value, str) or value is None else None)
    return out[RESULT_COLUMNS]


def _progress(name: str, total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=name, unit="prompt", disable=not enabled, leave=True, dynamic_ncols=True)


def _postfix(bar: Any, out: pd.DataFrame) -> None:
    bar.set_postfix(errors=int((out["error_type"] != "").sum()), cost=f"${float(out['cost'].sum()):.4f}")
