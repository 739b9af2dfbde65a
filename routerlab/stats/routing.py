"""Routing metrics from the literature, computed exactly as defined, with bootstrap CIs.

- **PGR / APGR** (RouteLLM, Ong et al. 2024, §3): for a strong/weak pair, the performance gap
  recovered by a router that sends a share ``c`` of calls to the strong model is
  ``PGR(c) = (r(c) - r_weak) / (r_strong - r_weak)``; APGR is its average over the share of strong
  calls, ``APGR = ∫_0^1 PGR(c) dc`` (the area under the PGR curve, trapezoidal rule).
- **CPT(x %)** (RouteLLM): the minimum share of calls to the strong model at which the router
  reaches ``PGR = x %``, read off the same piecewise-linear curve.
- **AIQ** (RouterBench, Hu et al. 2024, §4.2): the average quality of a router family over the cost
  range, ``AIQ = 1/(c_max - c_min) ∫ R̃(c) dc``, where ``R̃`` is the non-decreasing convex hull of
  the family's (cost, quality) points, linearly interpolated.

A curve is a set of (x, quality) points; ``curve_from_scores`` sweeps a router's strong-preference
score to make one, as RouteLLM's thresholds do.

Example::

    >>> apgr([0.0, 0.5, 1.0], [0.6, 0.75, 0.8], r_weak=0.6, r_strong=0.8)
    0.625
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .pareto import pareto_mask


__all__ = ["pgr", "apgr", "cpt", "nondecreasing_convex_hull", "aiq", "curve_from_scores", "strong_share_matrix"]


def strong_share_matrix(final_models: np.ndarray, strong: str) -> np.ndarray:
    """1.0 where the final answer came from the ``strong`` model, else 0.0 (prompts x strategies).

    The share of strong calls in APGR and CPT counts the model that *produced the answer*: a judge
    or verifier call to the strong model is cost, not a strong answer (a judge cascade that answers
    61 % of prompts with the weak model sits at 39 % strong, not 100 %).

    Example::

        >>> strong_share_matrix(np.array([["gpt-4o", "mini"], ["mini", "mini"]], dtype=object), "gpt-4o")
        array([[1., 0.],
               [0., 0.]])
    """
    return (np.asarray(final_models, dtype=object) == strong).astype(float)


def pgr(quality: float | np.ndarray, r_weak: float, r_strong: float) -> float | np.ndarray:
    """Performance gap recovered: 0 at the weak model's quality, 1 at the strong model's."""
    gap = r_strong - r_weak
    if gap == 0:
        raise ValueError("strong and weak models have the same quality: PGR is undefined")
    return (np.asarray(quality, dtype=float) - r_weak) / gap


def _curve(share: Sequence[float], quality: Sequence[float], r_weak: float, r_strong: float) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([[0.0], np.asarray(share, dtype=float), [1.0]])
    y = np.concatenate([[r_weak], np.asarray(quality, dtype=float), [r_strong]])
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    # several points at one share: keep the best (a router family offers its best at each share)
    keep = np.r_[x[1:] != x[:-1], True]
    return x[keep], y[keep]


def apgr(share: Sequence[float], quality: Sequence[float], *, r_weak: float, r_strong: float) -> float:
    """Average PGR over the share of strong calls in [0, 1] (RouteLLM's APGR).

    ``share[i]`` is the fraction of calls a router configuration sent to the strong model and
    ``quality[i]`` its quality; the all-weak (0, r_weak) and all-strong (1, r_strong) end points
    are added.
    """
    x, y = _curve(share, quality, r_weak, r_strong)
    return float(np.trapezoid(pgr(y, r_weak, r_strong), x))


def cpt(share: Sequence[float], quality: Sequence[float], *, r_weak: float, r_strong: float,
        target: float = 0.5) -> float:
    """Minimum share of strong calls at which PGR reaches ``target`` (RouteLLM's CPT(x %))."""
    x, y = _curve(share, quality, r_weak, r_strong)
    p = np.asarray(pgr(y, r_weak, r_strong))
    hit = np.flatnonzero(p >= target)
    if len(hit) == 0:
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(x[0])
    # linear interpolation between the last point below and the first at/above the target
    x0, x1, p0, p1 = x[i - 1], x[i], p[i - 1], p[i]
    return float(x0 + (target - p0) * (x1 - x0) / (p1 - p0))


def nondecreasing_convex_hull(cost: Sequence[float], quality: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """RouterBench's non-decreasing convex hull of (cost, quality) points, sorted by cost.

    The upper convex hull of the Pareto-optimal points (:func:`~routerlab.stats.pareto.pareto_mask`):
    a more expensive configuration that is not better adds nothing (one could always pick the cheaper),
    and a point under the chord of two others is beaten by mixing them. Returns ``(cost, quality)``
    arrays of the hull's vertices; raises :class:`ValueError` when no point is finite.
    """
    c = np.asarray(cost, dtype=float)
    q = np.asarray(quality, dtype=float)
    on = pareto_mask(c, q)
    if not on.any():
        raise ValueError("nondecreasing_convex_hull: no point with a finite cost and quality")
    # on the frontier, quality rises strictly with cost; identical points count once
    pts = sorted(set(zip(c[on].tolist(), q[on].tolist())))
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:  # hull[-1] on or under the chord
                hull.pop()
            else:
                break
        hull.append(p)
    arr = np.array(hull)
    return arr[:, 0], arr[:, 1]


def aiq(cost: Sequence[float], quality: Sequence[float], *, c_min: float | None = None,
        c_max: float | None = None) -> float:
    """RouterBench's Average Improvement in Quality over [c_min, c_max] (default: the points' range).

    Beyond the hull's last point the hull stays flat at its best quality (paying more buys nothing).
    """
    hx, hy = nondecreasing_convex_hull(cost, quality)
    lo = float(np.min(cost)) if c_min is None else c_min
    hi = float(np.max(cost)) if c_max is None else c_max
    if hi <= lo:
        return float(hy.max())
    grid = np.linspace(lo, hi, 2001)
    vals = np.interp(grid, hx, hy, left=np.nan, right=hy[-1])
    vals = np.where(np.isnan(vals), hy[0], vals) if lo < hx[0] else vals  # below the cheapest point
    return float(np.trapezoid(vals, grid) / (hi - lo))


def curve_from_scores(strong_pref: np.ndarray, q_strong: np.ndarray, q_weak: np.ndarray,
                      n_points: int = 21) -> tuple[np.ndarray, np.ndarray]:
    """Sweep a router's strong-preference score: at each threshold, prompts scoring above it go
    to the strong model. Returns (share of strong calls, quality) at ``n_points`` evenly spaced
    shares, as RouteLLM's evaluation does with its cost thresholds."""
    order = np.argsort(-np.asarray(strong_pref, dtype=float), kind="stable")
    n = len(order)
    gain = (np.asarray(q_strong, float) - np.asarray(q_weak, float))[order]
    base = float(np.mean(q_weak))
    shares = np.linspace(0, 1, n_points)
    k = np.round(shares * n).astype(int)
    cum = np.concatenate([[0.0], np.cumsum(gain)])
    return k / n, base + cum[k] / n
