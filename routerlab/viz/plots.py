"""Matplotlib plots of a :class:`~routerlab.results.Results` table.

Every function takes the results (or, for :func:`forest`, a table of A/B tests), an optional ``ax=``
to draw into, and returns the :class:`~matplotlib.figure.Figure`. A figure created here is detached
from pyplot's figure manager (``plt.close``), so a notebook shows it exactly once: as the cell's
value (IPython's PNG formatter) and not a second time by the inline backend.

Example::

    >>> from routerlab.viz import plots                        # doctest: +SKIP
    >>> fig = plots.frontier(res)                                # doctest: +SKIP
    >>> fig.savefig("frontier.png", dpi=150)                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import stats
from .style import styles

__all__ = ["frontier", "latency", "heatmap", "shares", "forest", "oracle_point", "new_axes", "place_labels"]

_SIM_NOTE = "simulated from catalog latency profiles"


def new_axes(ax: Axes | None, figsize: tuple[float, float], *, pyplot: bool = True) -> tuple[Figure, Axes]:
    """The figure and axes to draw into: ``ax``'s own, or a new figure.

    With ``pyplot=False`` the figure never touches pyplot (safe from a worker thread, used by the
    live dashboard); otherwise it is created through pyplot, so it picks up the notebook's inline
    settings, then detached so it is displayed once.
    """
    if ax is not None:
        fig = ax.get_figure()
        assert isinstance(fig, Figure)
        return fig, ax
    if pyplot:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize)
        plt.close(fig)
    else:
        fig = Figure(figsize=figsize)
    return fig, fig.add_subplot(1, 1, 1)


def _done(fig: Figure, pyplot: bool) -> Figure:
    # figures for PNG bytes are saved with bbox_inches="tight", which already fits the labels;
    # tight_layout would render the figure once more (the slowest step of a dashboard update)
    if pyplot:
        fig.tight_layout()
    return fig


def oracle_point(results: Any) -> tuple[float, float] | None:
    """(cost per 1k prompts, quality) of the per-prompt oracle over the strategies in ``results``.

    For each prompt the oracle takes the best-scoring realisable strategy's answer, the cheapest among
    ties (strategies that are oracles themselves, ``results.oracles``, are left out). It is an upper
    bound on what routing among these strategies can reach, not a strategy. ``None`` when there are
    fewer than two strategies or nothing is paired.
    """
    df = results.df
    df = df[(df["sample"] == 0) & (df["error_type"] == "") & ~df["strategy"].isin(results.oracles)]
    df = df.dropna(subset=["score"])
    if df["strategy"].nunique() < 2 or df.empty:
        return None
    best = df.sort_values(["prompt_id", "score", "cost"], ascending=[True, False, True], kind="stable")
    best = best.drop_duplicates("prompt_id")
    return 1000 * float(best["cost"].mean()), float(best["score"].mean())


def _frontier_table(results: Any) -> pd.DataFrame:
    """``summary()`` (with its ``pareto`` and ``oracle`` columns) plus a t interval of the cost per 1k."""
    s = results.summary().reset_index()
    ci = {name: stats.mean_interval(1000 * g["cost"].to_numpy(dtype=float), binary=False)
          for name, g in results.df.groupby("strategy", sort=False)}
    s["cost_lo"] = [ci[n][0] for n in s["strategy"]]
    s["cost_hi"] = [ci[n][1] for n in s["strategy"]]
    return s


def frontier(results: Any, *, ax: Axes | None = None, oracle: bool = True, highlight: str | None = None,
             budget: float | None = None, log_cost: bool | None = None, figsize: tuple[float, float] = (7.5, 5),
             pyplot: bool = True) -> Figure:
    """Cost (USD per 1k prompts) against quality, one point per strategy with 95 % CI bars.

    Each strategy has its own colour (:mod:`routerlab.viz.style`, the same in every plot) and a label
    joined to its point by a thin line, placed so labels overlap neither each other nor the points
    (adjustText). Strategies on the cost-quality Pareto frontier of the realisable strategies
    (``summary()["pareto"]``, see :meth:`~routerlab.harness.Results.pareto`) are filled markers joined by
    the frontier line; the others are hollow. The oracle is a star, an upper bound and never on the
    frontier: the results' oracle strategies (``results.oracles``, which read the answers) when there
    are any, else, with ``oracle=True``, the per-prompt best of the strategies (:func:`oracle_point`).
    ``highlight`` rings one strategy (the dashboard's recommendation) and ``budget`` draws a vertical
    budget line. The cost axis is logarithmic when costs span more than a factor of 30 (``log_cost``
    forces it either way).
    """
    fig, ax = new_axes(ax, figsize, pyplot=pyplot)
    if len(results.df) == 0:
        ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes)
        return fig
    s = _frontier_table(results).dropna(subset=["quality"])
    # an oracle strategy reads the answers: an upper bound to mark, not a point of the frontier
    is_oracle = s["oracle"].to_numpy(dtype=bool)
    oracles, s = s[is_oracle], s[~is_oracle].reset_index(drop=True)
    x, y = s["cost_per_1k"].to_numpy(dtype=float), s["quality"].to_numpy(dtype=float)
    xerr = np.vstack([np.clip(x - s["cost_lo"].fillna(s["cost_per_1k"]), 0, None),
                      np.clip(s["cost_hi"].fillna(s["cost_per_1k"]) - x, 0, None)])
    yerr = np.vstack([np.clip(y - s["quality_lo"].fillna(s["quality"]), 0, None),
                      np.clip(s["quality_hi"].fillna(s["quality"]) - y, 0, None)])
    on = s["pareto"].to_numpy(dtype=bool)
    names = [str(n) for n in s["strategy"]]
    look = styles([*names, *map(str, oracles["strategy"])])
    ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor="0.8", elinewidth=1, capsize=2, zorder=1)
    front = s[on].sort_values("cost_per_1k")
    if len(front) > 1:
        ax.step(front["cost_per_1k"], front["quality"], where="post", color="0.35", alpha=0.6, lw=1.2, zorder=2,
                label="Pareto frontier", gid="pareto-frontier")
    for i, name in enumerate(names):
        st = look[name]
        ax.plot([x[i]], [y[i]], ls="none", marker=st.marker, ms=7, mec=st.color, mew=1.6,
                mfc=st.color if on[i] else "white", zorder=3, gid=f"strategy:{name}")
    ax.plot([], [], ls="none", marker="o", mfc="0.4", mec="0.4", label="on the frontier (filled)")
    ax.plot([], [], ls="none", marker="o", mfc="white", mec="0.4", label="not on it (hollow); bars: 95% CI")
    if len(oracles):
        for _, r in oracles.iterrows():
            ax.plot([r["cost_per_1k"]], [r["quality"]], marker="*", ms=14, color=look[str(r["strategy"])].color,
                    ls="none", label=f"{r['strategy']} (upper bound, reads the answers)", zorder=3)
    elif oracle:
        pt = oracle_point(results)
        if pt is not None:
            ax.plot([pt[0]], [pt[1]], marker="*", ms=14, color="0.2", ls="none", label="oracle (per-prompt best)")
    if highlight is not None and highlight in set(names):
        i = names.index(highlight)
        ax.plot([x[i]], [y[i]], marker="o", ms=17, mfc="none", mec="#2ca02c", mew=2.5, ls="none", zorder=4,
                label=f"recommended: {highlight}")
    if budget is not None and np.isfinite(budget):
        ax.axvline(budget, color="C1", ls="--", lw=1, label=f"budget ${budget:,.2f}/1k")
    pos = x[x > 0]
    if log_cost is None:
        log_cost = len(pos) > 1 and pos.max() / pos.min() > 30
    if log_cost:
        ax.set_xscale("log")
    ax.set_xlabel("cost (USD per 1,000 prompts)")
    ax.set_ylabel("quality (mean score, 95% CI)")
    ax.set_title(f"Cost vs quality — {results.df['prompt_id'].nunique():,} prompts")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower right", framealpha=0.9)
    place_labels(ax, names, x, y, colors=[look[n].color for n in names])
    return _done(fig, pyplot)


def place_labels(ax: Axes, names: list[str], x: np.ndarray, y: np.ndarray, *,
                 colors: Sequence[str] | None = None, fontsize: float = 8) -> list[Any]:
    """Label points so that labels overlap neither each other nor the points, each joined to its point
    by a thin line (adjustText; identical points share one label). The layout of a set of points and
    axes limits is computed once and reused (a dashboard redraws the same points many times).
    Returns the text artists."""
    groups: dict[tuple[float, float], list[int]] = {}
    for i, (xi, yi) in enumerate(zip(x.tolist(), y.tolist())):
        groups.setdefault((xi, yi), []).append(i)
    ax.autoscale_view()
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    key = (tuple((k, tuple(names[i] for i in v)) for k, v in groups.items()), ax.get_xlim(), ax.get_ylim(),
           ax.get_xscale(), tuple(fig.get_size_inches()), fontsize)
    texts = []
    for (xi, yi), idx in groups.items():
        color = colors[idx[0]] if colors is not None else "black"
        texts.append(ax.text(xi, yi, " = ".join(names[i] for i in idx), fontsize=fontsize, color=color,
                             ha="left", va="bottom", zorder=5,
                             bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.7}))
    placed = _LAYOUTS.get(key)
    if placed is None:
        placed = _adjust(ax, texts, x, y)
        if len(_LAYOUTS) > 64:
            _LAYOUTS.clear()
        _LAYOUTS[key] = placed
    for t, (px, py), (xi, yi) in zip(texts, placed, groups):
        t.set_position((px, py))
        ax.annotate("", xy=(xi, yi), xytext=(px, py), arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.6,
                                                                   "shrinkA": 0, "shrinkB": 3}, zorder=4)
    return texts


_LAYOUTS: dict[Any, list[tuple[float, float]]] = {}


def _adjust(ax: Axes, texts: list[Any], x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
    """adjustText's positions for ``texts`` (data coordinates), away from the points ``x``, ``y``."""
    from adjustText import adjust_text

    if len(texts) > 1:
        # the points are obstacles too (static), pushed harder than the default so a label never sits on one
        adjust_text(texts, x=x, y=y, ax=ax, expand=(1.2, 1.6), force_static=(0.4, 0.8), force_text=(0.3, 0.5),
                    ensure_inside_axes=True, iter_lim=400)
    return [tuple(map(float, t.get_position())) for t in texts]  # type: ignore[misc]


def latency(results: Any, *, ax: Axes | None = None, strategies: Sequence[str] | None = None,
            figsize: tuple[float, float] = (7.5, 4.5), pyplot: bool = True) -> Figure:
    """Empirical CDF of latency per strategy with p50 (circle) and p95 (triangle) marked.

    Cache hits and failed calls are left out, as in ``summary()``. Latencies drawn from catalog
    profiles (replay) are labelled "simulated" in the title and axis.
    """
    fig, ax = new_axes(ax, figsize, pyplot=pyplot)
    df = results.df
    ok = df[(df["error_type"] == "") & ~df["cached"]].dropna(subset=["latency"])
    names = list(strategies) if strategies is not None else results.strategies
    look = styles(names)
    for name in names:
        lat = np.sort(ok.loc[ok["strategy"] == name, "latency"].to_numpy(dtype=float))
        if not len(lat):
            continue
        st = look[name]
        ax.plot(lat, np.arange(1, len(lat) + 1) / len(lat), color=st.color, ls=st.linestyle, lw=1.4, label=name)
        p50, p95 = np.percentile(lat, [50, 95])
        ax.plot([p50], [0.5], "o", color=st.color, ms=5)
        ax.plot([p95], [0.95], "^", color=st.color, ms=6)
    sim = bool(ok["simulated_latency"].any())
    ax.axhline(0.5, color="0.8", lw=0.8, ls=":")
    ax.axhline(0.95, color="0.8", lw=0.8, ls=":")
    if len(ok) and (ok["latency"] > 0).all() and ok["latency"].max() / max(ok["latency"].min(), 1e-9) > 100:
        ax.set_xscale("log")
    ax.set_xlabel("latency (s)" + (f" — {_SIM_NOTE}" if sim else ", measured"))
    ax.set_ylabel("share of requests ≤ x")
    ax.set_title("Latency CDF (● p50, ▲ p95)" + (" — SIMULATED" if sim else ""))
    ax.grid(alpha=0.3)
    # outside the axes: a dozen strategies would cover the curves
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _done(fig, pyplot)


def heatmap(results: Any, *, ax: Axes | None = None, figsize: tuple[float, float] | None = None,
            pyplot: bool = True) -> Figure:
    """Mean quality per task (rows) × strategy (columns), annotated, best strategy per task boxed (an oracle,
    an upper bound, is shown but never boxed: its column label says "(bound)")."""
    if len(results.df) == 0:
        fig, ax = new_axes(ax, figsize or (6, 3), pyplot=pyplot)
        ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes)
        return fig
    s = results.summary(by="task")["quality"].unstack("strategy")
    s = s[[c for c in results.strategies if c in s.columns]]
    # about 1.1 inch per cell: the numbers are set at 11 pt and stay readable in a report
    size = figsize or (max(6.0, 1.1 * s.shape[1] + 2.5), max(3.0, 0.9 * s.shape[0] + 2.2))
    fig, ax = new_axes(ax, size, pyplot=pyplot)
    im = ax.imshow(s.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    bound = np.array([c in set(results.oracles) for c in s.columns])  # upper bounds are never "best"
    for i in range(s.shape[0]):
        row = s.iloc[i].to_numpy(dtype=float)
        real = np.where(bound, np.nan, row)
        best = int(np.nanargmax(real)) if np.isfinite(real).any() else -1
        for j, v in enumerate(row):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=11,
                        color="black" if v > 0.6 else "white", fontweight="bold" if j == best else "normal")
        if best >= 0:
            ax.add_patch(_rect(best - 0.5, i - 0.5))
    ax.set_xticks(range(s.shape[1]), [f"{c} (bound)" if b else str(c) for c, b in zip(s.columns, bound)],
                  rotation=35, ha="right", fontsize=10)
    ax.set_yticks(range(s.shape[0]), [str(t) for t in s.index], fontsize=10)
    ax.set_title("Quality by task (boxed, bold: best realisable strategy per task)", fontsize=12)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="quality")
    return _done(fig, pyplot)


