"""Power and sample size for paired comparisons (Miller 2024, "Adding Error Bars to Evals", §4).

Comparing two strategies on the *same* prompts, the standard error of the difference uses the
variance of the per-prompt difference, ``Var(A) + Var(B) - 2 Cov(A, B)``: the more the arms agree
on which prompts are hard, the fewer prompts a comparison needs. Power is computed exactly with the
noncentral t distribution (as R's ``power.t.test(type="paired")`` and G*Power do).
"""

from __future__ import annotations

import math

from scipy import optimize, special, stats

from routerlab.errors import ConfigError

from ._common import (
    check_alpha,
    check_power,
)

__all__ = ["power_paired", "n_paired", "mde_paired", "normal_power"]


def power_paired(n: int, effect: float, sd: float = 1.0, alpha: float = 0.05, *,
                 df: float | None = None) -> float:
    """Power of a two-sided paired t-test with ``n`` pairs to detect a mean difference ``effect``.

    ``sd`` is the standard deviation of the per-pair difference (``effect / sd`` is Cohen's d_z);
    ``df`` defaults to ``n - 1`` (pass ``G - 1`` for a cluster-robust test with G clusters).

    Example::

        >>> round(power_paired(199, 0.2), 3)
        0.802
    """
    check_alpha(alpha)
    if n < 2:
        return math.nan
    if sd < 0:
        raise ConfigError(f"sd={sd!r}: a standard deviation is >= 0")
    if sd == 0:
        return 1.0 if effect != 0 else alpha
    dof = float(n - 1 if df is None else df)
    nc = abs(effect) / sd * math.sqrt(n)
    crit = stats.t.ppf(1 - alpha / 2, dof)
    pw = stats.nct.sf(crit, dof, nc) + stats.nct.cdf(-crit, dof, nc)
    if not math.isfinite(pw):  # nct loses accuracy for huge noncentrality: power is ~normal there
        pw = special.ndtr(nc - crit) + special.ndtr(-nc - crit)
    return float(min(1.0, max(0.0, pw)))


def n_paired(effect: float, sd: float = 1.0, alpha: float = 0.05, power: float = 0.8) -> int:
    """Smallest number of pairs whose paired t-test reaches ``power`` for a difference ``effect``.

    Example::

        >>> n_paired(0.2)  # d = 0.2, alpha 0.05, power 0.8 (pwr.t.test gives n = 198.15)
        199
    """
    check_alpha(alpha)
    check_power(power)
    if effect == 0:
        raise ConfigError("effect=0: no sample size detects a zero difference; give the smallest "
                          "difference worth detecting")
    if sd == 0:
        return 2
    z = special.ndtri(1 - alpha / 2) + special.ndtri(power)
    n = max(2, math.ceil((z * sd / abs(effect)) ** 2))
    while power_paired(n, effect, sd, alpha) < power:
        n += 1
    while n > 2 and power_paired(n - 1, effect, sd, alpha) >= power:
        n -= 1
    return n


def mde_paired(n: int, sd: float = 1.0, alpha: float = 0.05, power: float = 0.8, *,
               df: float | None = None) -> float:
    """Minimum detectable (absolute) difference for ``n`` pairs at the given power.

    Example::

        >>> round(mde_paired(199, 1.0), 3)
        0.2
    """
    check_alpha(alpha)
    check_power(power)
    if n < 2:
        return math.nan
    if sd == 0:
        return 0.0
    hi = sd * 10 / math.sqrt(n) + 10 * sd
    return float(optimize.brentq(lambda e: power_paired(n, e, sd, alpha, df=df) - power, 0.0, hi,
                                 xtol=1e-12 * sd))


def normal_power(se: float, effect: float, alpha: float) -> float:
    """Two-sided power of a z-test whose estimate has standard error ``se``."""
    if se == 0:
        return 1.0
    z = special.ndtri(1 - alpha / 2)
    shift = abs(effect) / se
    return float(special.ndtr(shift - z) + special.ndtr(-shift - z))
