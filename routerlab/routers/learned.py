"""LearnedRouter: similarity-weighted k nearest neighbours predict each model's score and cost.

For a new prompt, its ``k`` most similar train prompts (cosine similarity of the features, one matrix
product; the task one-hot adds 1 for a neighbour of the same task) vote with weight ``max(sim, 0)``:
each model's predicted score ``p`` and normalised cost ``c`` are the weighted means over the
neighbours, shrunk towards the model's overall train mean with ``prior`` pseudo-neighbours of weight
1. The model maximising ``p − λ·c`` is chosen (see :class:`~routerlab.routers.utility.UtilityRouter`).
``k`` is chosen by cross-validation on the train split from ``search`` (default ``{"k": (8, 16, 32,
64)}``) unless ``search={}``.

Example::

    >>> from routerlab import datasets                                               # doctest: +SKIP
    >>> train, test = datasets.load("zeroeval").split(test_size=0.5, seed=0)          # doctest: +SKIP
    >>> router = LearnedRouter(lam="auto").fit(train)                                  # doctest: +SKIP
    >>> router.cost_quality_curve(test, lambdas=[0, 0.1, 1])                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .utility import DEFAULT_LAMBDAS, UtilityRouter

__all__ = ["LearnedRouter", "DEFAULT_LAMBDAS"]

_SIM_DECIMALS = 6  # similarities are rounded so a batch and a single query select the same neighbours


@dataclass(eq=False, repr=False)
class LearnedRouter(UtilityRouter):
    """Similarity-weighted kNN success/cost predictor + utility ``p − λ·c`` for N models.

    Parameters: ``featurizer`` (default TF-IDF + SVD; any :class:`~routerlab.embeddings.Embedder`
    works) and the other common ones of :class:`~routerlab.routers.utility.UtilityRouter` (``lam``,
    ``candidates``, ``catalog``, ``lambdas``, ``budget``, ``cv``, ``search``, ``task_field``), then
    ``k`` neighbours (a positive integer; chosen by CV from ``search["k"]``), ``prior`` (≥ 0)
    pseudo-neighbours carrying each model's mean, and ``name``.

    Learned attributes: those of the base plus ``state_`` (``X`` train features, ``S`` scores, ``C``
    normalised costs).
    """

    _: KW_ONLY
    k: int = 32
    prior: float = 2.0
    name: str = "learned"

    _default_search = {"k": (8, 16, 32, 64)}

    def _validate(self) -> None:
        super()._validate()
        for k in [self.k, *self._search_values("k")]:
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
                raise ConfigError(f"LearnedRouter k must be a positive integer, got {k!r}")
        if not isinstance(self.prior, (int, float)) or self.prior < 0:
            raise ConfigError(f"LearnedRouter prior must be a number >= 0, got {self.prior!r}")

    def _fit_predictor(self, X: Any, S: np.ndarray, C: np.ndarray, hp: Mapping[str, Any]) -> dict[str, Any]:
        return {"X": X, "S": S, "C": C, "k": int(hp.get("k", self.k)), "prior": float(self.prior),
                "q_mean": S.mean(axis=0), "c_mean": C.mean(axis=0)}

    def _predict_pc(self, X: Any, state: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        train = state["X"]
        n_train = train.shape[0]
        k, prior = min(state["k"], n_train), state["prior"]
        SC = np.hstack([state["S"], state["C"]])  # one gather for scores and costs
        means = np.concatenate([state["q_mean"], state["c_mean"]])
        out = np.empty((X.shape[0], SC.shape[1]))
        rows = max(1, int(4_000_000 // max(n_train, 1)))  # bound the (rows x n_train) similarity block
        for start in range(0, X.shape[0], rows):
            sims = X[start:start + rows] @ train.T
            sims = np.round(np.asarray(sims.toarray() if hasattr(sims, "toarray") else sims, dtype=np.float64),
                            _SIM_DECIMALS)
            idx = _top_k(sims, k)
            w = np.maximum(np.take_along_axis(sims, idx, axis=1), 0.0)
            total = w.sum(axis=1, keepdims=True) + prior
            empty = total <= 0  # no similar neighbour and no prior: the overall means
            mixed = (np.einsum("nk,nkj->nj", w, SC[idx]) + prior * means) / np.where(empty, 1.0, total)
            out[start:start + rows] = np.where(empty, means, mixed)
        m = state["S"].shape[1]
        return out[:, :m], out[:, m:]


def _top_k(sims: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k largest values (ties: lowest column first). Deterministic."""
    n, m = sims.shape
    if k >= m:
        return np.broadcast_to(np.arange(m), (n, m))
    kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1:k]  # the k-th largest value of each row
    above = sims > kth
    tied = sims == kth
    room = k - above.sum(axis=1, keepdims=True)
    take = above | (tied & (np.cumsum(tied, axis=1) <= room))
    # exactly k per row: their column indices, in column order
    return np.nonzero(take)[1].reshape(n, k)
