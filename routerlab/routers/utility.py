"""The base of the routers that learn: predict each model's quality and cost, pick ``argmax p − λ·c``.

A :class:`UtilityRouter` is fitted on recorded outcomes of a train split. For a prompt it predicts,
for each of N candidate models, the expected score ``p`` (a probability of success for 0/1 scores) and
the cost ``c`` (USD, divided by the mean cost per prompt of the most expensive candidate on the train
split, so ``c`` is in [0, ~1]), and picks the model maximising ``p − λ·c``. ``λ = 0`` buys the best
predicted quality at any price; a large ``λ`` the cheapest model. Ties go to the cheaper model (then
the earlier column), and the same rounding is used in every path, so ``route``, ``route_many`` and the
curves always agree.

Honest by construction:

- the featuriser, the predictor and every hyper-parameter see only the train split;
- ``lam="auto"`` and the ``search`` grid are chosen by K-fold cross-validation on the train split
  (each prompt predicted by a model fitted on the other folds; folds fixed by a hash of the prompt id);
- :meth:`sweep` evaluates the whole λ curve on a held-out split in one vectorised pass.

Subclasses implement ``_fit_predictor(X, S, C, hp)`` (set learned attributes ending in ``_``) and
``_predict_pc(X) -> (p, c)`` over a feature matrix whose last columns are the task one-hot (see
``task_field``).

Example::

    >>> from routerlab import datasets                                               # doctest: +SKIP
    >>> from routerlab.routers import ClassifierRouter                               # doctest: +SKIP
    >>> train, test = datasets.load("zeroeval").split(test_size=0.5, seed=0)          # doctest: +SKIP
    >>> r = ClassifierRouter().fit(train)                                             # doctest: +SKIP
    >>> r.sweep(test).points[["lam", "quality", "cost"]]                              # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._validation import is_real
from ..catalog import Catalog
from ..embeddings import TfidfFeaturizer, features, fitted
from ..errors import ConfigError, NotFittedError
from ..stats.routing import aiq, nondecreasing_convex_hull
from ..types import Decision, Request
from .base import Batch, BaseRouter, explain_frame
from .baselines import outcome_matrices, stable_uniform

__all__ = ["UtilityRouter", "Sweep", "TrainingData", "training_data", "DEFAULT_LAMBDAS", "default_featurizer",
           "one_blas_thread", "sweep_points"]

#: The λ grid of ``lam="auto"`` and of the curves: 0, then 61 log-spaced values from 1e-3 to 1e3.
DEFAULT_LAMBDAS: tuple[float, ...] = (0.0,) + tuple(float(f"{v:.4g}") for v in np.geomspace(1e-3, 1e3, 61))

_DECIMALS = 9  # predictions are rounded so a batch and a single query break ties the same way


def default_featurizer() -> TfidfFeaturizer:
    """The learned routers' default featuriser: word + character TF-IDF reduced to 128 SVD dimensions."""
    return TfidfFeaturizer()


@dataclass(frozen=True)
class TrainingData:
    """What a router learns from: prompts with an outcome for every candidate model.

    ``S``, ``cost``: (n, m) recorded scores and costs (USD); ``tasks``: the ``task_field`` per prompt;
    ``coverage``: task → (m,) bools, the models with a recorded score on some prompt of the task (all
    prompts, not only the complete ones).
    """

    prompt_ids: np.ndarray
    texts: list[str]
    tasks: np.ndarray
    models: np.ndarray
    S: np.ndarray
    cost: np.ndarray
    coverage: Mapping[str, np.ndarray] = field(default_factory=dict)


