"""The Wilcoxon signed-rank test exactly as R's ``wilcox.test(x, y, paired = TRUE)`` computes it.

R (``stats:::wilcox.test.default``, R 4.x) drops zero differences, ranks the absolute values
(average ranks for ties) and takes ``V``, the sum of the positive differences' ranks. Then:

- **exact** when fewer than 50 non-zero differences remain (R's ``exact = NULL`` default is
  ``n < 50``) *and* there are no ties and no zeros: the signed-rank distribution (``psignrank``),
  two-sided ``p = min(1, 2 · P(V' ≥ V))`` when ``V > n(n+1)/4``, else ``min(1, 2 · P(V' ≤ V))``;
- otherwise the **normal approximation** with R's tie-corrected variance
  ``n(n+1)(2n+1)/24 − Σ(t³ − t)/48`` and its continuity correction (``correct = TRUE``):
  ``z = (V − n(n+1)/4 − sign(·)·0.5) / σ``.

scipy's ``wilcoxon`` differs from R in two places this module follows R on: its ``auto`` method
stays exact up to n = 50 inclusive, and its normal approximation omits the continuity correction
unless asked. (n = 200 pairs without ties: scipy 0.09174, R 0.09186.)

Example::

    >>> d = [1.5, -0.5, 2.0, 3.25, -1.0, 0.75, 4.0, 2.5]
    >>> wilcoxon_signed_rank(d)                   # R 4.2: wilcox.test(d)$p.value
    0.0546875
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import stats

__all__ = ["wilcoxon_signed_rank"]

_EXACT_BELOW = 50  # R: exact <- (n < 50)


@lru_cache(maxsize=64)
def _signrank_counts(n: int) -> tuple[int, ...]:
    """Number of subsets of {1..n} with each rank sum 0..n(n+1)/2 (the exact null distribution × 2^n)."""
    counts = [1] + [0] * (n * (n + 1) // 2)
    top = 0
    for k in range(1, n + 1):
        top += k
        for s in range(top, k - 1, -1):
            counts[s] += counts[s - k]
    return tuple(counts)


def _psignrank(v: float, n: int, *, lower_tail: bool) -> float:
    """R's ``psignrank(v, n, lower.tail)``: P(V' <= v), or P(V' > v) for the upper tail."""
    counts = _signrank_counts(n)
    k = math.floor(v + 1e-7)  # R rounds the quantile the same way
    below = sum(counts[: max(0, min(k, len(counts) - 1)) + 1]) if k >= 0 else 0
    total = 2**n
    return (below if lower_tail else total - below) / total


def wilcoxon_signed_rank(differences: Sequence[float] | np.ndarray, alternative: str = "two-sided") -> float:
    """The p-value of the Wilcoxon signed-rank test of paired ``differences`` (B − A), as R computes it.

    ``alternative``: ``"two-sided"`` (default), ``"greater"`` (B > A) or ``"less"``. Exact below
    50 non-zero differences without ties or zeros, else the normal approximation with R's tie
    correction and continuity correction (see the module docstring for the formulas and the source).
    Differences that are all zero give p = 1 (R returns NaN there: no pair differs, so nothing
    speaks against the null). Raises ``ValueError`` for NaN or infinite differences.

    Example::

        >>> round(wilcoxon_signed_rank([1, 2, 2, -1, 3, 0, 4]), 6)   # ties and a zero: R gives 0.0731398
        0.07314
    """
    d = np.asarray(differences, dtype=float)
    if not np.isfinite(d).all():
        raise ValueError("wilcoxon_signed_rank: differences must be finite numbers (drop missing pairs first)")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}")
    zeros = bool((d == 0).any())
    d = d[d != 0]
    n = d.size
    if n == 0:
        return 1.0
    ranks = stats.rankdata(np.abs(d))
    v = float(ranks[d > 0].sum())
    ties = np.unique(ranks).size != n
    if n < _EXACT_BELOW and not ties and not zeros:
        if alternative == "greater":
            return _psignrank(v - 1, n, lower_tail=False)
        if alternative == "less":
            return _psignrank(v, n, lower_tail=True)
        p = (_psignrank(v - 1, n, lower_tail=False) if v > n * (n + 1) / 4
             else _psignrank(v, n, lower_tail=True))
        return min(1.0, 2 * p)
    _, t = np.unique(ranks, return_counts=True)
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - float(np.sum(t.astype(float) ** 3 - t)) / 48)
    z = v - n * (n + 1) / 4
    correction = {"two-sided": math.copysign(0.5, z) if z else 0.0, "greater": 0.5, "less": -0.5}[alternative]
    z = (z - correction) / sigma
    if alternative == "greater":
        return float(stats.norm.sf(z))
    if alternative == "less":
        return float(stats.norm.cdf(z))
    return float(min(1.0, 2 * min(stats.norm.cdf(z), stats.norm.sf(z))))
