"""The trade-off dashboard: "which strategy should I use?", answered live as constraints move.

:class:`Dashboard` (``Results.dashboard()``) shows sliders for a cost budget (USD per 1,000 prompts),
a p95 latency objective and a quality floor, pickers for the tasks included and the strategies
shown, a non-inferiority margin, the recommendation (:meth:`routerlab.harness.Results.recommend`: the
cheapest strategy that meets the constraints and is non-inferior to the best feasible one) with its
numbers and the paired test behind it, the frontier plot, the summary table and an export button. Where widgets cannot render (nbviewer, GitHub, a plain
console) the same object displays as a static HTML table with the plot inlined as a PNG.

:func:`live_dashboard` is what ``Experiment.run(dashboard=True)`` uses to show progress and fill the
plot while results arrive.

Example::

    >>> dash = res.dashboard(budget=1.0, margin=0.03)         # doctest: +SKIP
    >>> dash.recommended                                      # doctest: +SKIP
    'cascade-agreement'
    >>> dash.export("routing_table.json")                     # doctest: +SKIP
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..harness.recommend import DEFAULT_ALPHA, DEFAULT_MARGIN, Recommendation, recommend, score_matrix
from . import figure_png
from .plots import frontier

__all__ = ["Dashboard", "Recommendation", "recommend", "live_dashboard", "nice_step"]


def nice_step(span: float, steps: int = 500) -> float:
    """A round slider step (1, 2 or 5 × 10^k) giving about ``steps`` steps over ``span``."""
    if not span > 0 or not math.isfinite(span):
        return 0.01
    raw = span / steps
    k = 10 ** math.floor(math.log10(raw))
    return next(m * k for m in (1, 2, 5, 10) if m * k >= raw)


def _ceil_to(x: float, step: float) -> float:
    # a hair above x on the step grid, so the slider's own snapping cannot drop below x
    return round(math.ceil(x / step - 1e-9) * step, 10)


# ---------------------------------------------------------------------------------- dashboard
def _widgets() -> Any:
    try:
        import ipywidgets

        return ipywidgets
    except ImportError:
        return None


class Dashboard:
    """Interactive trade-off dashboard over a Results table.

    Parameters
    ----------
    results: the experiment's Results.
    budget: initial budget in USD per 1,000 prompts; default: the cost of the strategy that is best
        with no budget, so moving the slider down changes the answer.
    latency_p95: initial p95 latency objective in seconds (default: no constraint).
    quality_floor: initial minimum quality (default 0).
    margin: initial non-inferiority margin in score units (default 0.02, two points of accuracy: the
        quality a cheaper strategy may be shown not to lose; a slider from 0 to 0.10); ``alpha``: the
        one-sided level of that paired test (default 0.05), shown in the text.
    tasks, strategies: initially included tasks and shown strategies (default: all).
    export_dir: where the export button writes the routing table.
    never_recommend: strategies shown but never recommended, besides the oracles (``results.oracles``,
        upper bounds that read the answers), which never are.
    widgets: ``False`` forces the static view; ``None`` uses ipywidgets when importable.
    """

    def __init__(self, results: Any, *, budget: float | None = None, latency_p95: float | None = None,
                 quality_floor: float = 0.0, margin: float = DEFAULT_MARGIN, alpha: float = DEFAULT_ALPHA,
                 tasks: Sequence[str] | None = None,
                 strategies: Sequence[str] | None = None, export_dir: str | Path = ".",
                 never_recommend: Sequence[str] | None = None, widgets: bool | None = None) -> None:
        self.results = results
        self.never_recommend = list(dict.fromkeys([*results.oracles, *(never_recommend or ())]))
        self.all_tasks = sorted(results.df["task"].unique().tolist())
        self.all_strategies = list(results.strategies)
        self.tasks = list(tasks) if tasks is not None else list(self.all_tasks)
        self.strategies = list(strategies) if strategies is not None else list(self.all_strategies)
        self.export_dir = Path(export_dir)
        self._summaries: dict[tuple[tuple[str, ...], tuple[str, ...]], pd.DataFrame] = {}
        self._scores: dict[tuple[str, ...], pd.DataFrame] = {}
        self._canvases: dict[tuple[Any, ...], Any] = {}
        self.margin, self.alpha = float(margin), float(alpha)
        full = self._summary()
        costs = full["cost_per_1k"].replace([np.inf, -np.inf], np.nan).dropna()
        p95s = full["latency_p95"].replace([np.inf, -np.inf], np.nan).dropna()
        self.budget_max = float(costs.max() * 1.05) if len(costs) else 1.0
        self.budget_step = nice_step(self.budget_max)
        self.budget_max = _ceil_to(self.budget_max, self.budget_step)
        self.latency_max = float(math.ceil(p95s.max() * 1.05 * 10) / 10) if len(p95s) else 10.0
        if budget is None:  # the recommendation's own cost: moving the slider down changes the answer
            self.budget, self.latency_p95, self.quality_floor = self.budget_max, self.latency_max, 0.0
            best = self._recommend().strategy
            budget = float(full.loc[best, "cost_per_1k"]) if best is not None else self.budget_max
            budget = min(_ceil_to(budget, self.budget_step), self.budget_max)
        self.budget = float(budget)
        self.latency_p95 = float(latency_p95) if latency_p95 is not None else self.latency_max
        self.quality_floor = float(quality_floor)
        self.last_export: Path | None = None
        self.export_note = ""
        self.rec = self._recommend()
        w = _widgets() if widgets is not False else None
        self.widget = self._build(w) if w is not None else None
        if self.widget is not None:
            self.update()

    # ------------------------------------------------------------------ state
    def _selected(self) -> Any:
        tasks = [t for t in self.tasks if t in self.all_tasks]
        strategies = [s for s in self.strategies if s in self.all_strategies]
        return self.results.select(strategies=strategies or None, tasks=tasks or None)

    def _summary(self) -> pd.DataFrame:
        """``summary()`` of the shown strategies on the included tasks (its ``pareto`` column is the
        frontier among them, as in the plot), in the order of ``strategies``."""
        shown = [x for x in self.strategies if x in self.all_strategies]
        key = (tuple(sorted(self.tasks)), tuple(shown))
        if key not in self._summaries:
            sel = self._selected()
            self._summaries[key] = sel.summary() if len(sel.df) else pd.DataFrame()
        s = self._summaries[key]
        return s.loc[[x for x in shown if x in s.index]] if len(s) else s

    def _score_matrix(self) -> pd.DataFrame:
        """Per-prompt scores of the included tasks (what the paired tests compare), computed once per selection."""
        key = tuple(sorted(self.tasks))
        if key not in self._scores:
            self._scores[key] = score_matrix(self.results.select(tasks=list(key) or None))
        return self._scores[key]

    def _recommend(self) -> Recommendation:
        s = self._summary()
        if s.empty:
            return Recommendation(None, None, self.margin, self.alpha, s.assign(eligible=[], why_not=[]), {},
                                  "No results for this selection.")
        lat = None if self.latency_p95 >= self.latency_max else self.latency_p95
        return recommend(self.results, budget=self.budget, max_latency=lat, quality_floor=self.quality_floor or None,
                         margin=self.margin, alpha=self.alpha, exclude=self.never_recommend, summary=s,
                         scores=self._score_matrix())

    @property
    def recommended(self) -> str | None:
        """The strategy recommended under the current controls (``None`` if nothing qualifies)."""
        return self.rec.strategy

    def set(self, **controls: Any) -> Dashboard:
        """Change controls from code (``budget``, ``latency_p95``, ``quality_floor``, ``margin``, ``tasks``,
        ``strategies``) and refresh; the widgets follow."""
        for k, v in controls.items():
            if k not in ("budget", "latency_p95", "quality_floor", "margin", "tasks", "strategies"):
                raise TypeError(f"unknown control {k!r}")
            setattr(self, k, list(v) if k in ("tasks", "strategies") else float(v))
        if self.widget is not None:
            self._sync_widgets()
        self.update()
        return self

    # ------------------------------------------------------------------ text
    def recommendation_html(self) -> str:
        """The answer to "which strategy should I use?": the recommendation's numbers, its one-sentence
        reason (with the quality it may lose) and the paired test behind it (the same test: they agree)."""
        rec, s = self.rec, self.rec.table
        if rec.strategy is None:
            return f"<div class='routerlab-rec'><b>{escape(rec.reason)}</b></div>"
        r = s.loc[rec.strategy]
        sim = " (simulated)" if bool(r.get("simulated_latency", False)) else ""
        return (f"<div class='routerlab-rec'><b>Use <code>{escape(rec.strategy)}</code></b>: quality "
                f"{r['quality']:.3f} [{r['quality_lo']:.3f}, {r['quality_hi']:.3f}] (95% CI), "
                f"${r['cost_per_1k']:,.3f} per 1k prompts, p95 latency {r['latency_p95']:.2f} s{sim}."
                f"<br>Why: {escape(rec.reason.split(': ', 1)[1])}"
                f"<br><span class='routerlab-ab'>Paired test: {escape(rec.ab_text())}</span></div>")

    def table_html(self) -> str:
        """The summary table of the shown strategies, the recommended one highlighted."""
        s = self.rec.table
        if s.empty:
            return "<p>no results</p>"
        rows = []
        for name, r in s.sort_values(["quality", "cost_per_1k"], ascending=[False, True]).iterrows():
            style = " style='background:#e6f4ea;font-weight:bold'" if name == self.rec.strategy else ""
            status = "✓" if r["eligible"] else f"✗ {escape(r['why_not'])}"
            rows.append(f"<tr{style}><td style='text-align:left'>{escape(str(name))}</td>"
                        f"<td>{r['quality']:.3f}</td><td>[{r['quality_lo']:.3f}, {r['quality_hi']:.3f}]</td>"
                        f"<td>${r['cost_per_1k']:,.3f}</td><td>{r['latency_p50']:.2f}</td>"
                        f"<td>{r['latency_p95']:.2f}</td><td>{r['error_rate']:.1%}</td>"
                        f"<td>{'bound' if r['oracle'] else '★' if r['pareto'] else ''}</td>"
                        f"<td>{_ni_cell(str(name), r, self.rec)}</td>"
                        f"<td style='text-align:left'>{status}</td></tr>")
        sim = " (simulated)" if bool(s["simulated_latency"].any()) else ""
        head = ("<tr><th>strategy</th><th>quality</th><th>95% CI</th><th>$/1k prompts</th>"
                f"<th>p50 s{sim}</th><th>p95 s{sim}</th><th>errors</th><th>Pareto</th>"
                f"<th>vs best: lower bound (margin {self.margin:.3f})</th><th>meets constraints</th></tr>")
        return f"<table class='routerlab-table' style='white-space:nowrap'>{head}{''.join(rows)}</table>{self.curves_html()}"

    def curves_html(self) -> str:
        """The learned strategies' whole curves (plot) and AIQ / APGR / CPT with 95% CIs, when the
        results carry curves (:meth:`Results.with_curves`); empty otherwise. Drawn once."""
        curves = getattr(self.results, "curves", None)
        if curves is None:
            return ""
        cached = getattr(self, "_curves_html", None)
        if cached is None:
            from .curves import plot_curves

            png = base64.b64encode(figure_png(plot_curves(curves, pyplot=False, figsize=(7.5, 4.2)))).decode()
            m = curves.metrics
            rows = "".join(
                f"<tr><td style='text-align:left'>{escape(str(name))}</td>"
                + "".join(f"<td>{r[k]:.3f} [{r[k + '_lo']:.3f}, {r[k + '_hi']:.3f}]</td>"
                          for k in ("aiq", "apgr", "cpt50", "cpt80")) + "</tr>"
                for name, r in m.iterrows())
            cached = (f"<h4 style='margin:8px 0 4px'>Cost-quality curves on {curves.n} held-out prompts</h4>"
                      f"<img src='data:image/png;base64,{png}' alt='cost-quality curves' style='max-width:760px'/>"
                      f"<table class='routerlab-table'><tr><th>strategy</th><th>AIQ</th><th>APGR</th>"
                      f"<th>CPT(50%)</th><th>CPT(80%)</th></tr>{rows}</table>"
                      f"<p style='font-size:85%'>APGR / CPT between {escape(curves.weak)} (weak) and "
                      f"{escape(curves.strong)} (strong); CPT as a share of their cost gap; 95% bootstrap CIs.</p>")
            self._curves_html = cached
        return cached

    def figure(self, pyplot: bool = False) -> Any:
        """The frontier plot of the shown strategies, the recommendation ringed, the budget drawn."""
        return frontier(self._selected(), highlight=self.rec.strategy, budget=self.budget, pyplot=pyplot,
                        figsize=(7.5, 4.6))

    # ------------------------------------------------------------------ export
    def export(self, path: str | Path | None = None) -> Path:
        """Write the recommended strategy's routing table and return its path.

        The routerlab JSON routing table (:meth:`routerlab.harness.Results.routing_table`, what
        ``routerlab.runtime.Router`` loads); where that cannot be built (models the catalog does not
        know), a JSON file with the strategy's per-task model shares and its summary numbers.
        """
        name = self.rec.strategy
        if name is None:
            raise ValueError("nothing to export: no strategy meets the constraints")
        path = Path(path) if path is not None else self.export_dir / f"routing_table_{_slug(name)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        sel = self.results.select(strategies=[name], tasks=self.tasks)
        self.export_note = ""
        try:
            doc = sel.routing_table(name).to_document()
        except Exception as exc:  # noqa: BLE001 - e.g. models unknown to the catalog: keep the shares
            self.export_note = f"not a production routing table ({exc}); wrote per-task model shares"
            self.last_export = _fallback_export(sel, name, path, self.rec.table.loc[name])
        else:
            path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
            self.last_export = path
        return self.last_export

    # ------------------------------------------------------------------ widgets
    def _build(self, w: Any) -> Any:
        style = {"description_width": "200px"}
        wide = w.Layout(width="560px")
        self.budget_slider = w.FloatSlider(value=self.budget, min=0.0, max=self.budget_max, step=self.budget_step,
                                           description="Budget (USD per 1k prompts)", readout_format=".2f",
                                           continuous_update=False, style=style, layout=wide)
        self.latency_slider = w.FloatSlider(value=self.latency_p95, min=0.0, max=self.latency_max, step=0.1,
                                            description="p95 latency objective (s)", readout_format=".1f",
                                            continuous_update=False, style=style, layout=wide)
        self.floor_slider = w.FloatSlider(value=self.quality_floor, min=0.0, max=1.0, step=0.01,
                                          description="Quality floor", readout_format=".2f",
                                          continuous_update=False, style=style, layout=wide)
        self.margin_slider = w.FloatSlider(value=self.margin, min=0.0, max=max(0.10, self.margin), step=0.005,
                                           description="Non-inferiority margin", readout_format=".3f",
                                           continuous_update=False, style=style, layout=wide,
                                           tooltip="the quality a cheaper strategy may be shown not to lose "
                                                   "(score units; default 0.02)")
        self.tasks_select = w.SelectMultiple(options=self.all_tasks, value=tuple(self.tasks), description="Tasks", style={"description_width": "50px"},
                                             rows=min(6, max(2, len(self.all_tasks))))
        self.strategies_select = w.SelectMultiple(options=self.all_strategies, value=tuple(self.strategies),
                                                  description="Strategies", style={"description_width": "70px"},
                                                  rows=min(10, max(2, len(self.all_strategies))))
        self.rec_html = w.HTML()
        self.plot_image = w.Image(format="png", layout=w.Layout(max_width="760px"))
        self.table_view = w.HTML()
        self.export_button = w.Button(description="Export routing table", icon="download", button_style="primary",
                                      layout=w.Layout(width="220px"))
        self.export_label = w.HTML()
        self._syncing = False

        def on_change(_: Any) -> None:
            if self._syncing:
                return
            self.budget = float(self.budget_slider.value)
            self.latency_p95 = float(self.latency_slider.value)
            self.quality_floor = float(self.floor_slider.value)
            self.margin = float(self.margin_slider.value)
            self.tasks = list(self.tasks_select.value)
            self.strategies = list(self.strategies_select.value)
            self.update()

        for c in (self.budget_slider, self.latency_slider, self.floor_slider, self.margin_slider, self.tasks_select,
                  self.strategies_select):
            c.observe(on_change, names="value")

        def on_export(_: Any) -> None:
            try:
                p = self.export()
                note = f" <i>({escape(self.export_note)})</i>" if self.export_note else ""
                self.export_label.value = f"wrote <code>{escape(str(p.resolve()))}</code>{note}"
            except Exception as exc:  # noqa: BLE001 - show the problem in the dashboard, do not raise into the void
                self.export_label.value = f"<span style='color:#b00'>export failed: {escape(str(exc))}</span>"

        self.export_button.on_click(on_export)
        controls = w.VBox([self.budget_slider, self.latency_slider, self.floor_slider, self.margin_slider],
                          layout=w.Layout(flex="0 0 auto", width="580px", overflow="visible"))
        pickers = w.HBox([self.tasks_select, self.strategies_select], layout=w.Layout(margin="0 0 0 24px"))
        title = w.HTML("<h3 style='margin:4px 0'>routerlab — which strategy should I use?</h3>")
        return w.VBox([title, w.HBox([controls, pickers]), self.rec_html, self.plot_image, self.table_view,
                       w.HBox([self.export_button, self.export_label])],
                      layout=w.Layout(border="1px solid #ddd", padding="6px"))

    def _sync_widgets(self) -> None:
        self._syncing = True
        try:
            self.budget_slider.value = self.budget
            self.latency_slider.value = self.latency_p95
            self.floor_slider.value = self.quality_floor
            self.margin_slider.value = self.margin
            self.tasks_select.value = tuple(self.tasks)
            self.strategies_select.value = tuple(self.strategies)
        finally:
            self._syncing = False

    def plot_png(self) -> bytes:
        """The plot as PNG: the frontier of the current selection, drawn once per selection
        (:class:`~routerlab.viz.blit.FrontierCanvas`), with the budget line and the ring drawn on top."""
        from .blit import FrontierCanvas

        key = (tuple(sorted(self.tasks)), tuple(self.strategies))
        canvas = self._canvases.get(key)
        if canvas is None:
            canvas = self._canvases[key] = FrontierCanvas(self._selected())
            if len(self._canvases) > 16:  # a few selections are kept; the oldest is dropped
                self._canvases.pop(next(iter(self._canvases)))
        return canvas.png(budget=self.budget, highlight=self.rec.strategy)

    def update(self) -> None:
        """Recompute the recommendation, and redraw plot and table (called as controls move)."""
        self.rec = self._recommend()
        if self.widget is None:
            return
        # the plot first: the recommendation text changing is the signal that the view is current
        self.plot_image.value = self.plot_png()
        self.table_view.value = self.table_html()
        self.rec_html.value = self.recommendation_html()

    # ------------------------------------------------------------------ display
    def static_html(self) -> str:
        """The dashboard without widgets: recommendation, summary table and the plot as an inline PNG."""
        png = base64.b64encode(figure_png(self.figure())).decode()
        return (f"<div class='routerlab-dashboard'><h3>routerlab — which strategy should I use?</h3>"
                f"{self.recommendation_html()}<img src='data:image/png;base64,{png}' "
                f"alt='cost vs quality frontier' style='max-width:760px'/>{self.table_html()}</div>")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self.static_html()}
        if self.widget is not None:
            view = self.widget._repr_mimebundle_()
            if view:
                bundle.update({k: v for k, v in view.items() if k != "text/plain"})
        return bundle

    def __repr__(self) -> str:
        return (f"Dashboard(recommended={self.rec.strategy!r}, budget=${self.budget:,.2f}/1k, "
                f"p95<={self.latency_p95:.1f}s, floor={self.quality_floor:.2f}, margin={self.margin:.3f}, "
                f"{len(self.strategies)} strategies, tasks={self.tasks})")


def _ni_cell(name: str, r: pd.Series, rec: Recommendation) -> str:
    """The non-inferiority column: the best one, or the lower bound of (quality − best's) and the verdict."""
    if name == rec.best:
        return "best"
    if not np.isfinite(r.get("ni_lower", np.nan)):
        return "—"
    return f"{r['ni_lower']:+.3f} {'✓' if r['noninferior'] else '✗'}"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _fallback_export(sel: Any, name: str, path: Path, row: pd.Series) -> Path:
    ok = sel.df[sel.df["error_type"] == ""]
    per_task = {str(t): {str(m): round(float(v), 6) for m, v in g["final_model"].value_counts(normalize=True).items()}
                for t, g in ok.groupby("task")}
    top = ok["final_model"].value_counts()
    doc = {"format": "routerlab.routing_table.fallback/1", "strategy": name,
           "default_model": str(top.index[0]) if len(top) else None,
           "routes": {t: max(sh, key=lambda m: sh[m]) for t, sh in per_task.items() if sh},
           "model_shares_by_task": per_task,
           "summary": {"quality": float(row["quality"]), "cost_per_1k": float(row["cost_per_1k"]),
                       "latency_p95": float(row["latency_p95"])},
           "source": {k: str(v) for k, v in sel.meta.items() if k in ("dataset", "split", "seed")}}
    path.write_text(json.dumps(doc, indent=2))
    return path


# ---------------------------------------------------------------------------------- live
def live_dashboard(experiment: Any, *, min_interval: float = 1.0) -> tuple[Callable[[str, pd.DataFrame], None],
                                                                         Callable[[Any], None]]:
    """Progress and a filling frontier plot while ``experiment`` runs.

    Returns ``(hook, finish)``: ``hook(strategy, rows)`` is called (possibly from a worker thread) as
    rows arrive; ``finish(results)`` turns the view into the full :class:`Dashboard`. The hook only
    records rows and updates the progress line; a background thread redraws the plot when there is
    something new, at most every ``min_interval`` seconds and never more than a third of the time,
    so drawing does not slow the run down. Without ipywidgets or outside IPython nothing is shown
    (the run still shows its tqdm bars).
    """
    from ..harness.results import Results

    per_strategy = len(experiment.dataset) * int(getattr(experiment, "samples", 1))
    total = per_strategy * len(experiment.strategies)
    frames: list[pd.DataFrame] = []
    state = {"rows": 0, "dirty": False, "last_cost": 0.0}
    lock = threading.Lock()
    stop = threading.Event()
    w = _widgets()
    box = status = image = None
    if w is not None:
        try:
            from IPython import get_ipython
            from IPython.display import display

            if get_ipython() is not None:
                status = w.HTML(f"<b>routerlab</b>: running {len(experiment.strategies)} strategies "
                                f"on {len(experiment.dataset):,} prompts…")
                image = w.Image(format="png", layout=w.Layout(max_width="760px"))
                box = w.VBox([status, image])
                display(box)
        except ImportError:
            box = None

    def draw() -> None:
        with lock:
            if image is None or not frames or not state["dirty"]:
                return
            df = pd.concat(frames, ignore_index=True)
            state["dirty"] = False
        started = time.monotonic()
        image.value = figure_png(frontier(Results(df, {"oracles": experiment.oracles}), pyplot=False,
                                          figsize=(7.5, 4.6)))
        state["last_cost"] = time.monotonic() - started

    def loop() -> None:
        while not stop.wait(max(min_interval, 2 * state["last_cost"])):
            try:
                draw()
            except Exception:  # noqa: BLE001 - a failed redraw must never break the run
                pass

    drawer = threading.Thread(target=loop, name="routerlab-live-dashboard", daemon=True) if image is not None else None
    if drawer is not None:
        drawer.start()

    def hook(strategy: str, rows: pd.DataFrame) -> None:
        with lock:
            frames.append(rows)
            state["rows"] += len(rows)
            state["dirty"] = True
            done = state["rows"]
        if status is not None:
            status.value = (f"<b>routerlab</b>: {done:,} / {total:,} results "
                            f"({done / max(total, 1):.0%}) — now <code>{escape(strategy)}</code>")

    def finish(results: Any) -> None:
        stop.set()
        if drawer is not None:
            drawer.join(timeout=30)
        if box is None or w is None or status is None:
            return
        if len(results.df):
            with lock:
                frames[:] = [results.df]
                state["dirty"] = True
            draw()
            dash = Dashboard(results)
            status.value = f"<b>routerlab</b>: done — {len(results.df):,} results"
            box.children = (status, dash.widget) if dash.widget is not None else (status, image)
        else:
            status.value = "<b>routerlab</b>: done — no results"

    return hook, finish
