"""The cost-quality Pareto frontier: one definition for every table, plot, dashboard and file.

A point is on the frontier when it is *realisable* (a strategy one could deploy) and no other
realisable point is at least as cheap and at least as good, and strictly better on one of the two.
An oracle, which reads the recorded answers to pick its model, is an upper bound and not a choice:
it is never on the frontier and dominates nothing, so it cannot push real strategies off it. Points
with an unknown (NaN) cost or quality are neither on the frontier nor dominate anything.

Example::

    >>> pareto_mask([1.0, 2.0, 3.0, 0.5], [0.6, 0.8, 0.7, 0.9], bound=[False, False, False, True]).tolist()
    [True, True, False, False]
    >>> pareto_front([3.0, 1.0, 2.0, 1.0], [0.9, 0.6, 0.5, 0.6]).tolist()   # cheapest first, one of the twins
    [1, 0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError

__all__ = ["pareto_mask", "pareto_front"]


def pareto_mask(cost: Sequence[float] | np.ndarray, quality: Sequence[float] | np.ndarray, *,
                bound: Sequence[bool] | np.ndarray | None = None) -> np.ndarray:
    """Which points are on the cost-quality Pareto frontier (lower cost and higher quality are better).

    ``cost`` and ``quality`` are equal-length 1-D arrays (any units: USD per 1k prompts, mean score);
    ``bound`` marks points that are bounds rather than choices (an oracle): they are never on the
    frontier and dominate nothing. Returns a boolean array of the same length. Identical realisable
    points are all on the frontier when one is. Raises :class:`~routerlab.errors.ConfigError` for
    mismatched lengths.
    """
    c, q, b = _arrays(cost, quality, bound)
    real = np.flatnonzero(~b & np.isfinite(c) & np.isfinite(q))
    out = np.zeros(len(c), dtype=bool)
    if not len(real):
        return out
    # Sorted by cost, then quality descending, a point is dominated exactly when a point of its own cost
    # is better, or a strictly cheaper one is at least as good: one sort and two running maxima,
    # O(n log n) where comparing every pair would be O(n^2) in time and memory.
    order = real[np.lexsort((-q[real], c[real]))]
    cs, qs = c[order], q[order]
    new_cost = np.r_[True, cs[1:] != cs[:-1]]
    group = np.cumsum(new_cost) - 1
    group_best = qs[new_cost]  # the first of each cost is its best quality
    cheaper_best = np.r_[-np.inf, np.maximum.accumulate(group_best)[:-1]]
    out[order] = (qs == group_best[group]) & (qs > cheaper_best[group])
    return out


def pareto_front(cost: Sequence[float] | np.ndarray, quality: Sequence[float] | np.ndarray, *,
                 bound: Sequence[bool] | np.ndarray | None = None) -> np.ndarray:
    """The frontier of :func:`pareto_mask` as positions, cheapest first, each point once.

    For walking the frontier (a cascade plan merged task by task, the ladders of a learned cascade):
    the integer positions of the frontier points ordered by cost (then quality, descending); of
    identical (cost, quality) points only the first given. Same arguments and errors as
    :func:`pareto_mask`.
    """
    c, q, _ = _arrays(cost, quality, bound)
    on = np.flatnonzero(pareto_mask(c, q, bound=bound))
    on = on[np.lexsort((on, -q[on], c[on]))]
    if not len(on):
        return on
    twin = np.r_[False, (c[on][1:] == c[on][:-1]) & (q[on][1:] == q[on][:-1])]
    return on[~twin]


def _arrays(cost: Sequence[float] | np.ndarray, quality: Sequence[float] | np.ndarray,
            bound: Sequence[bool] | np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = np.asarray(cost, dtype=float)
    q = np.asarray(quality, dtype=float)
    b = np.zeros(len(c), dtype=bool) if bound is None else np.asarray(bound, dtype=bool)
    if c.ndim != 1 or c.shape != q.shape or b.shape != c.shape:
        raise ConfigError(f"pareto_mask: cost, quality (and bound) must be 1-D of one length, got shapes "
                          f"{c.shape}, {q.shape}, {b.shape}")
    return c, q, b