def _rect(x: float, y: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1, 1, fill=False, ec="red", lw=1.5)


def shares(results: Any, *, ax: Axes | None = None, figsize: tuple[float, float] | None = None,
           pyplot: bool = True) -> Figure:
    """Share of answered calls per model, one horizontal stacked bar per strategy."""
    tab = results.shares()
    size = figsize or (7.5, max(2.5, 0.45 * max(len(tab), 1) + 1.6))
    fig, ax = new_axes(ax, size, pyplot=pyplot)
    if tab.empty:
        ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes)
        return fig
    tab = tab.loc[:, tab.sum().sort_values(ascending=False).index]
    left = np.zeros(len(tab))
    look = styles(str(m) for m in tab.columns)
    for model in tab.columns:
        v = tab[model].to_numpy(dtype=float)
        ax.barh(range(len(tab)), v, left=left, color=look[str(model)].color, label=str(model), edgecolor="white",
                lw=0.5)
        for i, (l0, w) in enumerate(zip(left, v)):
            if w >= 0.08:
                ax.text(l0 + w / 2, i, f"{w:.0%}", ha="center", va="center", fontsize=7, color="white")
        left += v
    ax.set_yticks(range(len(tab)), [str(i) for i in tab.index], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(_pct())
    ax.set_xlabel("share of calls answered by each model")
    ax.set_title("Which model answers, per strategy")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _done(fig, pyplot)


def _pct() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0)


