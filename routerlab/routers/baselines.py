"""Baselines every comparison needs: a fixed model, a seeded random mix, and the oracle upper bound.

Example::

    >>> from routerlab.routers import FixedRouter, RandomRouter
    >>> from routerlab.types import Request
    >>> FixedRouter("gpt-4o").route_many(["a", "b"]).tolist()
    ['gpt-4o', 'gpt-4o']
    >>> r = RandomRouter(["gpt-4o", "gpt-4o-mini"], weights=[0.2, 0.8], seed=0)
    >>> picks = r.route_many(["a", "b", "c"])
    >>> picks.tolist() == [r.route(Request.from_prompt(p)).model for p in ["a", "b", "c"]]
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._hashing import mix64, unit
from ..catalog import Catalog
from ..errors import ConfigError, MissingOutcomeError, UnknownModelError
from ..types import Decision, Request
from .base import Batch, BaseRouter, decisions, explain_frame, key_hash

__all__ = ["FixedRouter", "RandomRouter", "OracleRouter", "stable_uniform", "hashed_uniform", "outcome_matrices"]


def stable_uniform(keys: Sequence[Any] | np.ndarray, seed: int, salt: str = "") -> np.ndarray:
    """One uniform draw in [0, 1) per key, a pure function of (key, seed, salt). Vectorised.

    Example::

        >>> float(stable_uniform(["p1"], 0)[0]) == float(stable_uniform(["p0", "p1"], 0)[1])
        True
    """
    arr = np.asarray([str(k) for k in keys], dtype=object)
    if not len(arr):
        return np.zeros(0)
    key = f"{salt}{int(seed) & 0xFFFFFFFF:010d}".encode()[-16:].decode().rjust(16, "0")
    h = pd.util.hash_array(arr, hash_key=key, categorize=False)
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def hashed_uniform(hashes: np.ndarray, seed: int, salt: str = "") -> np.ndarray:
    """One uniform draw in (0, 1) per 64-bit key hash (:meth:`Batch.key_hashes`), a pure function of
    (hash, seed, salt): a few integer operations per row, so a million draws take milliseconds.

    Example::

        >>> h = np.array([1, 2, 3], dtype=np.uint64)
        >>> bool((hashed_uniform(h, 0) == hashed_uniform(h[::-1], 0)[::-1]).all())
        True
    """
    salted = pd.util.hash_array(np.array([f"{salt}:{int(seed)}"], dtype=object), categorize=False)
    return unit(mix64(np.asarray(hashes, dtype=np.uint64) ^ mix64(salted)))


@dataclass(eq=False, repr=False)
class FixedRouter(BaseRouter):
    """Always the same model: the single-model baseline.

    Example::

        >>> from routerlab.types import Request
        >>> FixedRouter("gpt-4o-mini").route(Request.from_prompt("hi")).model
        'gpt-4o-mini'
    """

    model: str
    _: KW_ONLY
    name: str = "fixed"

    prompt_only = True

    def route(self, request: Request) -> Decision:
        return Decision(self.model, reason="fixed model", scores={self.model: 1.0}, task=request.task,
                        router=self.name)

    def explain(self, request: Request) -> pd.DataFrame:
        return explain_frame([{"model": self.model, "score": 1.0, "removed_by": None}], self.model)

    def _route_batch(self, batch: Batch) -> pd.Categorical:
        return decisions(np.zeros(len(batch), dtype=np.int8), [self.model])


@dataclass(eq=False, repr=False)
class RandomRouter(BaseRouter):
    """A seeded random mix of models, with optional weights.

    The draw for a request is a hash of (seed, prompt id) — of the prompt text when there is no id — so
    ``route`` and ``route_many`` agree and the same prompt always goes to the same model, in any order,
    batch or process (:func:`hashed_uniform` over :meth:`Batch.key_hashes`).

    Example::

        >>> from routerlab.types import Request
        >>> r = RandomRouter(["gpt-4o", "gpt-4o-mini"], seed=3)
        >>> r.route(Request.from_prompt("hi", prompt_id="p1")).model == r.route_many(
        ...     [Request.from_prompt("other text", prompt_id="p1")])[0]
        True
    """

    models: Sequence[str]
    _: KW_ONLY
    weights: Sequence[float] | None = None
    seed: int = 0
    name: str = "random"

    prompt_only = True

    def _setup(self) -> tuple[list[str], np.ndarray]:
        cached = getattr(self, "_cache_setup", None)
        if cached is None:
            models = list(self.models)
            if not models:
                raise ConfigError("RandomRouter needs at least one model (parameter 'models')")
            w = np.ones(len(models)) if self.weights is None else np.asarray(self.weights, dtype=float)
            if w.shape != (len(models),) or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
                raise ConfigError(f"RandomRouter parameter 'weights' must be {len(models)} non-negative numbers "
                                  f"with a positive sum, got {self.weights!r}")
            cached = (models, np.cumsum(w) / w.sum())
            self._cache_setup = cached
        return cached

    def _pick(self, hashes: np.ndarray) -> np.ndarray:
        """Each key hash's model, as an index into ``models``."""
        models, cum = self._setup()
        idx = np.searchsorted(cum, hashed_uniform(hashes, self.seed, "random"), side="right")
        return np.minimum(idx, len(models) - 1)

    def route(self, request: Request) -> Decision:
        models, cum = self._setup()
        h = np.array([key_hash(request.prompt_id, request.prompt)], dtype=np.uint64)
        model = str(models[int(self._pick(h)[0])])
        shares = np.diff(np.concatenate([[0.0], cum]))
        return Decision(model, reason=f"random draw (seed {self.seed})", scores=dict(zip(models, shares.tolist())),
                        task=request.task, router=self.name)

    def explain(self, request: Request) -> pd.DataFrame:
        d = self.route(request)
        return explain_frame([{"model": m, "score": s, "removed_by": None} for m, s in d.scores.items()], d.model)

    def _route_batch(self, batch: Batch) -> pd.Categorical:
        return decisions(self._pick(batch.key_hashes()), self._setup()[0])