def training_data(dataset: Any, catalog: Catalog | None, candidates: Sequence[str] | None = None,
                  task_field: str | None = "task", *, who: str = "router") -> TrainingData:
    """The prompts of ``dataset`` with a recorded outcome for every candidate, in the data set's order.

    Raises :class:`~routerlab.errors.ConfigError` when fewer than two prompts qualify.
    """
    scores, costs = outcome_matrices(dataset, catalog, candidates)
    complete = scores.notna().all(axis=1) & costs.notna().all(axis=1)
    prompts = dataset.prompts
    keep = prompts["prompt_id"].isin(complete.index[complete.to_numpy()]).to_numpy()
    ids = prompts["prompt_id"].to_numpy(dtype=object)[keep]
    if len(ids) < 2:
        raise ConfigError(f"{who}.fit: need at least 2 prompts with an outcome for every candidate model "
                          f"({list(scores.columns)}), found {len(ids)}")
    batch = Batch.of(prompts[keep])
    tasks = batch.column(task_field) if task_field else np.full(len(ids), None, dtype=object)
    return TrainingData(ids, batch.texts.tolist(), np.asarray(tasks, dtype=object),
                        np.asarray(scores.columns, dtype=object), scores.loc[ids].to_numpy(dtype=float),
                        costs.loc[ids].to_numpy(dtype=float), _coverage(prompts, scores, task_field))


def _coverage(prompts: pd.DataFrame, scores: pd.DataFrame, task_field: str | None) -> dict[str, np.ndarray]:
    """task → which models have a recorded score on some prompt of it."""
    if not task_field:
        return {}
    scored = prompts[prompts["prompt_id"].isin(scores.index)]
    tasks = pd.Series(Batch.of(scored).column(task_field), index=scored["prompt_id"].to_numpy())
    known = scores.notna().loc[tasks.index]
    return {str(t): part.any(axis=0).to_numpy() for t, part in known.groupby(tasks.to_numpy(dtype=object))
            if isinstance(t, str) and t}


@dataclass(frozen=True)
class Sweep:
    """A router's whole cost-quality curve on held-out prompts.

    ``points``: one row per λ (``lam, quality, cost, cost_per_prompt, cost_per_correct, top_model,
    top_share, models_used``; cost in USD summed over the prompts); ``quality`` and ``cost``: the
    per-prompt recorded score and cost (USD) of the model picked at each λ, shape (len(lambdas), n),
    for bootstrap intervals; ``picks``: the column of ``models`` picked, same shape.
    """

    points: pd.DataFrame
    quality: np.ndarray
    cost: np.ndarray
    picks: np.ndarray
    prompt_ids: np.ndarray
    models: np.ndarray


def sweep_points(lambdas: Sequence[float], q: np.ndarray, cost: np.ndarray, picks: np.ndarray,
                 models: np.ndarray, *, key: str = "lam") -> pd.DataFrame:
    """The curve table of a sweep from per-prompt (L, n) quality, cost and picks."""
    rows = []
    for i, lam in enumerate(lambdas):
        qs, cs = q[i], cost[i]
        counts = np.bincount(picks[i], minlength=len(models)) / max(picks.shape[1], 1)
        top = int(np.argmax(counts))
        rows.append({key: float(lam), "quality": float(qs.mean()), "cost": float(cs.sum()),
                     "cost_per_prompt": float(cs.mean()),
                     "cost_per_correct": float(cs.sum() / qs.sum()) if qs.sum() > 0 else np.nan,
                     "top_model": str(models[top]), "top_share": float(counts[top]),
                     "models_used": int((counts > 0).sum())})
    return pd.DataFrame(rows)


