"""The curves plot: every learned router's whole cost-quality curve, single models as points.

Example::

    >>> res = res.with_curves(strategies, test)          # doctest: +SKIP
    >>> res.plot("curves")                               # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import ConfigError
from .plots import _done, new_axes

__all__ = ["plot_curves"]


def plot_curves(results: Any, *, ax: Axes | None = None, strategies: list[str] | None = None,
                log_cost: bool = True, figsize: tuple[float, float] = (7.5, 5), pyplot: bool = True) -> Figure:
    """Quality against cost (USD per 1k prompts) along each strategy's λ / threshold sweep.

    ``results``: Results with curves attached (:meth:`Results.with_curves`) or a
    :class:`~routerlab.harness.curves.Curves`. Each curve is a line through its operating points (its
    AIQ in the legend); single models are grey dots. ``strategies`` restricts the curves drawn.
    Raises :class:`~routerlab.errors.ConfigError` when there are no curves.
    """
    curves = getattr(results, "curves", None) if not hasattr(results, "points") else results
    if curves is None:
        raise ConfigError("no curves to plot: attach them first with res.with_curves(strategies, test_dataset)")
    fig, ax = new_axes(ax, figsize, pyplot=pyplot)
    pts = curves.points
    scale = 1000.0 / max(curves.n, 1)
    names = [s for s in dict.fromkeys(pts.loc[pts["kind"] == "curve", "strategy"])
             if strategies is None or s in strategies]
    for i, name in enumerate(names):
        cur = curves.curve(name)
        label = name
        if name in curves.metrics.index and np.isfinite(curves.metrics.loc[name, "aiq"]):
            label += f" (AIQ {curves.metrics.loc[name, 'aiq']:.3f})"
        ax.plot(cur["cost"] * scale, cur["quality"], "-", marker=".", markersize=3, color=f"C{i % 10}", label=label)
    models = pts[pts["kind"] == "model"]
    ax.scatter(models["cost"] * scale, models["quality"], color="0.35", zorder=3, label="single models")
    for _, row in models.iterrows():
        ax.annotate(row["strategy"], (row["cost"] * scale, row["quality"]), fontsize=7, color="0.35",
                    xytext=(3, -9), textcoords="offset points")
    if log_cost:
        ax.set_xscale("log")
    ax.set_xlabel("cost (USD per 1k prompts)")
    ax.set_ylabel("quality (mean score)")
    ax.set_title(f"Cost-quality curves on {curves.n} held-out prompts")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _done(fig, pyplot)
