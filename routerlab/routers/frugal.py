"""FrugalCascade: an answer-aware cascade whose acceptance is learned (FrugalGPT, Chen et al. 2023).

Cheap stages answer first; after each stage a per-stage **acceptance model** (logistic regression)
reads features of the answers so far and predicts whether the current answer is right; the answer is
accepted when that probability is at least the threshold ``τ``, otherwise the next stage is called.
The last stage is always accepted.

The current answer after a stage is the plurality of the extracted, normalised answers so far
(:func:`~routerlab.routers.cascade.answer_key`; ties: the earliest), given by its earliest holder.
Its features:

- agreement: the share of the answers so far that agree with it, the share of distinct answers;
- well-formed: whether an answer could be extracted for the task at all;
- length: ``log(1 + characters)`` of the answering response;
- task (one-hot of the request's task; tasks unseen in training: zeros) and the answering model.

:meth:`FrugalCascade.fit` works on a train split only: it plans the stages (every ladder of the train
cost-quality frontier's cheaper models: one, or two in parallel then optionally the next dearer frontier
model, ending with the best model; or ``stages`` as given), fits the acceptance models, and picks ``τ`` for a target cost
(``budget`` × the best single model's train cost) on **cross-fitted** acceptance probabilities (each
train prompt scored by models fitted on the other folds), so the threshold is not tuned on the
prompts the models memorised. :meth:`sweep` replays the whole threshold curve on held-out prompts.

Example::

    >>> from routerlab import datasets                                               # doctest: +SKIP
    >>> train, test = datasets.load("zeroeval").split(test_size=0.5, seed=0)          # doctest: +SKIP
    >>> c = FrugalCascade(budget=0.2).fit(train)                                       # doctest: +SKIP
    >>> c.stages_, round(c.threshold_, 2)                                              # doctest: +SKIP
    >>> c.sweep(test).points                                                           # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import is_real
from ..catalog import Catalog
from ..errors import ConfigError, NotFittedError
from ..stats.pareto import pareto_front
from ..types import Answer, Caller, Completion, Request
from .base import BaseStrategy
from .baselines import outcome_matrices
from .cascade import CascadeRouter, Check, Signal, _answer_keys, _as_stages, _codes, answer_key, scorers_for
from .utility import Sweep, _folds, one_blas_thread, sweep_points

__all__ = ["FrugalCascade", "LearnedAcceptance", "stage_features"]
_DECIMALS = 9


def _plurality(codes: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For (n, j) answer codes (-1: no answer) and each column's rank (0 = most trusted): (column of
    the most trusted holder of the plurality answer, its votes, number of distinct answers, whether it
    is an answer at all)."""
    n, j = codes.shape
    valid = codes >= 0
    votes = ((codes[:, :, None] == codes[:, None, :]) & valid[:, :, None] & valid[:, None, :]).sum(axis=2)
    # the most votes, ties to the most trusted column (the better model on train)
    key = votes * (j + 1) - np.asarray(rank, dtype=float)[None, :]
    key = np.where(valid, key, -np.inf)
    pick = np.argmax(key, axis=1)
    got = valid.any(axis=1)
    pick = np.where(got, pick, 0)
    top = votes[np.arange(n), pick]
    distinct = np.array([len(set(r[r >= 0].tolist())) for r in codes]) if j > 1 else valid[:, 0].astype(int)
    return pick, np.where(got, top, 0), distinct, np.asarray(got, dtype=bool)


