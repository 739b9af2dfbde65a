"""The router families of the routing literature, for N models, on one fit / route / sweep API.

Each predicts every candidate's expected score ``p`` and normalised cost ``c`` for a prompt and picks
``argmax p − λ·c`` (see :class:`~routerlab.routers.utility.UtilityRouter`; the kNN family is
:class:`~routerlab.routers.learned.LearnedRouter`):

- :class:`MFRouter` — RouteLLM's matrix factorisation (Ong et al. 2024, §4.1: a prompt embedding
  projected into a model-embedding space, scored by a bilinear form), generalised from a strong/weak
  pair to N models: ``logit p_m(x) = (W x)·v_m + b_m``, fitted by full-batch Adam on the
  cross-entropy of every (prompt, model) outcome.
- :class:`ClusterRouter` — k-means on the features and a per-cluster table of each model's mean
  score and cost (shrunk to the model's overall mean): the recipe of Avengers-Pro (Zhang et al. 2025).
- :class:`ClassifierRouter` — one correctness classifier per model (logistic regression; gradient
  boosting on request), as in RouterBench's predictive routers (Hu et al. 2024).
- :class:`CalibratedCapabilityRouter` — capability scores fitted from outcomes, not typed in: a
  one-parameter item-response model ``logit p_m(x) = θ_m + δ_{m,task} − β(x)``, a model's ability
  overall and per task, and a prompt difficulty ``β`` predicted from its features.

Scores in [0, 1] that are not 0/1 (graded judges) are fitted as soft labels. Costs are predicted by
a ridge regression of log cost on the features (cluster router: its table).

Example::

    >>> from routerlab import datasets                                               # doctest: +SKIP
    >>> train, test = datasets.load("zeroeval").split(test_size=0.5, seed=0)          # doctest: +SKIP
    >>> CalibratedCapabilityRouter().fit(train).capabilities_.round(2)                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .utility import UtilityRouter

__all__ = ["MFRouter", "ClusterRouter", "ClassifierRouter", "CalibratedCapabilityRouter"]


def _dense(X: Any) -> np.ndarray:
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)


def _fit_cost(X: Any, C: np.ndarray, alpha: float = 1.0) -> Any:
    """Ridge regression of log normalised cost on the features (one multi-output fit)."""
    from sklearn.linear_model import Ridge

    return Ridge(alpha=alpha).fit(X, np.log(np.maximum(C, 1e-12)))


def _whole(value: Any) -> bool:
    """A positive integer (not a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and bool(value >= 1)


def _check_inverse_penalty(router: Any, who: str) -> None:
    """``C`` and every ``search["C"]`` value: a positive number (scikit-learn's inverse L2 penalty)."""
    for c in [router.C, *router._search_values("C")]:
        if isinstance(c, bool) or not isinstance(c, (int, float, np.number)) or not c > 0:
            raise ConfigError(f"{who} C must be a number > 0 (the inverse L2 penalty), got {c!r}")


def _soft_rows(S: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, label, weight) for fitting a classifier on scores in [0, 1]: each outcome is a positive
    with weight ``s`` and a negative with weight ``1 − s`` (zero-weight rows dropped)."""
    n = S.shape[0]
    rows = np.concatenate([np.arange(n), np.arange(n)])
    labels = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)])
    weights = np.concatenate([S, 1.0 - S])
    keep = weights > 0
    return rows[keep], labels[keep], weights[keep]


# ---------------------------------------------------------------------------------------------------
# matrix factorisation


@dataclass(eq=False, repr=False)
class MFRouter(UtilityRouter):
    """RouteLLM's matrix-factorisation router for N models: ``logit p_m(x) = (W x)·v_m + b_m``.

    Parameters: ``dim`` (rank of the model embedding), ``alpha`` (L2 penalty on ``W`` and ``v``),
    ``max_iter`` (Adam steps, learning rate 0.05), ``seed`` (initialisation), plus the common ones.
    Learned: ``state_`` with ``W`` (d × dim), ``V`` (models × dim, the model embeddings), ``b``.
    """

    _: KW_ONLY
    dim: int = 16
    alpha: float = 1e-3
    max_iter: int = 300
    seed: int = 0
    name: str = "mf"

    def _validate(self) -> None:
        super()._validate()
        if not (_whole(self.dim) and _whole(self.max_iter)):
            raise ConfigError(f"MFRouter dim and max_iter must be positive integers, got {self.dim!r}, "
                              f"{self.max_iter!r}")
        if not isinstance(self.alpha, (int, float)) or self.alpha < 0:
            raise ConfigError(f"MFRouter alpha must be a number >= 0, got {self.alpha!r}")

    def _fit_predictor(self, X: Any, S: np.ndarray, C: np.ndarray, hp: Mapping[str, Any]) -> dict[str, Any]:
        x = _dense(X)
        n, d = x.shape
        m, r = S.shape[1], int(hp.get("dim", self.dim))
        alpha = float(hp.get("alpha", self.alpha))
        rng = np.random.default_rng(self.seed)
        mean = np.clip(S.mean(axis=0), 1e-3, 1 - 1e-3)
        params = [rng.normal(0, 0.1, (d, r)), rng.normal(0, 0.1, (m, r)), np.log(mean / (1 - mean))]
        # full-batch Adam on the cross-entropy with soft labels (a few hundred small matrix products:
        # quicker here than L-BFGS, whose per-step overhead dominates at this size)
        moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
        lr, b1, b2 = 0.05, 0.9, 0.999
        for t in range(1, int(self.max_iter) + 1):
            w, v, b = params
            h = x @ w
            g = (1.0 / (1.0 + np.exp(-(h @ v.T + b))) - S) / n
            grads = [x.T @ (g @ v) + 2 * alpha * w, g.T @ h + 2 * alpha * v, g.sum(axis=0)]
            for i, (p, gr) in enumerate(zip(params, grads)):
                m1, m2 = moments[i]
                m1 *= b1
                m1 += (1 - b1) * gr
                m2 *= b2
                m2 += (1 - b2) * gr * gr
                p -= lr * (m1 / (1 - b1 ** t)) / (np.sqrt(m2 / (1 - b2 ** t)) + 1e-8)
        return {"W": params[0], "V": params[1], "b": params[2], "cost": _fit_cost(x, C)}

    def _predict_pc(self, X: Any, state: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        x = _dense(X)
        z = (x @ state["W"]) @ state["V"].T + state["b"]
        return 1.0 / (1.0 + np.exp(-z)), np.exp(state["cost"].predict(x))


# ---------------------------------------------------------------------------------------------------
# clusters


@dataclass(eq=False, repr=False)
class ClusterRouter(UtilityRouter):
    """k-means clusters of the train prompts, each with a table of every model's mean score and cost.

    Parameters: ``n_clusters`` (chosen by CV from ``search``, default ``(8, 16, 32)``), ``prior``
    (pseudo-prompts carrying the model's overall mean, so small clusters lean on it), ``seed``.
    Learned: ``state_`` with the fitted ``kmeans`` and the ``quality`` / ``cost`` tables (clusters × models);
    :attr:`cluster_table_` shows them.
    """

    _default_search = {"n_clusters": (8, 16, 32)}

    _: KW_ONLY
    n_clusters: int = 16
    prior: float = 5.0
    seed: int = 0
    name: str = "cluster"

    def _validate(self) -> None:
        super()._validate()
        for k in [self.n_clusters, *self._search_values("n_clusters")]:
            if not _whole(k):
                raise ConfigError(f"ClusterRouter n_clusters must be a positive integer, got {k!r}")
        if not isinstance(self.prior, (int, float)) or self.prior < 0:
            raise ConfigError(f"ClusterRouter prior must be a number >= 0, got {self.prior!r}")

    def _fit_predictor(self, X: Any, S: np.ndarray, C: np.ndarray, hp: Mapping[str, Any]) -> dict[str, Any]:
        from sklearn.cluster import KMeans

        k = max(1, min(int(hp.get("n_clusters", self.n_clusters)), X.shape[0]))
        km = KMeans(n_clusters=k, n_init=1, random_state=self.seed).fit(X)
        labels = km.labels_
        counts = np.bincount(labels, minlength=k)[:, None].astype(float)
        onehot = np.zeros((X.shape[0], k))
        onehot[np.arange(X.shape[0]), labels] = 1.0
        prior = float(self.prior)
        q = (onehot.T @ S + prior * S.mean(axis=0)) / np.maximum(counts + prior, 1e-12)
        c = (onehot.T @ C + prior * C.mean(axis=0)) / np.maximum(counts + prior, 1e-12)
        return {"kmeans": km, "quality": q, "cost": c, "sizes": counts.ravel()}

    def _predict_pc(self, X: Any, state: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        labels = state["kmeans"].predict(X)
        return state["quality"][labels], state["cost"][labels]

    @property
    def cluster_table_(self) -> pd.DataFrame:
        """Per cluster: its train size and each model's (shrunk) mean score; costs in USD per prompt."""
        self._check_fitted()
        cols = [str(m) for m in self.models_]
        q = pd.DataFrame(self.state_["quality"], columns=cols)
        q.insert(0, "prompts", self.state_["sizes"].astype(int))
        q.index.name = "cluster"
        return q


# ---------------------------------------------------------------------------------------------------
# per-model classifiers


@dataclass(eq=False, repr=False)
class ClassifierRouter(UtilityRouter):
    """One correctness classifier per model on the prompt features; ``p`` = its predicted probability.

    Parameters: ``estimator`` (``"logistic"``: scikit-learn's ``LogisticRegression`` with inverse
    penalty ``C``; ``"gbm"``: ``HistGradientBoostingClassifier``, slower), ``C`` (chosen by CV from
    ``search``, default ``(0.1, 1)``), plus the common ones.
    """

    _default_search = {"C": (0.1, 1.0)}

    _: KW_ONLY
    estimator: str = "logistic"
    C: float = 1.0
    name: str = "classifier"

    def _validate(self) -> None:
        super()._validate()
        if self.estimator not in ("logistic", "gbm"):
            raise ConfigError(f"ClassifierRouter estimator must be 'logistic' or 'gbm', got {self.estimator!r}")
        _check_inverse_penalty(self, "ClassifierRouter")

    def _classifier(self, hp: Mapping[str, Any]) -> Any:
        if self.estimator == "gbm":
            from sklearn.ensemble import HistGradientBoostingClassifier

            return HistGradientBoostingClassifier(max_iter=100, random_state=0)
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=float(hp.get("C", self.C)), max_iter=500)

    def _fit_predictor(self, X: Any, S: np.ndarray, C: np.ndarray, hp: Mapping[str, Any]) -> dict[str, Any]:
        models = []
        for j in range(S.shape[1]):
            rows, labels, weights = _soft_rows(S[:, j])
            if len(np.unique(labels)) < 2:  # always right (or always wrong) on train: a constant
                models.append(float(S[:, j].mean()))
                continue
            xs = X[rows] if isinstance(X, np.ndarray) else X[rows]
            models.append(self._classifier(hp).fit(xs, labels, sample_weight=weights))
        return {"classifiers": models, "cost": _fit_cost(X, C)}

    def _predict_pc(self, X: Any, state: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        p = np.column_stack([np.full(X.shape[0], clf) if isinstance(clf, float) else clf.predict_proba(X)[:, 1]
                             for clf in state["classifiers"]])
        return p, np.exp(state["cost"].predict(X))


# ---------------------------------------------------------------------------------------------------
# capabilities fitted from outcomes


@dataclass(eq=False, repr=False)
class CalibratedCapabilityRouter(UtilityRouter):
    """Capability scores fitted from outcomes: ``logit p_m(x) = θ_m + δ_{m,task} − β(x)``.

    ``θ_m`` is model ``m``'s ability, ``δ_{m,task}`` its offset on a task (0 for tasks unseen in
    training), ``β(x) = w·x`` the prompt's difficulty from its features; one L2-penalised logistic
    regression (inverse penalty ``C``, chosen by CV from ``search``) over every (prompt, model) outcome.
    :attr:`capabilities_` is the fitted ability table (models × ``overall`` and tasks, logit scale).
    """

    _default_search = {"C": (0.1, 1.0)}

    _: KW_ONLY
    C: float = 1.0
    name: str = "capability-fit"

    def _validate(self) -> None:
        super()._validate()
        _check_inverse_penalty(self, "CalibratedCapabilityRouter")

    def _tasks_of(self, X: Any) -> np.ndarray:
        """Task index per row from the design's one-hot columns (-1: none)."""
        t = len(self.task_levels_)
        if not t:
            return np.full(X.shape[0], -1)
        onehot = _dense(X[:, X.shape[1] - t:])
        return np.where(onehot.max(axis=1) > 0, onehot.argmax(axis=1), -1)

    def _pairs(self, X: Any, m: int) -> Any:
        """The (prompt, model) design: model one-hot, (model, task) one-hot, then the prompt features."""
        import scipy.sparse as sp

        n, t = X.shape[0], len(self.task_levels_)
        rows = np.arange(n * m)
        model = np.tile(np.arange(m), n)
        task = np.repeat(self._tasks_of(X), m)
        ability = sp.csr_matrix((np.ones(n * m), (rows, model)), shape=(n * m, m))
        has = task >= 0
        offset = sp.csr_matrix((np.ones(int(has.sum())), (rows[has], (model * max(t, 1) + task)[has])),
                               shape=(n * m, m * max(t, 1)))
        x = sp.csr_matrix(X) if not sp.issparse(X) else X
        return sp.hstack([ability, offset, x[np.repeat(np.arange(n), m)]], format="csr")

    def _fit_predictor(self, X: Any, S: np.ndarray, C: np.ndarray, hp: Mapping[str, Any]) -> dict[str, Any]:
        from sklearn.linear_model import LogisticRegression

        m = S.shape[1]
        design = self._pairs(X, m)
        rows, labels, weights = _soft_rows(S.ravel())
        if len(np.unique(labels)) < 2:
            raise ConfigError("CalibratedCapabilityRouter.fit: every train outcome has the same score; nothing to learn")
        lr = LogisticRegression(C=float(hp.get("C", self.C)), fit_intercept=False, max_iter=1000)
        lr.fit(design[rows], labels, sample_weight=weights)
        return {"coef": lr.coef_.ravel(), "m": m, "cost": _fit_cost(X, C)}

    def _predict_pc(self, X: Any, state: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        # the design's three blocks, applied without building it: ability + task offset - difficulty
        coef, m = state["coef"], state["m"]
        t = max(len(self.task_levels_), 1)
        theta, delta, w = coef[:m], coef[m:m + m * t].reshape(m, t), coef[m + m * t:]
        task = self._tasks_of(X)
        offset = np.where(task[:, None] >= 0, delta[:, np.maximum(task, 0)].T, 0.0)
        z = theta[None, :] + offset + np.asarray(X @ w).reshape(-1, 1)
        return 1.0 / (1.0 + np.exp(-z)), np.exp(state["cost"].predict(X))

    @property
    def capabilities_(self) -> pd.DataFrame:
        """Fitted abilities (logit scale): ``overall`` = θ_m, one column per task = θ_m + δ_{m,task}."""
        self._check_fitted()
        coef, m = self.state_["coef"], self.state_["m"]
        t = max(len(self.task_levels_), 1)
        theta = coef[:m]
        delta = coef[m:m + m * t].reshape(m, t)
        table = pd.DataFrame({"overall": theta}, index=pd.Index([str(x) for x in self.models_], name="model"))
        for i, task in enumerate(self.task_levels_):
            table[str(task)] = theta + delta[:, i]
        return table
