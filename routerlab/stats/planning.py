"""Planning a comparison: how many prompts a paired A/B test needs, from a pilot (Miller 2024, §4).

The power arithmetic itself is in :mod:`routerlab.stats.power`; this module reads a pilot (results, a
:class:`~routerlab.stats.ABResult` or a standard deviation) and returns a :class:`PowerPlan`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import special

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
from ._data import pair_arms, resolve_metric
from .intervals import cluster_robust_se
from .paired import ABResult
from .power import n_paired

__all__ = ["PowerPlan", "plan"]


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
