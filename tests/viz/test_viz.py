"""Plots and the dashboard, on a small synthetic Results table (fast, no data set load)."""

from __future__ import annotations

import base64
import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

matplotlib.use("Agg")

from routerlab.harness.results import RESULT_COLUMNS, Results  # noqa: E402
from routerlab.viz import dashboard as dash_mod  # noqa: E402
from routerlab import viz  # noqa: E402

# strategy -> (model mix, quality by task, cost per prompt, latency median)
SPEC = {
    "big": ({"big-model": 1.0}, {"gsm": 0.95, "code": 0.9, "math": 0.7}, 0.010, 3.0),
    "mid": ({"mid-model": 1.0}, {"gsm": 0.9, "code": 0.8, "math": 0.5}, 0.002, 1.5),
    "small": ({"small-model": 1.0}, {"gsm": 0.7, "code": 0.5, "math": 0.2}, 0.0002, 0.5),
    "router": ({"mid-model": 0.6, "small-model": 0.4}, {"gsm": 0.85, "code": 0.7, "math": 0.4}, 0.0012, 1.0),
}


def make_results(n: int = 150, seed: int = 0) -> Results:
    rng = np.random.default_rng(seed)
    tasks = np.array(["gsm", "code", "math"])[np.arange(n) % 3]
    rows = []
    for name, (mix, q, cost, lat) in SPEC.items():
        models = rng.choice(list(mix), size=n, p=list(mix.values()))
        score = (rng.random(n) < np.array([q[t] for t in tasks])).astype(float)
        for i in range(n):
            rows.append({"strategy": name, "prompt_id": f"p{i}", "task": tasks[i], "sample": 0, "split": "all",
                         "models_called": models[i], "final_model": models[i], "answer": "x", "score": score[i],
                         "input_tokens": 100, "output_tokens": 50, "cost": cost * rng.uniform(0.5, 1.5),
                         "latency": lat * rng.lognormal(0, 0.4), "ttft": np.nan, "simulated_latency": True,
                         "cached": False, "error_type": "", "error": ""})
    return Results(pd.DataFrame(rows, columns=RESULT_COLUMNS), {"dataset": "synthetic", "split": "all"})


@pytest.fixture(scope="module")
def res() -> Results:
    return make_results()


@pytest.mark.parametrize("kind", ["frontier", "latency", "heatmap", "shares"])
def test_every_plot_returns_a_figure_and_accepts_ax(res, kind):
    fig = viz.plot(res, kind)
    assert isinstance(fig, Figure)
    other = Figure()
    ax = other.add_subplot()
    assert viz.plot(res, kind, ax=ax) is other
    assert viz.figure_png(other)[:8] == b"\x89PNG\r\n\x1a\n"


def test_frontier_marks_pareto_and_oracle(res):
    fig = viz.frontier(res, highlight="mid", budget=3.0)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("oracle" in t for t in labels)
    assert any("Pareto" in t for t in labels)
    assert "recommended: mid" in labels
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert set(SPEC) <= texts
    ox, oq = viz.oracle_point(res)
    assert oq >= res.summary()["quality"].max()


def test_latency_plot_says_simulated(res):
    ax = viz.latency(res).axes[0]
    assert "simulated" in ax.get_xlabel() and "SIMULATED" in ax.get_title()


def test_forest_accepts_compare_many_style_frames():
    tests = pd.DataFrame({"a": ["big", "big"], "b": ["mid", "small"], "estimate": [-0.05, -0.2],
                          "ci_low": [-0.1, -0.25], "ci_high": [0.0, -0.15], "p_adj": [0.08, 1e-5]})
    ax = viz.plot(tests, "forest").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mid vs big", "small vs big"]
    assert any("p_adj<0.001" in t.get_text() for t in ax.texts)
    with pytest.raises(ValueError, match="estimate"):
        viz.forest(pd.DataFrame({"x": [1]}))


def test_unknown_kind_is_a_clear_error(res):
    with pytest.raises(ValueError, match="frontier"):
        viz.plot(res, "pie")


def test_save_frontier_png(res, tmp_path):
    p = viz.save_frontier_png(res, tmp_path / "sub" / "frontier.png")
    assert p.read_bytes()[:4] == b"\x89PNG"


def test_an_oracle_is_marked_but_never_recommended():
    df = make_results().df
    oracle = df[df["strategy"] == "big"].assign(strategy="oracle", score=1.0, cost=0.0001)
    r = Results(pd.concat([df, oracle]), {})
    d = r.dashboard(widgets=False)
    assert d.recommended == "big" and "not deployable" in d.rec.table.loc["oracle", "why_not"]
    labels = [t.get_text() for t in viz.frontier(r).axes[0].get_legend().get_texts()]
    assert "oracle (upper bound, reads the answers)" in labels


def test_dashboard_budget_default_is_just_above_the_best(res, tmp_path):
    d = res.dashboard(export_dir=tmp_path)
    assert d.recommended == "big"
    big = res.summary().loc["big", "cost_per_1k"]
    assert big <= d.budget < big + d.budget_step + 1e-9
    before = d.rec_html.value
    # what the browser test does: one step down on the budget slider changes the answer
    d.budget_slider.value = d.budget_slider.value - d.budget_slider.step
    assert d.recommended == "mid"
    assert d.rec_html.value != before and "mid" in d.rec_html.value
    assert "Paired test:" in d.rec_html.value and "lower bound" in d.rec_html.value
    assert d.plot_image.value[:4] == b"\x89PNG"


