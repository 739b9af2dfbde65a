"""Whole cost-quality curves of the strategies that have one, on held-out prompts, with their metrics.

A strategy with a ``sweep(dataset)`` method (the learned routers: a λ sweep; :class:`FrugalCascade`:
a threshold sweep) gives its whole curve in one vectorised pass; single models are points. Every
curve is evaluated on the prompts all of them share, so the points and the metrics are comparable.

:func:`sweep_curves` returns a :class:`Curves`: ``points`` (one row per operating point) and
``metrics`` (per strategy: AIQ, APGR, CPT(50 %), CPT(80 %) with paired bootstrap CIs, see
:func:`routerlab.stats.curves.curve_metrics`). ``Results.with_curves`` attaches one to results, and
``res.plot("curves")`` and the dashboard show it.

Example::

    >>> from routerlab import datasets                                                  # doctest: +SKIP
    >>> from routerlab.routers import ClassifierRouter, FrugalCascade                   # doctest: +SKIP
    >>> train, test = datasets.load("zeroeval").split(test_size=0.5, seed=0)             # doctest: +SKIP
    >>> curves = sweep_curves({"classifier": ClassifierRouter().fit(train),
    ...                        "frugal": FrugalCascade().fit(train)}, test)               # doctest: +SKIP
    >>> curves.metrics.round(3)                                                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import ConfigError
from ..routers.baselines import outcome_matrices
from ..stats.curves import curve_metrics

__all__ = ["Curves", "sweep_curves"]


@dataclass
class Curves:
    """Cost-quality curves on held-out prompts.

    ``points``: ``strategy, kind`` (``curve`` or ``model``), ``param`` (λ or threshold; NaN for a
    model), ``quality`` (mean score), ``cost`` (USD summed over the ``n`` prompts), ``cost_per_prompt``;
    ``metrics``: per strategy ``aiq, aiq_lo, aiq_hi, apgr, ..., cpt80_hi`` (CPT as a share of the
    weak-to-strong cost gap); ``weak``/``strong``: the reference models; ``n``: prompts evaluated.
    """

    points: pd.DataFrame
    metrics: pd.DataFrame
    weak: str
    strong: str
    n: int
    info: dict[str, Any] = field(default_factory=dict)

    def curve(self, strategy: str) -> pd.DataFrame:
        """The operating points of one strategy (cheapest first)."""
        if strategy not in set(self.points["strategy"]):
            raise ConfigError(f"no curve for {strategy!r}; curves: {sorted(set(self.points['strategy']))}")
        return self.points[self.points["strategy"] == strategy].sort_values("cost").reset_index(drop=True)

    def plot(self, **kwargs: Any) -> Any:
        """The curves plot (:func:`routerlab.viz.curves.plot_curves`)."""
        from . import views

        return views.get("plot")(self, "curves", **kwargs)

    def _repr_html_(self) -> str:
        head = (f"<b>Curves</b> on {self.n} held-out prompts; APGR/CPT between {self.weak} (weak) and "
                f"{self.strong} (strong); 95% bootstrap CIs<br>")
        return head + self.metrics.round(4)._repr_html_()

    def __repr__(self) -> str:
        return f"Curves({len(self.metrics)} strategies, {self.n} prompts, weak={self.weak!r}, strong={self.strong!r})"


def sweep_curves(strategies: Mapping[str, Any], dataset: Any, *, models: list[str] | None = None,
                 weak: str | None = None, strong: str | None = None, catalog: Catalog | None = None,
                 n_boot: int = 500, seed: int = 0) -> Curves:
    """Curves of every strategy with a ``sweep`` method plus every single model, on ``dataset``.

    ``dataset``: the held-out split (with outcomes). ``models``: single models shown as points
    (default: every model of the data set). ``weak``/``strong``: APGR's reference models (default:
    the cheapest model and the best one on ``dataset``). Raises :class:`~routerlab.errors.ConfigError`
    when no strategy has a curve or the prompts they share are fewer than two.
    """
    catalog = catalog or Catalog.default()
    sweeps = {name: s.sweep(dataset) for name, s in strategies.items() if callable(getattr(s, "sweep", None))}
    if not sweeps:
        raise ConfigError("sweep_curves: none of the strategies has a curve (a sweep(dataset) method); "
                          "the learned routers and FrugalCascade do")
    scores, costs = outcome_matrices(dataset, catalog, models)
    shared = pd.Index(scores.index[scores.notna().all(axis=1).to_numpy()])
    for sw in sweeps.values():
        shared = shared.intersection(pd.Index(sw.prompt_ids))
    if len(shared) < 2:
        raise ConfigError(f"sweep_curves: the strategies share {len(shared)} prompts with outcomes; need at least 2")
    s, c = scores.loc[shared], costs.loc[shared]
    weak = weak or str(c.sum().idxmin())
    strong = strong or str(s.mean().idxmax())
    rows, metrics = [], []
    for name, sw in sweeps.items():
        pos = pd.Index(sw.prompt_ids).get_indexer(shared)
        q, cost = sw.quality[:, pos], sw.cost[:, pos]
        key = sw.points.columns[0]
        for i, param in enumerate(sw.points[key]):
            rows.append({"strategy": name, "kind": "curve", "param": float(param), "quality": float(q[i].mean()),
                         "cost": float(cost[i].sum()), "cost_per_prompt": float(cost[i].mean())})
        m = curve_metrics(q, cost, weak=(s[weak].to_numpy(), c[weak].to_numpy()),
                          strong=(s[strong].to_numpy(), c[strong].to_numpy()), n_boot=n_boot, seed=seed)
        flat: dict[str, Any] = {"strategy": name}
        for metric, row in m.iterrows():
            flat.update({str(metric): row["estimate"], f"{metric}_lo": row["lo"], f"{metric}_hi": row["hi"]})
        metrics.append(flat)
    for model in s.columns:
        rows.append({"strategy": str(model), "kind": "model", "param": np.nan, "quality": float(s[model].mean()),
                     "cost": float(c[model].sum()), "cost_per_prompt": float(c[model].mean())})
    return Curves(pd.DataFrame(rows), pd.DataFrame(metrics).set_index("strategy"), weak, strong, len(shared),
                  {"dataset": getattr(dataset, "name", None), "n_boot": n_boot, "seed": seed})