@dataclass(eq=False, repr=False)
class UtilityRouter(BaseRouter):
    """Shared fitting, λ choice, routing and curves of the learned routers (see the module docstring).

    The parameters every family shares (declared here once; a family adds its own after them, and its
    ``name``):

    featurizer: a featuriser with ``fit``/``transform`` (default :func:`default_featurizer`) or an
        :class:`~routerlab.embeddings.Embedder`; fitted on the train prompts, computed once and shared.
        The only positional parameter.
    lam: λ ≥ 0, or ``"auto"``: the λ of ``lambdas`` with the best cross-validated train quality among
        those costing at most ``budget`` × the best single model's train cost, preferring points a
        standard error above the single models' cost-quality frontier (see ``_pick_lambda``).
    candidates: models to choose from (default: every model recorded for the train prompts).
    catalog: prices for the costs (default: the data set's own recorded costs, else its catalog).
    lambdas: the λ grid of ``lam="auto"`` and of the curves (finite numbers ≥ 0).
    budget: the cost limit of ``lam="auto"`` as a share of the best single model's train cost.
    cv: number of folds (≥ 2) for ``lam="auto"`` and ``search``.
    search: hyper-parameter name → values, chosen by cross-validated AIQ on the train split
        (``None``: the family's default grid; ``{}``: none).
    task_field: a request field (``"task"`` or a metadata key) added to the features as a one-hot
        (unseen values: all zeros); ``None`` to use the text only.

    Parameters are checked at the first use (:meth:`fit`, or :meth:`~routerlab.routers.Params.validate`),
    raising :class:`~routerlab.errors.ConfigError` naming the parameter.
    """

    featurizer: Any = None
    _: KW_ONLY
    lam: float | str = "auto"
    candidates: Sequence[str] | None = None
    catalog: Catalog | None = None
    lambdas: Sequence[float] = DEFAULT_LAMBDAS
    budget: float = 0.2
    cv: int = 3
    search: Mapping[str, Sequence[Any]] | None = None
    task_field: str | None = "task"

    prompt_only = True
    _default_search: ClassVar[Mapping[str, Sequence[Any]]] = {}

    # -- parameters ----------------------------------------------------------------------------------
    def _hp(self, name: str) -> Any:
        """A hyper-parameter: the value cross-validation chose, else the constructor's."""
        return getattr(self, "best_params_", {}).get(name, getattr(self, name))

    def _search_values(self, key: str) -> list[Any]:
        """The values ``search`` (or the family's default grid) tries for ``key``."""
        grid = self._default_search if self.search is None else self.search
        return list(grid.get(key, ()))

    def _validate(self) -> None:
        who = type(self).__name__
        if not (self.lam == "auto" or (is_real(self.lam) and float(self.lam) >= 0)):
            raise ConfigError(f"{who} lam must be a number >= 0 or 'auto', got {self.lam!r}")
        if isinstance(self.cv, bool) or not isinstance(self.cv, int) or self.cv < 2:
            raise ConfigError(f"{who} cv must be an integer >= 2, got {self.cv!r}")
        if not is_real(self.budget) or not self.budget > 0:
            raise ConfigError(f"{who} budget must be a number > 0 (a share of the best single model's train "
                              f"cost), got {self.budget!r}")
        try:
            lams = np.asarray(list(self.lambdas), dtype=float)
        except (TypeError, ValueError):
            lams = np.asarray([-1.0])
        if not len(lams) or (lams < 0).any() or not np.isfinite(lams).all():
            raise ConfigError(f"{who} lambdas must be finite numbers >= 0, got {self.lambdas!r}")
        for key in (self.search or {}):
            if key not in self._param_names():
                raise ConfigError(f"{who} search names {key!r}, which is not one of its parameters "
                                  f"{self._param_names()}")

    # -- to implement --------------------------------------------------------------------------------
    def _fit_predictor(self, X: Any, S: np.ndarray, C: np.ndarray, hp: Mapping[str, Any]) -> dict[str, Any]:
        """Fit on features X (n, d), scores S and normalised costs C (n, m); return the learned state."""
        raise NotImplementedError  # pragma: no cover

    def _predict_pc(self, X: Any, state: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Predicted scores and normalised costs (n, m) from a fitted state."""
        raise NotImplementedError  # pragma: no cover

    # -- features ------------------------------------------------------------------------------------
    def _design(self, texts: Sequence[str], tasks: np.ndarray) -> Any:
        """Text features plus the task one-hot (rows of norm sqrt(2) when both are present), float64.

        Float64 because one request and a batch go through different BLAS kernels: in float32 their
        products differ in the last bits often enough to flip a rounded tie; in float64 they agree to
        ~1e-16, far inside the rounding every decision applies."""
        x = features(self.featurizer_, texts)
        if not len(self.task_levels_):
            return np.asarray(x, dtype=np.float64) if isinstance(x, np.ndarray) else x.astype(np.float64)
        onehot = (np.asarray(tasks, dtype=object)[:, None] == self.task_levels_[None, :]).astype(np.float64)
        if isinstance(x, np.ndarray):
            return np.hstack([np.asarray(x, dtype=np.float64), onehot])
        import scipy.sparse as sp

        return sp.hstack([x, sp.csr_matrix(onehot)], format="csr", dtype=np.float64)

    # -- fitting -------------------------------------------------------------------------------------
    def fit(self, dataset: Any) -> UtilityRouter:
        """Fit on ``dataset``'s prompts and recorded outcomes (a train split); returns self.

        Sets ``models_``, ``featurizer_``, ``cost_scale_`` (USD per prompt), ``cost_mean_``,
        ``quality_mean_``, ``single_points_`` (each model's train quality and cost), ``best_params_`` (hyper-parameters chosen by CV), ``lam_``, ``cv_curve_``
        (the cross-validated train curve, for ``lam="auto"``), ``task_coverage_`` (task → models with a
        train score for it: a model without one is never picked for that task's prompts, and the
        decision's reason says so) and the family's own state.
        Raises :class:`~routerlab.errors.ConfigError` for bad parameters or too little data.
        """
        with one_blas_thread():
            return self._fit(dataset)

    def _fit(self, dataset: Any) -> UtilityRouter:
        self.validate()
        # no catalog: the data set's own costs (recorded, else its catalog's prices); one given re-prices
        data = training_data(dataset, self.catalog, self.candidates, self.task_field, who=type(self).__name__)
        self.models_ = data.models
        self.featurizer_ = fitted(self.featurizer if self.featurizer is not None else default_featurizer(),
                                  data.texts)
        levels = sorted({str(t) for t in data.tasks if isinstance(t, str) and t})
        self.task_levels_ = np.asarray(levels, dtype=object)
        self.task_coverage_ = dict(data.coverage)
        X = self._design(data.texts, data.tasks)
        self.cost_scale_ = float(data.cost.mean(axis=0).max()) or 1.0
        C = data.cost / self.cost_scale_
        self.quality_mean_, self.cost_mean_ = data.S.mean(axis=0), C.mean(axis=0)
        self.tie_order_ = np.lexsort((np.arange(len(self.models_)), self.cost_mean_))
        self.n_train_ = len(data.prompt_ids)
        self.single_points_ = pd.DataFrame({"quality": data.S.mean(axis=0), "cost": data.cost.sum(axis=0)},
                                           index=pd.Index([str(m) for m in self.models_], name="model"))
        self._cross_validate(X, data, C)
        self.state_ = self._fit_predictor(X, data.S, C, self.best_params_)
        return self

    def _invalidate(self) -> None:
        """After ``set_params``: a new numeric ``lam`` (or ``"auto"`` with a cross-validated curve) takes
        effect without refitting, since λ changes no learned state; other parameters need ``fit``."""
        super()._invalidate()
        if not hasattr(self, "state_"):
            return
        if self.lam != "auto":
            self.lam_ = float(self.lam)
        elif getattr(self, "cv_curve_", None) is not None:
            self.lam_ = self._pick_lambda(self.cv_curve_)

    def _grid(self) -> list[dict[str, Any]]:
        search = dict(self._default_search if self.search is None else self.search)
        keys = list(search)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(list(search[k]) for k in keys))] or [{}]

    def _cross_validate(self, X: Any, data: TrainingData, C: np.ndarray) -> None:
        grid = self._grid()
        self.best_params_ = dict(grid[0])
        self.cv_curve_ = None
        if len(grid) == 1 and self.lam != "auto":
            self.lam_ = float(self.lam)
            return
        folds = _folds(data.prompt_ids, min(self.cv, len(data.prompt_ids)))
        lambdas = list(self.lambdas)
        best: tuple[float, int] | None = None
        curves = []
        for g, hp in enumerate(grid):
            p, c = np.empty_like(data.S), np.empty_like(C)
            for f in range(folds.max() + 1):
                out = folds == f
                state = self._fit_predictor(_rows(X, ~out), data.S[~out], C[~out], hp)
                p[out], c[out] = self._predict_pc(_rows(X, out), state)
            curve = self._points(p, c, data.S, data.cost, lambdas)
            curves.append(curve)
            area = aiq(curve["cost"], curve["quality"], c_min=float(data.cost.sum(axis=0).min()),
                       c_max=float(data.cost.sum(axis=0).max()))
            if best is None or area > best[0] + 1e-12:
                best = (area, g)
        assert best is not None
        self.best_params_ = dict(grid[best[1]])
        self.cv_curve_ = curves[best[1]]
        self.lam_ = float(self.lam) if self.lam != "auto" else self._pick_lambda(self.cv_curve_)

    def _pick_lambda(self, curve: pd.DataFrame) -> float:
        """Among the λ whose cross-validated point costs at most ``budget`` × the best single model's
        train cost: the best quality among points at least one standard error above the single models'
        frontier (their non-decreasing convex hull, RouterBench); else among points above it at all;
        else the best quality; the cheapest point when nothing fits the budget.

        The one-standard-error margin (``sqrt(q(1-q)/n)``, an upper bound of a mean score's standard
        error; the spirit of the one-standard-error rule of cross-validation, Hastie et al., *ESL* §7.10)
        keeps a router from settling on a point that beats the single models only by train noise.
        """
        single_q, single_c = self.single_points_["quality"].to_numpy(), self.single_points_["cost"].to_numpy()
        limit = self.budget * float(single_c[int(np.argmax(single_q))])
        q, cst = curve["quality"].to_numpy(), curve["cost"].to_numpy()
        hx, hy = nondecreasing_convex_hull(single_c, single_q)
        gain = np.round(q - np.interp(cst, hx, hy), 12)  # below the cheapest model: compared with it
        se = np.sqrt(np.clip(q * (1 - q), 0, None) / max(self.n_train_, 1))
        for ok in ((gain > se) & (cst <= limit), (gain > 0) & (cst <= limit), cst <= limit):
            if ok.any():
                order = np.lexsort((cst, -q, ~ok))  # best quality, then cheaper
                return float(curve["lam"].iloc[order[0]])
        return float(curve["lam"].iloc[np.lexsort((-q, cst))[0]])

    # -- predicting ------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "state_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(train_dataset) first")

    def _predict(self, texts: Sequence[str], tasks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, c = self._predict_pc(self._design(texts, tasks), self.state_)
        return np.round(p, _DECIMALS), np.round(c, _DECIMALS)

    def _choose(self, p: np.ndarray, c: np.ndarray, lam: float | np.ndarray,
                allowed: np.ndarray | None = None) -> np.ndarray:
        """argmax of ``p − λ·c`` per row (ties: cheaper on train, then column order) over the ``allowed``
        (n, m) models (None: all); λ may be a vector (L,) giving picks of shape (L, n)."""
        lam_arr = np.asarray(lam, dtype=float)
        u = np.round(p[None] - lam_arr.reshape(-1, 1, 1) * c[None], _DECIMALS)
        if allowed is not None:
            u = np.where(allowed[None], u, -np.inf)
        picks = self.tie_order_[np.argmax(u[:, :, self.tie_order_], axis=2)]
        return picks[0] if lam_arr.ndim == 0 else picks

    def _batch_tasks(self, batch: Batch) -> np.ndarray:
        return batch.column(self.task_field) if self.task_field else np.full(len(batch), None, dtype=object)

    def _allowed(self, tasks: np.ndarray) -> np.ndarray | None:
        """(n, m): a model with no recorded score for a prompt's task in train is skipped for it; a task
        no model (or every model) has scores for, or one not seen in train, allows them all."""
        coverage = getattr(self, "task_coverage_", {})
        partial = {t: ok for t, ok in coverage.items() if ok.any() and not ok.all()}
        if not partial:
            return None
        every = np.ones(len(self.models_), dtype=bool)
        return np.array([partial.get(t, every) if isinstance(t, str) else every for t in tasks], dtype=bool)

    def _skipped(self, task: Any) -> list[str]:
        ok = getattr(self, "task_coverage_", {}).get(task) if isinstance(task, str) else None
        return [] if ok is None or not ok.any() else [str(m) for m, k in zip(self.models_, ok) if not k]

    def predict(self, requests: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Predicted score and cost (USD) per request (rows) and model (columns): two DataFrames."""
        self._check_fitted()
        batch = Batch.of(requests)
        p, c = self._predict(batch.texts.tolist(), self._batch_tasks(batch))
        cols = [str(m) for m in self.models_]
        return pd.DataFrame(p, columns=cols), pd.DataFrame(c * self.cost_scale_, columns=cols)

    def _route_batch(self, batch: Batch) -> np.ndarray:
        self._check_fitted()
        with one_blas_thread():
            tasks = self._batch_tasks(batch)
            p, c = self._predict(batch.texts.tolist(), tasks)
        return self.models_[self._choose(p, c, self.lam_, self._allowed(tasks))]

    def _one(self, request: Request) -> tuple[np.ndarray, np.ndarray, int]:
        self._check_fitted()
        task = self._batch_tasks(Batch.of([request]))
        p, c = self._predict([request.text], task)
        return p[0], c[0], int(self._choose(p, c, self.lam_, self._allowed(task))[0])

    def route(self, request: Request) -> Decision:
        p, c, j = self._one(request)
        u = p - self.lam_ * c
        task = self._batch_tasks(Batch.of([request]))[0]
        skipped = self._skipped(task)
        return Decision(str(self.models_[j]),
                        reason=(f"{self.name}: max predicted score - {self.lam_:g} x cost: score {p[j]:.2f}, "
                                f"est. ${c[j] * self.cost_scale_:.6f}"
                                + (f"; skipped {', '.join(skipped)}: no train score for task {task!r}"
                                   if skipped else "")),
                        scores={str(m): float(v) for m, v in zip(self.models_, u)}, task=request.task,
                        router=self.name, estimated_cost=float(c[j] * self.cost_scale_))

    def explain(self, request: Request) -> pd.DataFrame:
        p, c, j = self._one(request)
        rows = [{"model": str(m), "score": float(p[i] - self.lam_ * c[i]), "removed_by": None,
                 "p_success": float(p[i]), "est_cost": float(c[i] * self.cost_scale_)}
                for i, m in enumerate(self.models_)]
        return explain_frame(rows, str(self.models_[j]))

    # -- curves ----------------------------------------------------------------------------------------
    def _points(self, p: np.ndarray, c: np.ndarray, S: np.ndarray, cost: np.ndarray,
                lambdas: Sequence[float]) -> pd.DataFrame:
        picks = self._choose(np.round(p, _DECIMALS), np.round(c, _DECIMALS), np.asarray(lambdas, dtype=float))
        rows = np.arange(S.shape[0])[None, :]
        return sweep_points(lambdas, S[rows, picks], cost[rows, picks], picks, self.models_)

    def sweep(self, dataset: Any, lambdas: Sequence[float] | None = None) -> Sweep:
        """The whole λ curve on ``dataset`` (a held-out split with outcomes), in one vectorised pass.

        Only prompts with an outcome for every candidate count. Never pass the train split: the curve
        would be optimistic. Returns a :class:`Sweep`.
        """
        self._check_fitted()
        data = training_data(dataset, self.catalog, list(self.models_), self.task_field, who=f"{type(self).__name__}.sweep")
        order = [list(data.models).index(m) for m in self.models_]
        S, cost = data.S[:, order], data.cost[:, order]
        lams = list(lambdas) if lambdas is not None else list(self.lambdas)
        with one_blas_thread():
            p, c = self._predict(data.texts, data.tasks)
        picks = self._choose(p, c, np.asarray(lams, dtype=float), self._allowed(data.tasks))
        rows = np.arange(len(S))[None, :]
        q, cst = S[rows, picks], cost[rows, picks]
        return Sweep(sweep_points(lams, q, cst, picks, self.models_), q, cst, picks, data.prompt_ids, self.models_)

    def cost_quality_curve(self, dataset: Any, lambdas: Sequence[float] | None = None) -> pd.DataFrame:
        """:meth:`sweep`'s table: quality and cost (USD) on held-out prompts for each λ."""
        return self.sweep(dataset, lambdas).points


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread: the learned routers multiply small matrices, where
    threads cost more than they give, and much more on a shared machine (MF fit here: 0.4 s on one
    thread, 2.4 s on two with the other core busy)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _folds(prompt_ids: np.ndarray, k: int) -> np.ndarray:
    """Fold of each prompt: prompts ordered by a seeded hash of their id, dealt round-robin (balanced
    folds that depend on the train ids only, never on outcomes)."""
    u = stable_uniform(prompt_ids, 0, "cv-fold")
    order = np.argsort(u, kind="stable")
    folds = np.empty(len(u), dtype=np.int64)
    folds[order] = np.arange(len(u)) % k  # balanced: fold sizes differ by at most one
    return folds


def _rows(X: Any, mask: np.ndarray) -> Any:
    return X[mask] if isinstance(X, np.ndarray) else X[np.flatnonzero(mask)]
