"""LearnedRouter: k nearest neighbours over prompt embeddings predict each model's success and cost.

Fitted on recorded outcomes of a train split, it predicts for a new prompt, from its ``k`` most
similar train prompts (cosine similarity, one matrix product), each model's probability of success
``p`` and cost ``c``, both shrunk towards the model's overall mean with ``prior`` pseudo-neighbours,
and picks the model maximising ``p − λ·c``. Cost is normalised by the mean cost per prompt of the
most expensive candidate (so ``c`` is in [0, ~1] and ``λ = 1`` trades one unit of success probability
for that model's whole price). Sweeping λ traces the cost-quality curve; ``lam="auto"`` picks λ on the
train split by leave-one-out (never on the prompts it is evaluated on).

Example::

    >>> from routerlab import datasets                                               # doctest: +SKIP
    >>> train, test = datasets.load("zeroeval").split(test_size=0.5, seed=0)          # doctest: +SKIP
    >>> router = LearnedRouter(k=32, lam="auto").fit(train)                            # doctest: +SKIP
    >>> router.cost_quality_curve(test, lambdas=[0, 0.1, 1])                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..embeddings import Embedder, HashingEmbedder
from ..errors import ConfigError, NotFittedError
from ..types import Decision, Request
from .base import Batch, BaseRouter, explain_frame
from .baselines import outcome_matrices

__all__ = ["LearnedRouter", "DEFAULT_LAMBDAS"]

#: The λ grid ``lam="auto"`` searches and ``cost_quality_curve`` uses by default.
DEFAULT_LAMBDAS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

_SIM_DECIMALS = 9      # similarities are rounded so a batch and a single query select the same neighbours
_UTILITY_DECIMALS = 9  # utilities too, so ties (and BLAS rounding) break the same way in both paths


class LearnedRouter(BaseRouter):
    """kNN success/cost predictor + utility ``p − λ·c`` (scikit-learn style: params in ``__init__``,
    learned attributes ending in ``_`` after :meth:`fit`).

    Parameters
    ----------
    embedder: an :class:`Embedder` (default: ``routerlab.embeddings.HashingEmbedder(dim=1024)``).
    k: neighbours per prediction.
    lam: λ, or ``"auto"`` to choose it on the train split (see :meth:`fit`).
    candidates: models to choose from (default: every model recorded for every train prompt).
    prior: pseudo-neighbours carrying each model's overall mean (shrinkage for small ``k``).
    lambdas: the grid for ``lam="auto"``.
    budget: for ``lam="auto"``: the cost allowed, as a share of the best single model's train cost.

    Learned attributes: ``models_``, ``embedder_``, ``X_`` (train embeddings), ``S_`` (scores),
    ``C_`` (normalised costs), ``cost_scale_`` (USD per prompt that normalises cost), ``quality_mean_``,
    ``cost_mean_``, ``lam_``, ``loo_curve_`` (for ``lam="auto"``).
    """

    prompt_only = True

    def __init__(self, embedder: Embedder | None = None, *, k: int = 32, lam: float | str = "auto",
                 candidates: Sequence[str] | None = None, catalog: Catalog | None = None, prior: float = 2.0,
                 lambdas: Sequence[float] = DEFAULT_LAMBDAS, budget: float = 0.2, name: str | None = None) -> None:
        self.embedder = embedder
        self.k = k
        self.lam = lam
        self.candidates = candidates
        self.catalog = catalog
        self.prior = prior
        self.lambdas = lambdas
        self.budget = budget
        self.name = name or "learned"

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, dataset: Any) -> LearnedRouter:
        """Fit on ``dataset``'s prompts and recorded outcomes (a train split).

        With ``lam="auto"``, λ is chosen by leave-one-out on the train prompts (each prompt routed by
        its neighbours, itself excluded): the λ on the grid with the best leave-one-out quality among
        those whose leave-one-out cost is at most ``budget`` × the cost of the best single model on the
        train prompts (the cheapest λ on the grid when none is).
        """
        if not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"LearnedRouter k must be a positive integer, got {self.k!r}")
        if self.prior < 0:
            raise ConfigError(f"LearnedRouter prior must be >= 0, got {self.prior!r}")
        if not (self.lam == "auto" or (isinstance(self.lam, (int, float)) and self.lam >= 0)):
            raise ConfigError(f"LearnedRouter lam must be a number >= 0 or 'auto', got {self.lam!r}")
        scores, costs = outcome_matrices(dataset, self.catalog, self.candidates)
        complete = scores.notna().all(axis=1) & costs.notna().all(axis=1)
        prompts = dataset.prompts.set_index("prompt_id")
        ids = [pid for pid in prompts.index if pid in complete.index and complete[pid]]
        if len(ids) < 2:
            raise ConfigError(f"LearnedRouter.fit: need at least 2 prompts with outcomes for every candidate "
                              f"model, found {len(ids)}")
        self.models_ = np.asarray(scores.columns, dtype=object)
        self.embedder_ = self.embedder if self.embedder is not None else _default_embedder()
        self.X_ = self._embed(prompts.loc[ids, "prompt"].astype(str).tolist())
        self.S_ = scores.loc[ids].to_numpy(dtype=float)
        raw = costs.loc[ids].to_numpy(dtype=float)
        self.cost_scale_ = float(raw.mean(axis=0).max()) or 1.0
        self.C_ = raw / self.cost_scale_
        self.quality_mean_ = self.S_.mean(axis=0)
        self.cost_mean_ = self.C_.mean(axis=0)
        self.n_train_ = len(ids)
        self.tie_order_ = np.lexsort((np.arange(len(self.models_)), self.cost_mean_))  # cheaper, then column order
        if self.lam == "auto":
            p, c = self._predict(self.X_, exclude_self=True)
            curve = self._curve(p, c, self.S_, raw, self.lambdas)
            limit = self.budget * float(raw[:, int(np.argmax(self.quality_mean_))].sum())
            ok = curve[curve["cost"] <= limit].sort_values(["quality", "lam"], ascending=[False, True])
            self.lam_ = float(ok["lam"].iloc[0] if len(ok) else curve.sort_values("cost")["lam"].iloc[0])
            self.loo_curve_ = curve
        else:
            self.lam_ = float(self.lam)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "X_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(train_dataset) first")

    def _embed(self, texts: list[str]) -> np.ndarray:
        x = np.asarray(self.embedder_.embed(texts), dtype=np.float64).reshape(len(texts), -1)
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)

    # -- prediction ---------------------------------------------------------------------------------
    def _predict(self, q: np.ndarray, *, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(p, c): predicted success probability and normalised cost, (n, models)."""
        n_train = len(self.X_)
        k = min(self.k, n_train - (1 if exclude_self else 0))
        p = np.empty((len(q), len(self.models_)))
        c = np.empty_like(p)
        rows = max(1, int(4_000_000 // max(n_train, 1)))
        for start in range(0, len(q), rows):
            sims = np.round(q[start:start + rows] @ self.X_.T, _SIM_DECIMALS)
            if exclude_self:
                sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
            mask = _top_k_mask(sims, k)
            p[start:start + rows] = (mask @ self.S_ + self.prior * self.quality_mean_) / (k + self.prior)
            c[start:start + rows] = (mask @ self.C_ + self.prior * self.cost_mean_) / (k + self.prior)
        return p, c

    def _choose(self, p: np.ndarray, c: np.ndarray, lam: float) -> np.ndarray:
        u = np.round(p - lam * c, _UTILITY_DECIMALS)
        # argmax with ties broken by the lower mean cost (then column order): scan columns in that order
        ordered = u[:, self.tie_order_]
        return self.tie_order_[np.argmax(ordered, axis=1)]

    def predict(self, requests: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Predicted success probability and cost (USD) per request and model: two DataFrames."""
        self._check_fitted()
        batch = Batch.of(requests)
        p, c = self._predict(self._embed(batch.prompts.tolist()))
        cols = list(self.models_)
        return pd.DataFrame(p, columns=cols), pd.DataFrame(c * self.cost_scale_, columns=cols)

    def _route_batch(self, batch: Batch) -> np.ndarray:
        self._check_fitted()
        p, c = self._predict(self._embed(batch.prompts.tolist()))
        return self.models_[self._choose(p, c, self.lam_)]

    def route(self, request: Request) -> Decision:
        self._check_fitted()
        p, c = self._predict(self._embed([request.prompt]))
        j = int(self._choose(p, c, self.lam_)[0])
        u = p[0] - self.lam_ * c[0]
        return Decision(str(self.models_[j]),
                        reason=(f"max p - {self.lam_:g}*cost: p={p[0, j]:.2f}, est. ${c[0, j] * self.cost_scale_:.6f} "
                                f"({self.k} neighbours)"),
                        scores={str(m): float(v) for m, v in zip(self.models_, u)}, task=request.task,
                        router=self.name, estimated_cost=float(c[0, j] * self.cost_scale_))

    def explain(self, request: Request) -> pd.DataFrame:
        d = self.route(request)
        p, c = self._predict(self._embed([request.prompt]))
        rows = [{"model": str(m), "score": d.scores[str(m)], "removed_by": None, "p_success": float(p[0, j]),
                 "est_cost": float(c[0, j] * self.cost_scale_)} for j, m in enumerate(self.models_)]
        return explain_frame(rows, d.model)

    # -- the curve ---------------------------------------------------------------------------------
    def _curve(self, p: np.ndarray, c: np.ndarray, s_true: np.ndarray, cost_true: np.ndarray,
               lambdas: Sequence[float]) -> pd.DataFrame:
        rows = []
        idx = np.arange(len(p))
        for lam in lambdas:
            pick = self._choose(p, c, float(lam))
            q, cost = s_true[idx, pick], cost_true[idx, pick]
            share = pd.Series(self.models_[pick]).value_counts(normalize=True)
            rows.append({"lam": float(lam), "quality": float(q.mean()), "cost": float(cost.sum()),
                         "cost_per_prompt": float(cost.mean()),
                         "cost_per_correct": float(cost.sum() / q.sum()) if q.sum() > 0 else np.nan,
                         "top_model": str(share.index[0]), "top_share": float(share.iloc[0]),
                         "models_used": int((share > 0).sum())})
        return pd.DataFrame(rows)

    def cost_quality_curve(self, test_dataset: Any, lambdas: Sequence[float] | None = None) -> pd.DataFrame:
        """Quality and cost on held-out prompts for each λ (one row per λ): the router's frontier.

        Columns: ``lam, quality`` (mean recorded score), ``cost`` (USD over the prompts),
        ``cost_per_prompt, cost_per_correct, top_model, top_share, models_used``. Only prompts with an
        outcome for every model count. Never pass the train split: the curve would be optimistic.
        """
        self._check_fitted()
        scores, costs = outcome_matrices(test_dataset, self.catalog, list(self.models_))
        scores, costs = scores[list(self.models_)], costs[list(self.models_)]
        ok = scores.notna().all(axis=1) & costs.notna().all(axis=1)
        prompts = test_dataset.prompts.set_index("prompt_id")
        ids = [pid for pid in prompts.index if pid in ok.index and ok[pid]]
        p, c = self._predict(self._embed(prompts.loc[ids, "prompt"].astype(str).tolist()))
        return self._curve(p, c, scores.loc[ids].to_numpy(dtype=float), costs.loc[ids].to_numpy(dtype=float),
                           list(lambdas) if lambdas is not None else list(self.lambdas))


def _top_k_mask(sims: np.ndarray, k: int) -> np.ndarray:
    """A 0/1 matrix marking each row's k largest values (ties: lowest column first). Deterministic."""
    n, m = sims.shape
    if k >= m:
        return np.isfinite(sims).astype(np.float64)
    kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1:k]  # the k-th largest value of each row
    above = sims > kth
    tied = sims == kth
    room = k - above.sum(axis=1, keepdims=True)
    take = above | (tied & (np.cumsum(tied, axis=1) <= room))
    return take.astype(np.float64)


def _default_embedder() -> Embedder:
    return HashingEmbedder(dim=1024)