def _forest_frame(tests: Any) -> pd.DataFrame:
    """Normalise ``compare_many`` output (a DataFrame, or a list of ABResult-like objects)."""
    if isinstance(tests, pd.DataFrame):
        df = tests.copy()
    else:
        rows = []
        for t in tests:
            ci = getattr(t, "ci", (np.nan, np.nan))
            rows.append({"a": getattr(t, "a", ""), "b": getattr(t, "b", ""), "estimate": getattr(t, "estimate", np.nan),
                         "ci_lo": ci[0], "ci_hi": ci[1], "p": getattr(t, "p", getattr(t, "p_value", np.nan)),
                         "p_adj": getattr(t, "p_adj", np.nan), "metric": getattr(t, "metric", "")})
        df = pd.DataFrame(rows)
    alias = {"ci_low": "ci_lo", "lo": "ci_lo", "ci_lower": "ci_lo", "ci_high": "ci_hi", "hi": "ci_hi",
             "ci_upper": "ci_hi", "diff": "estimate", "delta": "estimate", "p_value": "p",
             "p_adjusted": "p_adj", "adj_p": "p_adj", "p_value_adj": "p_adj"}
    df = df.rename(columns={k: v for k, v in alias.items() if k in df.columns and v not in df.columns})
    if "ci" in df.columns and "ci_lo" not in df.columns:
        df["ci_lo"] = [c[0] for c in df["ci"]]
        df["ci_hi"] = [c[1] for c in df["ci"]]
    missing = [c for c in ("estimate", "ci_lo", "ci_hi") if c not in df.columns]
    if missing:
        raise ValueError(f"forest plot needs columns estimate, ci_lo, ci_hi; missing {missing} "
                         f"(got {list(df.columns)})")
    if "label" not in df.columns:
        if {"a", "b"} <= set(df.columns):
            df["label"] = [f"{b} vs {a}" for a, b in zip(df["a"], df["b"])]
        elif "comparison" in df.columns:
            df["label"] = df["comparison"].astype(str)
        else:
            df["label"] = [str(i) if not isinstance(i, tuple) else " vs ".join(map(str, i)) for i in df.index]
    return df.reset_index(drop=True)


