"""Intervals and exact tests that scipy lacks (or that we want in one place).

Each function is checked in the tests against a published reference value:

- :func:`wilson_interval` — Wilson (1927) score interval for one proportion.
- :func:`t_interval` — Student t interval ``estimate ± t(1 - alpha/2, df) · se`` (Student 1908), on
  :func:`t_quantile` (also the one-sided bounds of the routing table's rule and the non-inferiority
  test), and :func:`mean_interval`, the interval of a mean: Wilson for 0/1 values, t otherwise.
- :func:`newcombe_paired_ci` — Newcombe (1998, Stat Med 17:2635, method 10) square-and-add
  interval for the difference of two *paired* proportions (Wilson limits combined with the
  phi-corrected correlation). Reference: Fagerland, Lydersen & Laake (2017), *Statistical Analysis of
  Contingency Tables*, ch. 8 (Cavo et al. 2012 example).
- :func:`newcombe_unpaired_ci` — Newcombe (1998, Stat Med 17:873, method 10) hybrid score interval
  for the difference of two independent proportions.
- :func:`mcnemar_exact` — exact (binomial) McNemar test via ``scipy.stats.binomtest``.
- :func:`cluster_robust_se` — CR1 cluster-robust standard error of a mean (Liang & Zeger 1986; the
  clustered SE of Miller 2024, "Adding Error Bars to Evals", eq. 4, with the G/(G-1) correction).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from routerlab.errors import ConfigError

# scipy is imported inside the functions that need it: Results.summary() calls this module, and
# scipy.stats alone takes longer to import than the rest of a summary takes to compute.

__all__ = [
    "wilson_interval",
    "t_interval",
    "t_quantile",
    "mean_interval",
    "newcombe_paired_ci",
    "newcombe_unpaired_ci",
    "mcnemar_exact",
    "cluster_robust_se",
]


def _z(alpha: float) -> float:
    return NormalDist().inv_cdf(1 - alpha / 2)


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha!r}: must be between 0 and 1 (e.g. 0.05 for a 95% interval)")


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a proportion ``successes / n``.

    Unlike the Wald interval it behaves at 0 and n successes: 0 failures in 30 calls still leaves
    a failure rate of up to 11% plausible. With ``n = 0`` nothing is known: ``(0.0, 1.0)``.
    Returns ``(low, high)`` within [0, 1]; raises :class:`~routerlab.errors.ConfigError` unless
    ``0 <= successes <= n`` and ``0 < alpha < 1``.

    Example::

        >>> lo, hi = wilson_interval(0, 30)
        >>> round(hi, 4)
        0.1135
    """
    if n < 0 or successes < 0 or successes > n:
        raise ConfigError(f"wilson_interval: need 0 <= successes <= n, got {successes} of {n}")
    _check_alpha(alpha)
    if n == 0:
        return (0.0, 1.0)
    z = _z(alpha)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def t_interval(estimate: float, se: float, df: float, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided Student t interval ``estimate ± t(1 - alpha/2, df) · se``.

    ``se`` is the standard error of ``estimate`` (same units), ``df`` the degrees of freedom (``n - 1``
    for a mean of n values, ``G - 1`` for a cluster-robust SE over G clusters). ``se = 0`` gives the
    point ``(estimate, estimate)``; an undefined SE (NaN) or ``df < 1`` gives ``(nan, nan)``.

    Example::

        >>> [round(x, 4) for x in t_interval(1.0, 0.5, 9)]
        [-0.1311, 2.1311]
    """
    _check_alpha(alpha)
    if not (math.isfinite(estimate) and math.isfinite(se) and df >= 1):
        return (math.nan, math.nan)
    if se < 0:
        raise ConfigError(f"t_interval: se={se!r} must be >= 0")
    if se == 0:
        return (float(estimate), float(estimate))
    half = t_quantile(1 - alpha / 2, df) * se
    return (float(estimate - half), float(estimate + half))


def t_quantile(p: float, df: float) -> float:
    """The ``p``-quantile of Student's t distribution with ``df`` degrees of freedom (``df > 0``).

    ``t_quantile(0.975, n - 1)`` is the multiplier of a two-sided 95 % interval, ``t_quantile(0.95, n - 1)``
    of a one-sided 95 % bound. The same numbers as ``scipy.stats.t.ppf(p, df)`` (both are
    ``scipy.special.stdtrit``), without importing ``scipy.stats``. Raises
    :class:`~routerlab.errors.ConfigError` unless ``0 < p < 1``.

    Example::

        >>> round(t_quantile(0.975, 9), 4), round(t_quantile(0.95, 9), 4)
        (2.2622, 1.8331)
    """
    if not 0 < p < 1:
        raise ConfigError(f"t_quantile: p={p!r} must be between 0 and 1 (e.g. 0.975)")
    from scipy.special import stdtrit  # the t quantile alone: scipy.stats is much slower to import

    return float(stdtrit(df, p))


def mean_interval(values: Sequence[float] | np.ndarray, alpha: float = 0.05, *,
                  binary: bool | None = None) -> tuple[float, float]:
    """Confidence interval of the mean of ``values``: Wilson (:func:`wilson_interval`) for 0/1 values
    (accuracy), Student t (:func:`t_interval`, ``n - 1`` df) otherwise.

    ``binary=None`` takes Wilson when every value is 0 or 1; ``False`` always takes t (a cost that
    happens to be 0 everywhere is not a proportion); ``True`` requires 0/1 values. NaN values are left
    out. With no values, or a single value for t, the interval is ``(nan, nan)``. Raises
    :class:`~routerlab.errors.ConfigError` for ``binary=True`` with other values.

    Example::

        >>> [round(x, 4) for x in mean_interval([1, 1, 0, 1])]
        [0.3006, 0.9544]
        >>> [round(x, 4) for x in mean_interval([0.5, 0.7, 0.9])]
        [0.2032, 1.1968]
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return (math.nan, math.nan)
    is01 = bool(np.isin(x, (0.0, 1.0)).all())
    if binary and not is01:
        raise ConfigError("mean_interval(binary=True): the values must all be 0 or 1")
    if is01 if binary is None else binary:
        return wilson_interval(int(x.sum()), n, alpha)
    if n < 2:
        return (math.nan, math.nan)
    return t_interval(float(x.mean()), float(x.std(ddof=1)) / math.sqrt(n), n - 1, alpha)


def newcombe_paired_ci(n11: int, n12: int, n21: int, n22: int,
                       alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe's square-and-add CI for ``p1 - p2`` of two paired proportions.

    The 2x2 table counts pairs: ``n11`` both successes, ``n12`` first success only, ``n21`` second
    success only, ``n22`` neither; ``p1 = (n11 + n12) / N`` and ``p2 = (n11 + n21) / N``. Method 10 of
    Newcombe (1998), Stat Med 17:2635-2650: Wilson limits for each margin combined with the
    continuity-corrected phi coefficient.

    Example::

        >>> [round(x, 4) for x in newcombe_paired_ci(59, 6, 16, 80)]
        [-0.1186, -0.0046]
    """
    counts = (n11, n12, n21, n22)
    if min(counts) < 0:
        raise ConfigError(f"newcombe_paired_ci: counts must be >= 0, got {counts}")
    n = n11 + n12 + n21 + n22
    if n == 0:
        return (-1.0, 1.0)
    r1, r2, c1, c2 = n11 + n12, n21 + n22, n11 + n21, n12 + n22
    p1, p2 = r1 / n, c1 / n
    l1, u1 = wilson_interval(r1, n, alpha)
    l2, u2 = wilson_interval(c1, n, alpha)
    if min(r1, r2, c1, c2) == 0:
        phi = 0.0
    else:
        a = n11 * n22 - n12 * n21
        # Newcombe's correction: shrink positive association by N/2, leave negative as is.
        if a > n / 2:
            c = a - n / 2
        elif a >= 0:
            c = 0.0
        else:
            c = a
        phi = c / math.sqrt(r1 * r2 * c1 * c2)
    d = p1 - p2
    dl = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    du = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return (max(-1.0, d - dl), min(1.0, d + du))


def newcombe_unpaired_ci(x1: int, n1: int, x2: int, n2: int,
                         alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe's hybrid score CI for ``x1/n1 - x2/n2`` from two independent samples.

    Method 10 of Newcombe (1998), Stat Med 17:873-890.

    Example::

        >>> [round(x, 4) for x in newcombe_unpaired_ci(7, 34, 1, 34)]
        [0.0189, 0.3404]
    """
    if n1 <= 0 or n2 <= 0:
        raise ConfigError(f"newcombe_unpaired_ci: both samples need n > 0, got {n1} and {n2}")
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, alpha)
    l2, u2 = wilson_interval(x2, n2, alpha)
    d = p1 - p2
    return (max(-1.0, d - math.hypot(p1 - l1, u2 - p2)), min(1.0, d + math.hypot(u1 - p1, p2 - l2)))


def mcnemar_exact(n12: int, n21: int) -> float:
    """Two-sided exact McNemar p-value from the two discordant counts.

    Under the null each discordant pair is equally likely to go either way, so the smaller count
    is Binomial(n12 + n21, 1/2) (``scipy.stats.binomtest``). Concordant pairs carry no information.

    Example::

        >>> round(mcnemar_exact(10, 2), 5)
        0.03857
    """
    if n12 < 0 or n21 < 0:
        raise ConfigError(f"mcnemar_exact: counts must be >= 0, got {n12}, {n21}")
    m = n12 + n21
    if m == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(min(n12, n21), m, 0.5).pvalue)


