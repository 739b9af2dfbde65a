"""The cost-quality Pareto frontier: one definition for every table, plot, dashboard and file.

A point is on the frontier when it is *realisable* (a strategy one could deploy) and no other
realisable point is at least as cheap and at least as good, and strictly better on one of the two.
An oracle, which reads the recorded answers to pick its model, is an upper bound and not a choice:
it is never on the frontier and dominates nothing, so it cannot push real strategies off it. Points
with an unknown (NaN) cost or quality are neither on the frontier nor dominate anything.

Example::

    >>> pareto_mask([1.0, 2.0, 3.0, 0.5], [0.6, 0.8, 0.7, 0.9], bound=[False, False, False, True]).tolist()
    [True, True, False, False]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError

__all__ = ["pareto_mask"]


def pareto_mask(cost: Sequence[float] | np.ndarray, quality: Sequence[float] | np.ndarray, *,
                bound: Sequence[bool] | np.ndarray | None = None) -> np.ndarray:
    """Which points are on the cost-quality Pareto frontier (lower cost and higher quality are better).

    ``cost`` and ``quality`` are equal-length 1-D arrays (any units: USD per 1k prompts, mean score);
    ``bound`` marks points that are bounds rather than choices (an oracle): they are never on the
    frontier and dominate nothing. Returns a boolean array of the same length. Identical realisable
    points are all on the frontier when one is. Raises :class:`~routerlab.errors.ConfigError` for
    mismatched lengths.
    """
    c = np.asarray(cost, dtype=float)
    q = np.asarray(quality, dtype=float)
    b = np.zeros(len(c), dtype=bool) if bound is None else np.asarray(bound, dtype=bool)
    if c.ndim != 1 or c.shape != q.shape or b.shape != c.shape:
        raise ConfigError(f"pareto_mask: cost, quality (and bound) must be 1-D of one length, got shapes "
                          f"{c.shape}, {q.shape}, {b.shape}")
    real = ~b & np.isfinite(c) & np.isfinite(q)
    # dominated[i]: some realisable j is at least as cheap and as good as i, and strictly better on one
    at_least = (c[None, :] <= c[:, None]) & (q[None, :] >= q[:, None])
    strictly = (c[None, :] < c[:, None]) | (q[None, :] > q[:, None])
    dominated = (at_least & strictly & real[None, :]).any(axis=1)
    return np.asarray(real & ~dominated, dtype=bool)
