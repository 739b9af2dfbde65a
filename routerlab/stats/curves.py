"""Metrics of whole cost-quality curves with paired bootstrap intervals, and the non-inferiority test.

A router family's curve is a set of operating points (one per λ or threshold); for each point the
per-prompt recorded score and cost of what it picked, ``quality`` and ``cost`` of shape (points, n).
:func:`curve_metrics` summarises it at the standard points of the routing literature:

- **AIQ** (RouterBench, Hu et al. 2024, §4.2) over the mean cost per prompt in ``[c_min, c_max]``;
- **APGR** (RouteLLM, Ong et al. 2024, §3) and **CPT(50 %)**, **CPT(80 %)**: RouteLLM defines them over
  the share of calls to the strong model; for routers over N models the x axis here is the
  *normalised cost* ``(c − c_weak) / (c_strong − c_weak)`` (0 = the weak model's cost, 1 = the strong
  model's), which equals the share of strong calls when a router uses only the pair and every prompt
  costs the same. CPT is reported as that share (multiply by the cost gap for USD).

Every interval resamples prompts (the same resample for the curve and the two reference models, so
the interval is paired), ``n_boot`` times with a seeded generator (percentile intervals).

Example::

    >>> import numpy as np
    >>> q = np.array([[0, 1, 0, 1.0], [1, 1, 0, 1.0]]); c = np.array([[1, 1, 1, 1.0], [2, 2, 2, 2.0]])
    >>> m = curve_metrics(q, c, weak=(q[0], c[0]), strong=(q[1], c[1]), n_boot=50)
    >>> float(m.loc["apgr", "estimate"])
    0.5
    >>> noninferiority(np.ones(50), np.ones(50), margin=0.01).p_value < 0.05
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .intervals import t_quantile
from .routing import aiq, apgr, cpt

__all__ = ["curve_metrics", "noninferiority", "NonInferiority"]

_METRICS = ("aiq", "apgr", "cpt50", "cpt80")


def _metrics(q: np.ndarray, c: np.ndarray, qw: float, cw: float, qs: float, cs: float,
             c_min: float, c_max: float) -> list[float]:
    """The four metrics of one curve: q, c are (points,) mean quality and mean cost per prompt."""
    qs_list, cs_list = q.tolist(), c.tolist()
    out = [aiq(cs_list, qs_list, c_min=c_min, c_max=c_max)]
    if qs == qw or cs == cw:
        return out + [np.nan, np.nan, np.nan]
    share = np.clip((c - cw) / (cs - cw), 0.0, 1.0).tolist()
    out.append(apgr(share, qs_list, r_weak=qw, r_strong=qs))
    out += [cpt(share, qs_list, r_weak=qw, r_strong=qs, target=t) for t in (0.5, 0.8)]
    return out


def curve_metrics(quality: np.ndarray, cost: np.ndarray, *, weak: tuple[np.ndarray, np.ndarray],
                  strong: tuple[np.ndarray, np.ndarray], c_min: float | None = None, c_max: float | None = None,
                  n_boot: int = 500, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """AIQ, APGR, CPT(50 %) and CPT(80 %) of a curve, with paired bootstrap intervals.

    ``quality``, ``cost``: (points, n) per-prompt score and cost (USD) at each operating point;
    ``weak``, ``strong``: (scores, costs) of the reference models on the same n prompts; ``c_min``,
    ``c_max``: the AIQ cost range in USD per prompt (default: the weak and the strong model's mean
    cost). Returns a DataFrame indexed by metric with ``estimate, lo, hi``.
    Raises ``ValueError`` for mismatched shapes.
    """
    q, c = np.atleast_2d(np.asarray(quality, float)), np.atleast_2d(np.asarray(cost, float))
    qw, cw = (np.asarray(a, float) for a in weak)
    qs, cs = (np.asarray(a, float) for a in strong)
    n = q.shape[1]
    if c.shape != q.shape or any(len(a) != n for a in (qw, cw, qs, cs)):
        raise ValueError(f"curve_metrics: quality {q.shape}, cost {c.shape} and the reference models' arrays must "
                         f"share the prompts axis (n = {n})")
    lo_c = float(cw.mean()) if c_min is None else c_min
    hi_c = float(cs.mean()) if c_max is None else c_max

    def at(w: np.ndarray) -> list[float]:
        s = w.sum()
        return _metrics(q @ w / s, c @ w / s, qw @ w / s, cw @ w / s, qs @ w / s, cs @ w / s, lo_c, hi_c)

    estimate = at(np.ones(n))
    rng = np.random.default_rng(seed)
    boots = np.array([at(np.bincount(rng.integers(0, n, n), minlength=n).astype(float)) for _ in range(n_boot)])
    tail = (1 - level) / 2
    with np.errstate(all="ignore"):
        lo = np.nanquantile(boots, tail, axis=0) if n_boot else np.full(4, np.nan)
        hi = np.nanquantile(boots, 1 - tail, axis=0) if n_boot else np.full(4, np.nan)
    return pd.DataFrame({"estimate": estimate, "lo": lo, "hi": hi}, index=pd.Index(_METRICS, name="metric"))


@dataclass(frozen=True)
class NonInferiority:
    """One-sided paired non-inferiority test of A against B at ``margin`` (in score units).

    H0: mean(A − B) ≤ −margin; H1: A is worse by less than the margin. ``lower`` is the one-sided
    (1 − alpha) lower confidence bound of the mean difference; ``noninferior`` is ``p_value < alpha``.
    """

    estimate: float
    lower: float
    p_value: float
    margin: float
    alpha: float
    n: int

    @property
    def noninferior(self) -> bool:
        return bool(self.p_value < self.alpha)


def noninferiority(a: np.ndarray, b: np.ndarray, *, margin: float = 0.01, alpha: float = 0.05) -> NonInferiority:
    """Paired one-sided t-test that A is not worse than B by ``margin`` or more (per-prompt scores).

    ``a``, ``b``: scores of the two strategies on the same prompts, in the same order. With zero
    variance of the differences the p-value is 0 when the mean difference exceeds ``-margin``, else 1.
    """
    from scipy.stats import t as student_t

    d = np.asarray(a, float) - np.asarray(b, float)
    if d.ndim != 1 or len(d) < 2:
        raise ValueError(f"noninferiority needs two paired 1-d arrays of at least 2 scores, got shape {d.shape}")
    n, mean = len(d), float(d.mean())
    se = float(d.std(ddof=1) / np.sqrt(n))
    if se == 0:
        p = 0.0 if mean > -margin else 1.0
        return NonInferiority(mean, mean, p, margin, alpha, n)
    p = float(student_t.sf((mean + margin) / se, n - 1))
    lower = mean - t_quantile(1 - alpha, n - 1) * se
    return NonInferiority(mean, lower, p, margin, alpha, n)