def outcome_matrices(data: Any, catalog: Catalog | None = None, candidates: Sequence[str] | None = None, *,
                     require_cost: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, costs): prompt × model tables (USD per prompt) from a Dataset's recorded outcomes.

    Cost is each outcome's cost as its data set resolved it (recorded, else list price × tokens).
    ``catalog`` re-prices a Dataset's catalog-priced outcomes with another catalog. Several samples
    per prompt are averaged. With ``require_cost`` a model with no known cost raises
    :class:`~routerlab.errors.UnknownModelError` naming it and the field ``price``.
    """
    if hasattr(data, "outcomes") and not isinstance(data, pd.DataFrame):
        if data.outcomes is None or not len(data.outcomes):
            raise MissingOutcomeError("no recorded outcomes: load a data set with outcomes")
        if catalog is not None and hasattr(data, "with_catalog"):
            data = data.with_catalog(catalog)
        outcomes = data.outcomes
    else:
        outcomes = data
    if outcomes is None or not len(outcomes):
        raise MissingOutcomeError("no recorded outcomes: load a data set with outcomes")
    prompts, models, s = outcomes.dense("score", sample=None)
    _, _, c = outcomes.dense("cost", sample=None)
    index, columns = pd.Index(prompts, name="prompt_id"), pd.Index(models, name="model")
    scores, costs = pd.DataFrame(s, index=index, columns=columns), pd.DataFrame(c, index=index, columns=columns)
    order = sorted(columns) if candidates is None else [m for m in sorted(columns) if m in set(candidates)]
    keep = scores[order].notna().any(axis=1).to_numpy() if candidates is not None else slice(None)
    scores, costs = scores[order][keep], costs[order][keep]
    if require_cost:
        unpriced = [m for m in order if costs[m].isna().all()]
        if unpriced:
            raise UnknownModelError(
                f"no cost is known for model {unpriced[0]!r}: the data records none and the catalog has no "
                "'price' for it; record a cost column, add the model to the catalog (Catalog.from_file + "
                "merge, then load(..., catalog=...)), or leave it out (candidates=[...])",
                model=unpriced[0], field="price")
    return scores, costs


def _best_overall(s: np.ndarray, c: np.ndarray) -> int:
    """Column of the highest mean score over the prompts each model has one for (ties: cheaper mean cost)."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a model with no score at all: NaN, ranked last
        quality, cost = np.nanmean(s, axis=0), np.nanmean(c, axis=0)
    return int(np.lexsort((np.nan_to_num(cost, nan=np.inf), -np.nan_to_num(quality, nan=-np.inf)))[0])


class _LazyTextIndex:
    """prompt text -> prompt id, built on the first look-up (only prompts without ids need it)."""

    def __init__(self, prompts: Any) -> None:
        self._prompts = prompts if isinstance(prompts, pd.DataFrame) else None
        self._map: dict[str, str] | None = None

    def get(self, text: str) -> str | None:
        if self._map is None:
            p = self._prompts
            self._map = dict(zip(p["prompt"], p["prompt_id"])) if p is not None else {}
        return self._map.get(text)


