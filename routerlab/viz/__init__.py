"""Plots and the trade-off dashboard for experiment results.

``plot(results, kind)`` dispatches to one matplotlib function per kind; every function accepts
``ax=`` and returns the Figure. ``Results.plot(kind)`` and ``Results.dashboard()`` call into here: this package registers them as
views of :mod:`routerlab.harness.views` when imported.

Example::

    >>> from routerlab import viz                                   # doctest: +SKIP
    >>> viz.plot(res, "frontier")                                   # doctest: +SKIP
    >>> viz.save_frontier_png(res, "out/frontier.png")              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from ..harness import views
from .curves import plot_curves
from .plots import forest, frontier, heatmap, latency, oracle_point, shares
from .style import color_of, set_colors, styles
from .tables import ab_table, summary_markdown, summary_table

__all__ = ["plot", "KINDS", "frontier", "latency", "heatmap", "shares", "forest", "oracle_point",
           "plot_curves", "save_frontier_png", "figure_png", "Dashboard", "recommend", "live_dashboard", "styles",
           "color_of", "set_colors", "summary_markdown", "summary_table", "ab_table"]

KINDS: dict[str, Callable[..., Figure]] = {"frontier": frontier, "latency": latency, "heatmap": heatmap, "shares": shares,
                                           "forest": forest, "curves": plot_curves}
_ALIASES = {"pareto": "frontier", "cost_quality": "frontier", "cdf": "latency", "tasks": "heatmap",
            "share": "shares", "models": "shares", "ab": "forest"}


def plot(results: Any, kind: str = "frontier", **kwargs: Any) -> Figure:
    """Draw one kind of plot: ``frontier``, ``latency``, ``heatmap``, ``shares``, ``forest`` or ``curves``.

    For ``forest`` pass the A/B table as ``results`` (or ``tests=`` with Results first).
    """
    key = _ALIASES.get(kind, kind)
    if key not in KINDS:
        raise ValueError(f"unknown plot kind {kind!r}; choose one of {sorted(KINDS)}")
    if key == "forest" and "tests" in kwargs:
        return forest(kwargs.pop("tests"), **kwargs)
    return KINDS[key](results, **kwargs)


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (no pyplot, thread-safe)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def save_frontier_png(results: Any, path: str | Path, *, dpi: int = 150, **kwargs: Any) -> Path:
    """Write the cost-quality frontier plot to ``path`` (the CLI's ``frontier.png``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = frontier(results, pyplot=False, **kwargs)
    path.write_bytes(figure_png(fig, dpi=dpi))
    return path


def _dashboard(results: Any, **kwargs: Any) -> Any:
    from .dashboard import Dashboard

    return Dashboard(results, **kwargs)


def _live_dashboard(experiment: Any, **kwargs: Any) -> Any:
    from .dashboard import live_dashboard

    return live_dashboard(experiment, **kwargs)


# the harness names these views; this package provides them (see routerlab.harness.views)
views.register("plot", plot)
views.register("dashboard", _dashboard)
views.register("live_dashboard", _live_dashboard)


def __getattr__(name: str) -> Any:
    # the dashboard pulls in ipywidgets: load it only when asked for
    if name in ("Dashboard", "recommend", "Recommendation", "live_dashboard"):
        from . import dashboard

        return getattr(dashboard, name)
    raise AttributeError(f"module 'routerlab.viz' has no attribute {name!r}")