def stage_features(codes: np.ndarray, lengths: np.ndarray, task_idx: np.ndarray, n_tasks: int,
                   model_idx: np.ndarray, n_models: int, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features, column of the current answer) after a stage, from the answers so far.

    ``codes``: (n, j) integer answer codes of the j answers so far (-1: none extracted; equal codes =
    equal answers); ``lengths``: (n, j) characters of each response; ``task_idx``: (n,) task index
    (-1: unknown); ``model_idx``: (j,) the answering models' indexes among ``n_models``; ``rank``: (j,)
    how much each answering model is trusted in a tie (0 = most).
    """
    n, j = codes.shape
    pick, votes, distinct, got = _plurality(codes, rank)
    feats = np.zeros((n, 5 + n_tasks + n_models))
    feats[:, 0] = votes / j
    feats[:, 1] = distinct / j
    feats[:, 2] = got
    feats[:, 3] = np.log1p(lengths[np.arange(n), pick]) / 10.0
    feats[:, 4] = (votes >= 2)
    has = task_idx >= 0
    feats[np.flatnonzero(has), 5 + task_idx[has]] = 1.0
    feats[np.arange(n), 5 + n_tasks + model_idx[pick]] = 1.0
    return feats, pick


@dataclass(eq=False, repr=False)
class LearnedAcceptance(Signal):
    """The acceptance signal of a fitted :class:`FrugalCascade` (a cascade :class:`~routerlab.routers.Signal`,
    see :class:`~routerlab.routers.cascade.CascadeRouter`): accept when the stage's acceptance model gives
    the current answer a score of at least ``threshold`` (see ``FrugalCascade.score``).

    ``cascade``: the fitted :class:`FrugalCascade` whose acceptance models are read; ``threshold``: τ.
    Raises :class:`~routerlab.errors.NotFittedError` at use when the cascade is not fitted (a clone is not).
    """

    cascade: Any
    threshold: float

    name = "learned"

    def _validate(self) -> None:
        if not callable(getattr(self.cascade, "acceptance_", None)):
            raise ConfigError(f"LearnedAcceptance cascade={self.cascade!r} is not a FrugalCascade")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float, np.number)):
            raise ConfigError(f"LearnedAcceptance threshold must be a number, got {self.threshold!r}")

    async def check(self, request: Request, calls: list[Completion], stage: list[Completion], caller: Caller) -> Check:
        self.validate()
        c = self.cascade
        c._check_fitted()
        answered = [x for x in calls if x.model in c.model_index_]
        if not answered:
            return Check(False, info={"p_correct": None})
        stage_no = c.stage_of_(answered[-1].model)
        keys: dict[Hashable, int] = {}
        codes = []
        scorers = scorers_for(None, caller, getattr(c, "scorers_", None))
        for x in answered:
            k = answer_key(x, request.task, scorers)
            codes.append(-1 if k is None else keys.setdefault(k, len(keys)))
        p, score, pick = c.acceptance_(stage_no, np.array([codes]), np.array([[len(x.text) for x in answered]]),
                                       request.task, [x.model for x in answered])
        accepted = bool(score[0] >= self.threshold)
        return Check(accepted, answered[int(pick[0])] if accepted else None,
                     info={"p_correct": round(float(p[0]), 4), "score": float(score[0]), "threshold": self.threshold})


@dataclass(frozen=True)
class _Ladder:
    """Recorded answers of the train (or test) prompts, in a ladder's call order."""

    models: list[str]
    S: np.ndarray       # (n, j) scores
    cost: np.ndarray    # (n, j) USD
    codes: np.ndarray   # (n, j) answer codes
    lengths: np.ndarray  # (n, j) characters
    tasks: np.ndarray   # (n,) task index, -1 unknown


