"""Power and sample size for paired comparisons (Miller 2024, "Adding Error Bars to Evals", §4).

Comparing two strategies on the *same* prompts, the standard error of the difference uses the
variance of the per-prompt difference, ``Var(A) + Var(B) - 2 Cov(A, B)``: the more the arms agree
on which prompts are hard, the fewer prompts a comparison needs. Power is computed exactly with the
noncentral t distribution (as R's ``power.t.test(type="paired")`` and G*Power do).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from routerlab.errors import ConfigError

from ._common import (
    InsufficientDataError,
    as_frame,
    check_alpha,
    check_power,
    fmt_num,
    html_table,
    plain,
    strategies_of,
    text_table,
)

__all__ = ["power_paired", "n_paired", "mde_paired", "PowerPlan", "plan"]


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


@dataclass(frozen=True)
class PowerPlan:
    """How many prompts a paired comparison needs; from :func:`plan`.

    ``n_required`` counts pairs (prompts x samples), each run through both strategies.
    ``n_unpaired_per_arm`` is what two independent samples would need, for contrast.

    Example::

        >>> p = plan(1.0, effect=0.2)
        >>> p.n_required
        199
    """

    n_required: int
    effect: float
    alpha: float
    power: float
    sd_diff: float
    sd_a: float | None
    sd_b: float | None
    correlation: float | None
    n_pilot: int | None
    design_effect: float
    n_unpaired_per_arm: int | None
    method: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict of every field."""
        return plain(asdict(self))

    def _rows(self) -> list[tuple[str, str]]:
        rows = [
            ("prompts required", str(self.n_required)),
            ("effect (absolute)", fmt_num(self.effect)),
            ("alpha / power", f"{self.alpha:g} / {self.power:g}"),
            ("SD of paired difference", fmt_num(self.sd_diff)),
        ]
        if self.correlation is not None:
            rows.append(("correlation between arms", fmt_num(self.correlation)))
        if self.design_effect != 1:
            rows.append(("design effect (clustering)", fmt_num(self.design_effect)))
        if self.n_unpaired_per_arm is not None:
            rows.append(("unpaired, per arm (for contrast)", str(self.n_unpaired_per_arm)))
        if self.n_pilot is not None:
            rows.append(("pilot pairs", str(self.n_pilot)))
        rows.append(("method", self.method))
        return rows

    def __str__(self) -> str:
        return text_table("Power plan", self._rows(), [])

    def _repr_html_(self) -> str:
        return html_table("Power plan", self._rows(), [], highlight=f"{self.n_required} prompts")


def plan(results_or_pilot: Any, effect: float, alpha: float = 0.05, power: float = 0.8, *,
         a: str | None = None, b: str | None = None, metric: str = "quality",
         cluster: str | None = None, on_error: str = "drop") -> PowerPlan:
    """Prompts needed to detect an absolute difference ``effect`` between two strategies.

    ``results_or_pilot`` is a pilot ``Results``/DataFrame with the two strategies (name them with
    ``a``/``b`` if there are more), an :class:`ABResult` from :func:`compare`, or a number: the
    standard deviation of the per-prompt difference. The paired variance is estimated from the
    pilot (Miller 2024); with ``cluster`` the design effect of clustering inflates it.

    Example::

        >>> import pandas as pd
        >>> pilot = pd.DataFrame({"strategy": ["a"] * 4 + ["b"] * 4, "prompt_id": list("wxyz") * 2,
        ...                       "score": [1, 0, 1, 0, 1, 1, 1, 0]})
        >>> plan(pilot, effect=0.05).n_required > 100
        True
    """
    from ._data import pair_arms, resolve_metric
    from .intervals import cluster_robust_se
    from .paired import ABResult

    check_alpha(alpha)
    check_power(power)
    if not isinstance(effect, (int, float, np.floating)) or not effect > 0:
        raise ConfigError(f"effect={effect!r}: give the smallest absolute difference worth "
                          f"detecting, > 0 (e.g. 0.05 for 5 points of accuracy)")
    sd_a = sd_b = corr = None
    n_pilot = None
    deff = 1.0
    if isinstance(results_or_pilot, (int, float, np.floating)) and not isinstance(results_or_pilot, bool):
        sd = float(results_or_pilot)
        if not sd >= 0:
            raise ConfigError(f"plan: a numeric pilot is the SD of the paired difference, >= 0; got {sd}")
        method = "paired t (noncentral t), SD given"
    elif isinstance(results_or_pilot, ABResult):
        r = results_or_pilot
        if r.kind == "quantile":
            raise ConfigError("plan: quantile comparisons have no paired-t plan; use "
                              "compare(...).prompts_required")
        sd, n_pilot, corr = r.se * math.sqrt(r.n), r.n, r.correlation
        method = f"paired t (noncentral t), SD from compare() ({r.se_method})"
    else:
        df = as_frame(results_or_pilot)
        names = strategies_of(df)
        if a is None or b is None:
            others = [s for s in names if s not in (a, b)]
            if len(others) != (a is None) + (b is None):
                raise ConfigError(f"plan: the pilot has strategies {names}; name the two to "
                                  f"compare with a=... and b=...")
            a = a if a is not None else others.pop(0)
            b = b if b is not None else others.pop(0)
        spec = resolve_metric(df, metric)
        if spec.kind == "quantile":
            raise ConfigError("plan: quantile metrics have no paired-t plan; use "
                              "compare(...).prompts_required")
        pairs = pair_arms(df, a, b, spec, cluster=cluster, on_error=on_error)
        if len(pairs.a) < 3:
            raise InsufficientDataError(f"plan: only {len(pairs.a)} complete pilot pairs of "
                                        f"{a!r} and {b!r}; dropped: {pairs.dropped}")
        d = pairs.b - pairs.a
        sd = float(np.std(d, ddof=1))
        sd_a, sd_b = float(np.std(pairs.a, ddof=1)), float(np.std(pairs.b, ddof=1))
        corr = float(np.corrcoef(pairs.a, pairs.b)[0, 1]) if sd_a > 0 and sd_b > 0 else math.nan
        n_pilot = len(d)
        method = "paired t (noncentral t), SD of per-prompt difference from the pilot"
        if pairs.clusters is not None and sd > 0:
            se_cl, g = cluster_robust_se(d, pairs.clusters)
            deff = max(1.0, float(se_cl) ** 2 / (sd**2 / len(d)))
            sd *= math.sqrt(deff)
            method += f", inflated by the design effect of {g} clusters of {cluster!r}"
    n_req = n_paired(effect, sd, alpha, power)
    n_unpaired = None
    if sd_a is not None and sd_b is not None:
        z = special.ndtri(1 - alpha / 2) + special.ndtri(power)
        n_unpaired = max(2, math.ceil(z**2 * (sd_a**2 + sd_b**2) * deff / effect**2))
    return PowerPlan(n_required=n_req, effect=float(effect), alpha=alpha, power=power,
                     sd_diff=sd, sd_a=sd_a, sd_b=sd_b, correlation=corr, n_pilot=n_pilot,
                     design_effect=deff, n_unpaired_per_arm=n_unpaired, method=method)
