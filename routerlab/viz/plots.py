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

__all__ = ["frontier", "latency", "heatmap", "shares", "forest", "oracle_point", "new_axes"]

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

    The cost-quality Pareto frontier of the realisable strategies (``summary()["pareto"]``, see
    :meth:`~routerlab.harness.Results.pareto`) is drawn as a line through its strategies; the oracle is
    a star, an upper bound and never on the frontier: the results' oracle strategies
    (``results.oracles``, which read the answers) when there are any, else, with ``oracle=True``, the
    per-prompt best of the strategies (:func:`oracle_point`). ``highlight`` rings one strategy (the
    dashboard's recommendation) and ``budget`` draws a vertical budget line. The cost axis is logarithmic when
    costs span more than a factor of 30 (``log_cost`` forces it either way).
    """
    fig, ax = new_axes(ax, figsize, pyplot=pyplot)
    if len(results.df) == 0:
        ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes)
        return fig
    s = _frontier_table(results)
    s = s.dropna(subset=["quality"])
    # an oracle strategy reads the answers: an upper bound to mark, not a point of the frontier
    is_oracle = s["oracle"].to_numpy(dtype=bool)
    oracles, s = s[is_oracle], s[~is_oracle].reset_index(drop=True)
    x, y = s["cost_per_1k"].to_numpy(), s["quality"].to_numpy()
    xerr = np.vstack([np.clip(x - s["cost_lo"].fillna(s["cost_per_1k"]), 0, None),
                      np.clip(s["cost_hi"].fillna(s["cost_per_1k"]) - x, 0, None)])
    yerr = np.vstack([np.clip(y - s["quality_lo"].fillna(s["quality"]), 0, None),
                      np.clip(s["quality_hi"].fillna(s["quality"]) - y, 0, None)])
    on = s["pareto"].to_numpy(dtype=bool)
    ax.errorbar(x[~on], y[~on], xerr=xerr[:, ~on], yerr=yerr[:, ~on], fmt="o", color="0.55", ecolor="0.75",
                capsize=2, label="strategy (95% CI)")
    ax.errorbar(x[on], y[on], xerr=xerr[:, on], yerr=yerr[:, on], fmt="o", color="C0", ecolor="C0",
                capsize=2, label="on the Pareto frontier")
    front = s[on].sort_values("cost_per_1k")
    if len(front) > 1:
        ax.step(front["cost_per_1k"], front["quality"], where="post", color="C0", alpha=0.6, lw=1.5)
    if len(oracles):
        for _, r in oracles.iterrows():
            ax.plot([r["cost_per_1k"]], [r["quality"]], marker="*", ms=14, color="C3", ls="none",
                    label=f"{r['strategy']} (upper bound, reads the answers)")
    elif oracle:
        pt = oracle_point(results)
        if pt is not None:
            ax.plot([pt[0]], [pt[1]], marker="*", ms=14, color="C3", ls="none", label="oracle (per-prompt best)")
    if highlight is not None and highlight in set(s["strategy"]):
        r = s[s["strategy"] == highlight].iloc[0]
        ax.plot([r["cost_per_1k"]], [r["quality"]], marker="o", ms=16, mfc="none", mec="C2", mew=2.5,
                ls="none", label=f"recommended: {highlight}")
    if budget is not None and np.isfinite(budget):
        ax.axvline(budget, color="C1", ls="--", lw=1, label=f"budget ${budget:,.2f}/1k")
    pos = x[x > 0]
    if log_cost is None:
        log_cost = len(pos) > 1 and pos.max() / pos.min() > 30
    if log_cost:
        ax.set_xscale("log")
    _place_labels(ax, [str(n) for n in s["strategy"]], x, y)
    ax.set_xlabel("cost (USD per 1,000 prompts)")
    ax.set_ylabel("quality (mean score, 95% CI)")
    ax.set_title(f"Cost vs quality — {results.df['prompt_id'].nunique():,} prompts")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _done(fig, pyplot)


_OFFSETS = [(5, 3, "left"), (5, -10, "left"), (-5, 3, "right"), (-5, -10, "right"), (5, 12, "left"),
            (-5, 12, "right"), (5, -19, "left"), (-5, -19, "right")]


def _place_labels(ax: Axes, names: list[str], x: np.ndarray, y: np.ndarray) -> None:
    """Strategy labels that do not sit on each other: identical points share one label; each label
    takes the first spot around its marker whose (estimated) box overlaps no label placed before."""
    ax.autoscale_view()
    groups: dict[tuple[float, float], list[str]] = {}
    for n, xi, yi in zip(names, x, y):
        groups.setdefault((float(xi), float(yi)), []).append(n)
    fig = ax.get_figure()
    assert fig is not None
    bbox = ax.get_window_extent()
    px = fig.dpi / 72.0  # pixels per point
    char_w, line_h = 4.9 * px, 9.5 * px  # 8 pt text, estimated
    boxes: list[tuple[float, float, float, float]] = []
    for (xi, yi), ns in sorted(groups.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
        label = " = ".join(ns)
        X, Y = ax.transData.transform((xi, yi))
        w = char_w * len(label)
        choice = _OFFSETS[0]
        for dx, dy, ha in _OFFSETS:
            x0 = X + dx * px - (w if ha == "right" else 0)
            y0 = Y + dy * px
            box = (x0, y0, x0 + w, y0 + line_h)
            inside = box[0] >= bbox.x0 - 2 and box[2] <= bbox.x1 + 2
            if inside and not any(b[0] < box[2] and box[0] < b[2] and b[1] < box[3] and box[1] < b[3]
                                  for b in boxes):
                choice = (dx, dy, ha)
                break
        dx, dy, ha = choice
        x0 = X + dx * px - (w if ha == "right" else 0)
        boxes.append((x0, Y + dy * px, x0 + w, Y + dy * px + line_h))
        ax.annotate(label, (xi, yi), xytext=(dx, dy), textcoords="offset points", fontsize=8, ha=ha)


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
    for i, name in enumerate(names):
        lat = np.sort(ok.loc[ok["strategy"] == name, "latency"].to_numpy(dtype=float))
        if not len(lat):
            continue
        color = f"C{i % 10}"
        ax.plot(lat, np.arange(1, len(lat) + 1) / len(lat), color=color, lw=1.3, label=name)
        p50, p95 = np.percentile(lat, [50, 95])
        ax.plot([p50], [0.5], "o", color=color, ms=5)
        ax.plot([p95], [0.95], "^", color=color, ms=6)
    sim = bool(ok["simulated_latency"].any())
    ax.axhline(0.5, color="0.8", lw=0.8, ls=":")
    ax.axhline(0.95, color="0.8", lw=0.8, ls=":")
    if len(ok) and (ok["latency"] > 0).all() and ok["latency"].max() / max(ok["latency"].min(), 1e-9) > 100:
        ax.set_xscale("log")
    ax.set_xlabel("latency (s)" + (f" — {_SIM_NOTE}" if sim else ", measured"))
    ax.set_ylabel("share of requests ≤ x")
    ax.set_title("Latency CDF (● p50, ▲ p95)" + (" — SIMULATED" if sim else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _done(fig, pyplot)


def heatmap(results: Any, *, ax: Axes | None = None, figsize: tuple[float, float] | None = None,
            pyplot: bool = True) -> Figure:
    """Mean quality per task (rows) × strategy (columns), annotated, best strategy per task boxed."""
    if len(results.df) == 0:
        fig, ax = new_axes(ax, figsize or (6, 3), pyplot=pyplot)
        ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes)
        return fig
    s = results.summary(by="task")["quality"].unstack("strategy")
    s = s[[c for c in results.strategies if c in s.columns]]
    size = figsize or (max(5.0, 0.9 * s.shape[1] + 2.5), max(2.5, 0.6 * s.shape[0] + 1.8))
    fig, ax = new_axes(ax, size, pyplot=pyplot)
    im = ax.imshow(s.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(s.shape[0]):
        row = s.iloc[i].to_numpy(dtype=float)
        best = int(np.nanargmax(row)) if np.isfinite(row).any() else -1
        for j, v in enumerate(row):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8,
                        color="black" if v > 0.6 else "white", fontweight="bold" if j == best else "normal")
        if best >= 0:
            ax.add_patch(_rect(best - 0.5, i - 0.5))
    ax.set_xticks(range(s.shape[1]), [str(c) for c in s.columns], rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(s.shape[0]), [str(t) for t in s.index], fontsize=8)
    ax.set_title("Quality by task (boxed: best per task)")
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
    cmap = _cmap(tab.shape[1])
    for j, model in enumerate(tab.columns):
        v = tab[model].to_numpy(dtype=float)
        ax.barh(range(len(tab)), v, left=left, color=cmap[j], label=str(model), edgecolor="white", lw=0.5)
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


def _cmap(n: int) -> list[Any]:
    import matplotlib

    cm = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cm(i % cm.N) for i in range(n)]


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