def test_dashboard_controls_tasks_strategies_and_export(res, tmp_path):
    d = res.dashboard(export_dir=tmp_path)
    d.set(budget=100.0, strategies=["mid", "small"])
    assert d.recommended == "mid"
    d.set(quality_floor=0.99)
    assert d.recommended is None and "No strategy meets" in d.recommendation_html()
    d.set(quality_floor=0.0, strategies=list(SPEC), tasks=["gsm"], latency_p95=1.2)
    assert d.recommended in {"small", "router"}
    d.set(latency_p95=d.latency_max)
    d.export_button.click()
    assert d.last_export is not None and d.last_export.exists()
    assert str(d.last_export.resolve()) in d.export_label.value
    doc = json.loads(d.last_export.read_text())
    assert doc.get("routes") or doc.get("model_shares_by_task")


def test_static_fallback_without_widgets(res):
    d = dash_mod.Dashboard(res, widgets=False)
    assert d.widget is None
    bundle = d._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" not in bundle
    html = bundle["text/html"]
    assert "routerlab-table" in html and "Use <code>big</code>" in html
    png = html.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(png)[:4] == b"\x89PNG"


def test_widget_bundle_has_view_and_html(res):
    bundle = res.dashboard()._repr_mimebundle_()
    assert {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"} <= set(bundle)


def test_live_dashboard_hook_and_finish(res, monkeypatch):
    class FakeExperiment:
        dataset = list(range(150))
        samples = 1
        strategies = dict.fromkeys(SPEC)
        oracles: list[str] = []

    class Shell:  # live_dashboard displays only inside IPython
        pass

    shown = []
    monkeypatch.setattr("IPython.get_ipython", lambda: Shell())
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    hook, finish = dash_mod.live_dashboard(FakeExperiment(), min_interval=0.0)
    assert len(shown) == 1
    box = shown[0]
    for name, g in res.df.groupby("strategy", sort=False):
        hook(name, g)
    status, image = box.children
    assert "600 / 600" in status.value
    finish(res)
    assert image.value[:4] == b"\x89PNG"
    assert "done" in box.children[0].value and len(box.children) == 2
    assert box.children[1].children[2].value.count("routerlab-rec") == 1  # the full dashboard took over


def test_frontier_canvas_redraws_only_budget_and_ring(res):
    """Issue 16: a slider move redrew and re-encoded the whole figure (~1 s here); the canvas keeps the
    static pixels and draws the budget line and the ring on top. The pixels it changes are the budget
    line's column and the ring around the recommended point, nothing else."""
    import io

    from PIL import Image

    from routerlab.viz.blit import FrontierCanvas

    canvas = FrontierCanvas(res)
    assert set(canvas.points) == set(SPEC)

    def pixels(**kw):
        return np.asarray(Image.open(io.BytesIO(canvas.png(**kw))).convert("RGB")).astype(int)

    bare, one, two = pixels(budget=None, highlight=None), pixels(budget=1.0, highlight="mid"), \
        pixels(budget=5.0, highlight="mid")
    assert bare.shape == one.shape and (one != bare).any() and (two != one).any()
    # the ring: pixels near "mid"'s point change, pixels near "small"'s do not
    fig_h = bare.shape[0]
    ax = canvas.ax
    for name, changed in (("mid", True), ("small", False)):
        x, y = ax.transData.transform(canvas.points[name])
        r, c = int(fig_h - y), int(x)
        box = (slice(r - 12, r + 12), slice(c - 12, c + 12))
        ring_only = pixels(budget=None, highlight="mid")
        assert (ring_only[box] != bare[box]).any() == changed, name


def test_dashboard_slider_uses_the_canvas_and_agrees_with_the_static_plot(res):
    d = res.dashboard()
    d.budget_slider.value = d.budget_slider.value - d.budget_slider.step
    assert d.plot_image.value[:4] == b"\x89PNG" and len(d._canvases) == 1
    d.set(strategies=["big", "mid"])
    assert len(d._canvases) == 2  # a new selection draws a new static figure


def test_the_heatmap_never_boxes_the_oracle_as_best_per_task(res):
    from matplotlib.patches import Rectangle

    oracle = res.df[res.df["strategy"] == "big"].assign(strategy="oracle", score=1.0)
    res = Results(pd.concat([res.df, oracle], ignore_index=True), {**res.meta, "oracles": ["oracle"]})
    fig = viz.plot(res, "heatmap")
    ax = fig.axes[0]
    columns = [t.get_text() for t in ax.get_xticklabels()]
    assert "oracle (bound)" in columns  # shown, labelled as a bound
    quality = res.summary(by="task")["quality"].unstack("strategy")
    boxed = {(round(p.get_y() + 0.5), round(p.get_x() + 0.5)) for p in ax.patches if isinstance(p, Rectangle)}
    rows = [t.get_text() for t in ax.get_yticklabels()]
    for i, task in enumerate(rows):
        realisable = quality.loc[task].drop(res.oracles)
        j = columns.index(str(realisable.idxmax()))
        assert (i, j) in boxed and (i, columns.index("oracle (bound)")) not in boxed