@dataclass(eq=False, repr=False)
class FrugalCascade(BaseStrategy):
    """Cheap → strong with a learned acceptance model per stage (see the module docstring). A Strategy.

    Parameters
    ----------
    stages: a list of stages (model or tuple of models called in parallel); ``None``: planned by :meth:`fit`.
    score: ``"correct"``: accept when P(current answer right) >= τ (FrugalGPT's scorer); ``"gain"``
        (default): accept when ``-(P(next stage right) - P(now right)) / predicted next-stage cost`` >= τ,
        i.e. escalate first where a dollar buys the most quality.
    threshold: τ, or ``"auto"``: the cross-validated choice for ``budget`` (see :meth:`fit`).
    budget: target cost as a share of the best single model's train cost.
    candidates: models the planner may use (default: all recorded).
    C: inverse L2 penalty of the acceptance models; ``cv``: folds for cross-fitting.
    thresholds: the grid of ``threshold="auto"`` and of the curves (default: accept-all, accept-none and up
        to 400 distinct cross-fitted acceptance scores, ``thresholds_``).

    Learned: ``stages_``, ``models_`` (call order), ``acceptors_`` (one per non-final stage),
    ``threshold_``, ``thresholds_``, ``cv_curve_`` (cross-fitted train curve of the chosen plan), ``plans_`` (every
    plan considered, with its cross-fitted train quality and cost at the budget).
    """

    stages: Sequence[Any] | None = None
    _: KW_ONLY
    score: str = "gain"
    threshold: float | str = "auto"
    budget: float = 0.2
    candidates: Sequence[str] | None = None
    catalog: Catalog | None = None
    C: float = 1.0
    cv: int = 3
    thresholds: Sequence[float] | None = None
    name: str = "cascade-frugal"

    def _validate(self) -> None:
        if not (self.threshold == "auto" or is_real(self.threshold)):
            raise ConfigError(f"FrugalCascade threshold must be a number or 'auto', got {self.threshold!r}")
        if self.score not in ("gain", "correct"):
            raise ConfigError(f"FrugalCascade score must be 'gain' or 'correct', got {self.score!r}")
        if not is_real(self.budget) or not self.budget > 0:
            raise ConfigError(f"FrugalCascade budget must be a number > 0 (a share of the best single model's "
                              f"train cost), got {self.budget!r}")
        if isinstance(self.cv, bool) or not isinstance(self.cv, int) or self.cv < 2:
            raise ConfigError(f"FrugalCascade cv must be an integer >= 2, got {self.cv!r}")
        if not is_real(self.C) or not self.C > 0:
            raise ConfigError(f"FrugalCascade C must be a number > 0 (the inverse L2 penalty), got {self.C!r}")
        if self.stages is not None:
            _as_stages(self.stages, "stages")
        if self.thresholds is not None and not all(is_real(t) and t == t for t in self.thresholds):
            raise ConfigError(f"FrugalCascade thresholds must be numbers (±inf allowed), got {self.thresholds!r}")

    # -- data ------------------------------------------------------------------------------------------
    def _matrices(self, dataset: Any, models: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        scores, costs = outcome_matrices(dataset, self.catalog, models)
        # the answers are read by the data set's scorers, as Agreement reads them (see scorers_for)
        keys = _answer_keys(dataset, models, scorers_for(None, None, dataset))
        df = dataset.outcomes.df
        df = df[df["model"].isin(models) & ((df["sample"] == 0) if "sample" in df.columns else True)]
        lengths = df.pivot(index="prompt_id", columns="model", values="response").map(
            lambda t: len(t) if isinstance(t, str) else 0)
        prompts = dataset.prompts
        ok = scores[models].notna().all(axis=1) & costs[models].notna().all(axis=1)
        ids = prompts["prompt_id"][prompts["prompt_id"].isin(ok.index[ok.to_numpy()])].to_numpy(dtype=object)
        ids = ids[pd.Index(ids).isin(keys.index) & pd.Index(ids).isin(lengths.index)]
        if len(ids) < 2:
            raise ConfigError(f"FrugalCascade: need at least 2 prompts with an answer from every model of {models}, "
                              f"found {len(ids)}")
        task = prompts.set_index("prompt_id").loc[ids, "task"].astype(object).to_numpy()
        return ids, {"S": scores.loc[ids, models].to_numpy(float), "cost": costs.loc[ids, models].to_numpy(float),
                     "codes": _codes(keys.loc[ids, models]).to_numpy(), "lengths": lengths.loc[ids, models].to_numpy(float),
                     "task": task}

    def _ladder(self, data: Mapping[str, np.ndarray], all_models: list[str], order: list[str]) -> _Ladder:
        cols = [all_models.index(m) for m in order]
        levels = {t: i for i, t in enumerate(self.task_levels_)}
        tasks = np.array([levels.get(t, -1) for t in data["task"]], dtype=np.int64)
        return _Ladder(order, data["S"][:, cols], data["cost"][:, cols], data["codes"][:, cols],
                       data["lengths"][:, cols], tasks)

    # -- the acceptance models -----------------------------------------------------------------------
    def _features(self, lad: _Ladder, bounds: list[int], i: int) -> tuple[np.ndarray, np.ndarray]:
        j = bounds[i + 1]
        idx = np.array([self.model_index_[m] for m in lad.models[:j]])
        return stage_features(lad.codes[:, :j], lad.lengths[:, :j], lad.tasks, len(self.task_levels_), idx,
                              len(self.model_index_), self.rank_[idx])

    def _labels(self, lad: _Ladder, bounds: list[int], i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For stage ``i``: whether the current answer is right, whether the answer after the next stage
        would be, and the next stage's cost (USD)."""
        n = len(lad.S)
        now = lad.S[np.arange(n), self._features(lad, bounds, i)[1]] >= 0.5
        nxt = (lad.S[:, bounds[-2]] if i + 1 == len(bounds) - 2
               else lad.S[np.arange(n), self._features(lad, bounds, i + 1)[1]]) >= 0.5
        return now, nxt, lad.cost[:, bounds[i + 1]:bounds[i + 2]].sum(axis=1)

    def _fit_acceptors(self, lad: _Ladder, bounds: list[int], rows: np.ndarray) -> list[dict[str, Any]]:
        """Per non-final stage: P(current answer right), P(the next stage's answer right) and the next
        stage's log cost, each from the stage features (fitted on ``rows``)."""
        from sklearn.linear_model import LogisticRegression, Ridge

        out: list[dict[str, Any]] = []
        for i in range(len(bounds) - 2):
            x = self._features(lad, bounds, i)[0][rows]
            now, nxt, cost = (v[rows] for v in self._labels(lad, bounds, i))
            fitted: dict[str, Any] = {}
            for key, y in (("now", now), ("next", nxt)):
                fitted[key] = (float(y.mean()) if len(np.unique(y)) < 2 else  # few features: Newton is quickest
                               LogisticRegression(C=float(self.C), solver="newton-cholesky", max_iter=100).fit(x, y))
            fitted["cost"] = Ridge(alpha=1.0).fit(x, np.log(np.maximum(cost, 1e-12) / self.cost_unit_))
            out.append(fitted)
        return out

    def _scores(self, fitted: Mapping[str, Any], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P(current answer right), acceptance score): accept when the score is at least τ.

        ``score="correct"``: the probability itself (FrugalGPT). ``score="gain"``: minus the expected
        gain of escalating per unit of its predicted cost, ``-(P(next right) - P(now right)) / cost``,
        so the prompts escalated first are those where a dollar buys the most quality.
        """
        now = self._proba(fitted["now"], x)
        if self.score == "correct":
            return now, now
        gain = self._proba(fitted["next"], x) - now
        cost = np.exp(fitted["cost"].predict(x))
        return now, np.round(-gain / np.maximum(cost, 1e-9), _DECIMALS)

    @staticmethod
    def _proba(model: Any, x: np.ndarray) -> np.ndarray:
        p = np.full(len(x), model) if isinstance(model, float) else model.predict_proba(x)[:, 1]
        return np.round(p, _DECIMALS)

    def _simulate(self, lad: _Ladder, bounds: list[int], probs: list[np.ndarray], picks: list[np.ndarray],
                  taus: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-prompt quality, cost and answering stage (T, n) for each threshold, exactly as
        :meth:`answer` runs."""
        n, k = len(lad.S), len(bounds) - 1
        stage_cost = np.stack([lad.cost[:, bounds[i]:bounds[i + 1]].sum(axis=1) for i in range(k)])  # (k, n)
        quality = np.stack([lad.S[np.arange(n), p] for p in picks] + [lad.S[:, bounds[-2]]])  # (k, n)
        accept = np.ones((len(taus), k, n), dtype=bool)  # the last stage always accepts
        for i, p in enumerate(probs):
            accept[:, i] = p[None, :] >= taus[:, None]
        first = np.argmax(accept, axis=1)  # (T, n)
        q = np.take_along_axis(quality[None].repeat(len(taus), 0), first[:, None, :], 1)[:, 0]
        cum = np.cumsum(stage_cost, axis=0)
        cst = np.take_along_axis(cum[None].repeat(len(taus), 0), first[:, None, :], 1)[:, 0]
        return q, cst, first

    # -- fitting ------------------------------------------------------------------------------------------
    def fit(self, dataset: Any) -> FrugalCascade:
        """Plan the stages, fit the acceptance models and choose τ on ``dataset`` (a train split).

        Raises :class:`~routerlab.errors.ConfigError` for bad parameters or too little data.
        """
        with one_blas_thread():
            return self._fit(dataset)

    def _fit(self, dataset: Any) -> FrugalCascade:
        self.validate()
        self.scorers_ = scorers_for(None, None, dataset)
        scores, costs = outcome_matrices(dataset, self.catalog, self.candidates)
        models = [str(m) for m in scores.columns]
        ids, data = self._matrices(dataset, models)
        self.task_levels_ = np.array(sorted({t for t in data["task"] if isinstance(t, str) and t}), dtype=object)
        quality, total = data["S"].mean(axis=0), data["cost"].sum(axis=0)
        self.cost_unit_ = float(data["cost"].mean()) or 1.0  # USD that the cost models' log is relative to
        best = int(np.argmax(quality))
        limit = self.budget * float(total[best])
        folds = _folds(ids, min(self.cv, len(ids)))
        plans = [_as_stages(self.stages, "stages")] if self.stages is not None else _plans(models, quality, total, best)
        rows, fitted_plans = [], []
        for plan in plans:
            order = [m for group in plan for m in group]
            unknown = [m for m in order if m not in models]
            if unknown:
                raise ConfigError(f"FrugalCascade stages name models without recorded outcomes: {unknown}; "
                                  f"recorded: {models}")
            self._set_order(order, models, quality)
            lad = self._ladder(data, models, order)
            bounds = list(np.cumsum([0] + [len(g) for g in plan]))
            probs, picks = self._cross_fit(lad, bounds, folds)
            taus = self._taus(probs)
            q, cst, _ = self._simulate(lad, bounds, probs, picks, taus)
            curve = pd.DataFrame({"threshold": taus, "quality": q.mean(axis=1), "cost": cst.sum(axis=1)})
            tau = float(self.threshold) if self.threshold != "auto" else _pick_threshold(curve, limit)
            at = curve.iloc[_nearest(taus, tau)]
            rows.append({"stages": plan, "threshold": tau, "cv_quality": float(at["quality"]),
                         "cv_cost": float(at["cost"])})
            fitted_plans.append((plan, order, lad, bounds, curve, tau, taus))
        self.plans_ = pd.DataFrame(rows)
        within = self.plans_["cv_cost"] <= limit
        ranked = self.plans_.assign(_ok=within).sort_values(["_ok", "cv_quality", "cv_cost"], ascending=[False, False, True])
        plan, order, lad, bounds, curve, tau, taus = fitted_plans[int(ranked.index[0])]
        self.thresholds_ = taus
        self.stages_, self.models_, self.bounds_ = plan, order, bounds
        self._set_order(order, models, quality)
        self.acceptors_ = self._fit_acceptors(lad, bounds, np.ones(len(lad.S), dtype=bool))
        self.threshold_, self.cv_curve_ = tau, curve
        return self

    def _taus(self, scores: list[np.ndarray]) -> np.ndarray:
        """The threshold grid: ``thresholds`` if given, else -inf (accept all), +inf (accept none) and up to
        400 of the distinct cross-fitted scores, evenly spaced by rank (a fine grid exactly where the
        decisions change, even where many prompts score alike)."""
        if self.thresholds is not None:
            return np.asarray(list(self.thresholds), dtype=float)
        distinct = np.unique(np.round(np.concatenate(scores), _DECIMALS)) if scores else np.zeros(0)
        if len(distinct) > 400:
            distinct = distinct[np.round(np.linspace(0, len(distinct) - 1, 400)).astype(int)]
        return np.unique(np.concatenate([[-np.inf, np.inf], distinct]))

    def _set_order(self, order: list[str], models: list[str], quality: np.ndarray) -> None:
        """Index of each ladder model and its rank in a tie (0: the best on train, then call order)."""
        self.model_index_ = {m: i for i, m in enumerate(order)}
        q = np.array([quality[models.index(m)] for m in order])
        self.rank_ = np.argsort(np.lexsort((np.arange(len(order)), -q))).astype(float)

    def _cross_fit(self, lad: _Ladder, bounds: list[int], folds: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Acceptance scores of every train prompt from models fitted on the other folds, and the picks."""
        n = len(lad.S)
        scores = [np.zeros(n) for _ in range(len(bounds) - 2)]
        feats = [self._features(lad, bounds, i) for i in range(len(bounds) - 2)]
        for f in range(int(folds.max()) + 1):
            out = folds == f
            for i, fitted in enumerate(self._fit_acceptors(lad, bounds, ~out)):
                scores[i][out] = self._scores(fitted, feats[i][0][out])[1]
        return scores, [pick for _, pick in feats]

    # -- answering ----------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "acceptors_"):
            raise NotFittedError("FrugalCascade is not fitted yet: call fit(train_dataset) first")

    def stage_of_(self, model: str) -> int:
        """The stage a model of the ladder is called in."""
        i = self.model_index_[model]
        return int(np.searchsorted(self.bounds_, i, side="right") - 1)

    def acceptance_(self, stage: int, codes: np.ndarray, lengths: np.ndarray, task: str | None,
                    models: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probability the current answer is right, acceptance score, the answer's column) after
        ``stage`` for one request."""
        levels = {t: i for i, t in enumerate(self.task_levels_)}
        idx = np.array([self.model_index_[m] for m in models])
        x, pick = stage_features(codes, lengths.astype(float), np.array([levels.get(task, -1)]),
                                 len(self.task_levels_), idx, len(self.model_index_), self.rank_[idx])
        p, score = self._scores(self.acceptors_[stage], x)
        return p, score, pick

    def _cascade(self) -> CascadeRouter:
        cached = getattr(self, "_cache_cascade", None)
        if cached is None:
            cached = CascadeRouter(self.stages_, LearnedAcceptance(self, self.threshold_), name=self.name)
            self._cache_cascade = cached
        return cached

    async def answer(self, request: Request, caller: Caller) -> Answer:
        """Run the cascade for ``request`` through ``caller`` (replayed or live); see :class:`CascadeRouter`."""
        self._check_fitted()
        return await self._cascade().answer(request, caller)

    # -- curves ---------------------------------------------------------------------------------------------
    def sweep(self, dataset: Any, thresholds: Sequence[float] | None = None) -> Sweep:
        """The whole threshold curve on ``dataset`` (a held-out split), replayed from recorded answers.

        ``picks`` holds the stage that answered. Costs in USD, summed over the prompts in ``points``.
        """
        self._check_fitted()
        ids, data = self._matrices(dataset, list(self.models_))
        lad = self._ladder(data, list(self.models_), list(self.models_))
        b = self.bounds_
        feats = [self._features(lad, b, i) for i in range(len(b) - 2)]
        probs = [self._scores(m, x)[1] for m, (x, _) in zip(self.acceptors_, feats)]
        taus = np.asarray(list(thresholds) if thresholds is not None else list(self.thresholds_), dtype=float)
        q, cst, stage = self._simulate(lad, b, probs, [p for _, p in feats], taus)
        names = np.array([" + ".join(g) for g in self.stages_], dtype=object)
        points = sweep_points(taus.tolist(), q, cst, stage, names, key="threshold")
        return Sweep(points, q, cst, stage, ids, names)

    def cost_quality_curve(self, dataset: Any, thresholds: Sequence[float] | None = None) -> pd.DataFrame:
        return self.sweep(dataset, thresholds).points


def _nearest(grid: np.ndarray, value: float) -> int:
    """Index of ``value`` in ``grid`` (exact, infinities included), else of the nearest finite point."""
    exact = np.flatnonzero(grid == value)
    if len(exact):
        return int(exact[0])
    finite = np.where(np.isfinite(grid), grid, np.nan)
    return int(np.nanargmin(np.abs(finite - value)))


def _pick_threshold(curve: pd.DataFrame, limit: float) -> float:
    """The best cross-fitted quality within the cost limit (the cheapest point when none fits)."""
    ok = curve[curve["cost"] <= limit]
    if len(ok):
        return float(ok.sort_values(["quality", "cost"], ascending=[False, True])["threshold"].iloc[0])
    return float(curve.sort_values(["cost", "quality"], ascending=[True, False])["threshold"].iloc[0])


def _plans(models: list[str], quality: np.ndarray, total: np.ndarray, best: int) -> list[list[tuple[str, ...]]]:
    """Ladders over the train frontier's models cheaper than the best one: one or two of them first
    (two in parallel), then optionally one more of them, then the best model."""
    cheaper = np.flatnonzero(total < total[best])  # the best model's cheaper rivals: only they can come first
    frontier = [models[cheaper[i]] for i in pareto_front(total[cheaper], quality[cheaper])]
    final = (models[best],)
    plans: list[list[tuple[str, ...]]] = [[(m,), final] for m in frontier]
    for first in itertools.combinations(frontier, 2):
        plans.append([tuple(first), final])
        dearer = [m for m in frontier if total[models.index(m)] > max(total[models.index(x)] for x in first)]
        plans += [[tuple(first), (m,), final] for m in dearer[:1]]  # the next frontier model as a middle stage
    return plans or [[final]]