@dataclass(eq=False, repr=False)
class OracleRouter(BaseRouter):
    """The cheapest model that answered correctly, read from recorded outcomes: the upper bound.

    Offline only (it looks at the answers). ``correct`` means ``score >= threshold``; when no model was
    correct it takes the cheapest model. ``data`` is a Dataset with outcomes, or the name/path of one,
    loaded on first use.

    Example::

        >>> from routerlab import datasets                                   # doctest: +SKIP
        >>> ds = datasets.load("zeroeval")                                    # doctest: +SKIP
        >>> OracleRouter(ds).route(ds.request("gsm8k-main-test-#0")).model     # doctest: +SKIP
        'gemma-2-2b'
    """

    data: Any = None
    _: KW_ONLY
    catalog: Catalog | None = None
    candidates: Sequence[str] | None = None
    threshold: float = 0.5
    name: str = "oracle"

    prompt_only = True
    reads_answers = True  # it decides from the recorded answers: an upper bound, never a strategy to ship

    def _tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, _LazyTextIndex]:
        cached = getattr(self, "_cache_tables", None)
        if cached is not None:
            return cached
        data = self.data
        if data is None:
            raise ConfigError("OracleRouter needs data: a Dataset with outcomes, or a data set name or path")
        if isinstance(data, str) or hasattr(data, "__fspath__"):
            from .. import datasets

            data = datasets.load(data, catalog=self.catalog)
        scores, costs = outcome_matrices(data, self.catalog, self.candidates)
        s, c = scores.to_numpy(dtype=float), costs.to_numpy(dtype=float)
        known = ~np.isnan(s) & ~np.isnan(c)
        correct = known & (s >= self.threshold)
        c_any = np.where(known, c, np.inf)
        c_ok = np.where(correct, c, np.inf)
        pick = np.where(correct.any(axis=1), np.argmin(c_ok, axis=1), np.argmin(c_any, axis=1))
        # a prompt no model has an outcome for: the best model overall (then cheaper), never column 0
        pick = np.where(known.any(axis=1), pick, _best_overall(s, c))
        choice = pd.Series(np.asarray(scores.columns, dtype=object)[pick], index=scores.index)
        self._cache_pick = pick  # the batch form gathers these codes
        cached = (scores, costs, choice, _LazyTextIndex(getattr(data, "prompts", None)))
        self._cache_tables = cached
        return cached

    @property
    def _cache_rows(self) -> dict[str, int]:
        # built on the first single-prompt call (route_many never needs it); set_params(data=...) drops it
        rows = getattr(self, "_cache_rows_by_id", None)
        if rows is None:
            rows = self._cache_rows_by_id = {pid: i for i, pid in enumerate(self._tables()[0].index)}
        return rows

    def _pid(self, prompt_id: Any, prompt: str) -> str:
        _, _, choice, by_text = self._tables()
        if prompt_id is not None and prompt_id in self._cache_rows:
            return str(prompt_id)
        found = by_text.get(prompt)
        if found is None:
            raise MissingOutcomeError(f"the oracle has no recorded outcomes for prompt {prompt_id!r} "
                                      f"({prompt[:50]!r}...): it only knows the prompts of its data")
        return found

    def route(self, request: Request) -> Decision:
        scores, costs, choice, _ = self._tables()
        i = self._cache_rows[self._pid(request.prompt_id, request.prompt)]
        model = str(choice.iat[i])
        row = scores.to_numpy()[i]
        j = scores.columns.get_loc(model)
        if np.isnan(row).all():
            why = "no model has a recorded score for this prompt: the best model overall"
        elif row[j] >= self.threshold:
            why = "cheapest correct model"
        else:
            why = "no model was correct: the cheapest model"
        return Decision(model, reason=f"oracle: {why}",
                        scores={m: float(v) for m, v in zip(scores.columns, row) if v == v},
                        task=request.task, router=self.name, estimated_cost=float(costs.to_numpy()[i, j]))

    def explain(self, request: Request) -> pd.DataFrame:
        scores, costs, choice, _ = self._tables()
        pid = self._pid(request.prompt_id, request.prompt)
        model = str(choice[pid])
        rows = []
        for m in scores.columns:
            s, c = scores.loc[pid, m], costs.loc[pid, m]
            if np.isnan(s):
                removed = "no recorded outcome"
            elif m == model:
                removed = None
            elif s < self.threshold and scores.loc[pid, model] >= self.threshold:
                removed = f"incorrect (score {s:g} < {self.threshold:g})"
            else:
                removed = f"costlier than {model} (${c:.6f} vs ${costs.loc[pid, model]:.6f})"
            rows.append({"model": m, "score": None if removed else float(s), "removed_by": removed,
                         "recorded_score": float(s), "cost": float(c)})
        return explain_frame(rows, model)

    def _route_batch(self, batch: Batch) -> pd.Categorical:
        scores, _, choice, _ = self._tables()
        pos = batch.rows_in(choice.index)
        if (pos < 0).any():  # no id (or an unknown one): look the text up, as route() does
            pos = pos.copy()
            ids = batch.prompt_ids
            for i in np.flatnonzero(pos < 0):
                pos[i] = choice.index.get_loc(self._pid(None if ids[i] is None else ids[i], str(batch.prompts[i])))
        return decisions(self._cache_pick[pos], list(scores.columns))