def forest(tests: Any, *, ax: Axes | None = None, alpha: float = 0.05, metric: str | None = None,
           figsize: tuple[float, float] | None = None, pyplot: bool = True) -> Figure:
    """A forest plot of A/B tests: one row per comparison, estimate with its CI, adjusted p-value.

    ``tests`` is the DataFrame from :func:`routerlab.stats.compare_many` (columns ``estimate``,
    ``ci_lo``, ``ci_hi`` and ``p_adj`` or ``p``; common aliases accepted) or a list of ABResults.
    Rows whose (adjusted) p-value is below ``alpha`` are drawn in colour.
    """
    df = _forest_frame(tests)
    size = figsize or (7.5, max(2.2, 0.42 * len(df) + 1.4))
    fig, ax = new_axes(ax, size, pyplot=pyplot)
    pcol = "p_adj" if "p_adj" in df.columns and df["p_adj"].notna().any() else ("p" if "p" in df.columns else None)
    y = np.arange(len(df))
    for i, r in df.iterrows():
        p = float(r[pcol]) if pcol else np.nan
        sig = np.isfinite(p) and p < alpha
        color = ("C2" if r["estimate"] > 0 else "C3") if sig else "0.45"
        ax.plot([r["ci_lo"], r["ci_hi"]], [i, i], color=color, lw=2)
        ax.plot([r["estimate"]], [i], "s", color=color, ms=6)
        if pcol:
            ax.annotate(f"{'p_adj' if pcol == 'p_adj' else 'p'}{_fmt_p(p)}", (1.01, i),
                        xycoords=("axes fraction", "data"), va="center", fontsize=8, color=color)
    ax.axvline(0, color="0.3", lw=0.8, ls="--")
    ax.set_yticks(y, df["label"].tolist(), fontsize=8)
    ax.invert_yaxis()
    m = metric or (str(df["metric"].iloc[0]) if "metric" in df.columns and len(df) else "difference")
    ax.set_xlabel(f"{m}: estimate (B − A) with CI")
    ax.set_title("A/B tests" + (" (p-values adjusted for multiple comparisons)" if pcol == "p_adj" else ""))
    ax.grid(axis="x", alpha=0.3)
    return _done(fig, pyplot)


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "=—"
    return "<0.001" if p < 0.001 else f"={p:.3f}"