def cluster_robust_se(values: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray | float, int]:
    """CR1 cluster-robust standard error of the mean of ``values``, and the number of clusters.

    ``SE^2 = G/(G-1) * sum_g (sum_{i in g} (x_i - xbar))^2 / n^2``: the sandwich estimator for an
    intercept-only regression with the small-sample factor ``G/(G-1)`` (Stata's and statsmodels'
    CR1 for one regressor). Use it with a t distribution on ``G - 1`` degrees of freedom. With every
    observation its own cluster it equals the ordinary ``s / sqrt(n)``.

    ``values`` may be 2-D (runs x n) with one shared ``clusters`` vector; the SE is per run.

    Example::

        >>> import numpy as np
        >>> x = np.array([1.0, 2.0, 3.0, 4.0])
        >>> se, g = cluster_robust_se(x, np.arange(4))
        >>> bool(np.isclose(se, x.std(ddof=1) / 2)), g
        (True, 4)
    """
    x = np.asarray(values, dtype=float)
    labels = np.asarray(clusters)
    if labels.ndim != 1 or labels.shape[0] != x.shape[-1]:
        raise ConfigError(
            f"cluster_robust_se: clusters must be 1-D with one label per value "
            f"({x.shape[-1]}), got shape {labels.shape}"
        )
    codes, _ = _codes(labels)
    g = int(codes.max()) + 1 if codes.size else 0
    if g < 2:
        raise ConfigError(f"cluster_robust_se: need at least 2 clusters, got {g}")
    n = x.shape[-1]
    resid = x - x.mean(axis=-1, keepdims=True)
    if x.ndim == 1:
        sums = np.bincount(codes, weights=resid, minlength=g)
        var = g / (g - 1) * float(np.sum(sums**2)) / n**2
        return math.sqrt(var), g
    onehot = np.zeros((n, g))
    onehot[np.arange(n), codes] = 1.0
    sums = resid.reshape(-1, n) @ onehot
    var = g / (g - 1) * np.sum(sums**2, axis=-1) / n**2
    return np.sqrt(var).reshape(x.shape[:-1]), g


def _codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniques, codes = np.unique(labels, return_inverse=True)
    return codes.astype(np.intp), uniques
