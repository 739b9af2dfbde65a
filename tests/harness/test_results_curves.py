"""Whole curves in Results, the curves plot and the dashboard."""

from __future__ import annotations

import numpy as np
import pytest

from routerlab.errors import ConfigError
from routerlab.harness import Experiment, sweep_curves
from routerlab.routers import ClassifierRouter, FixedRouter, FrugalCascade
from routerlab.embeddings import HashingEmbedder


@pytest.fixture(scope="module")
def fitted(zeroeval):
    ids = zeroeval.prompts.groupby("task", sort=True).head(100)["prompt_id"]
    train, test = zeroeval.filter(prompt_ids=ids).split(test_size=0.5, seed=0)
    strategies = {"classifier": ClassifierRouter(HashingEmbedder(dim=64)).fit(train),
                  "frugal": FrugalCascade().fit(train), "gpt-4o": FixedRouter("gpt-4o")}
    return strategies, test


def test_curves_points_and_metrics(fitted):
    strategies, test = fitted
    curves = sweep_curves(strategies, test, n_boot=100)
    assert set(curves.metrics.index) == {"classifier", "frugal"}  # strategies with a sweep
    assert curves.n == len(test) and curves.strong == test.outcomes.matrix().mean().idxmax()
    cls = curves.curve("classifier")
    sweep = strategies["classifier"].sweep(test)
    assert cls["quality"].max() == pytest.approx(sweep.points["quality"].max())
    models = curves.points[curves.points["kind"] == "model"].set_index("strategy")
    m = test.outcomes.matrix()
    assert models.loc["gpt-4o", "quality"] == pytest.approx(m["gpt-4o"].mean())
    for key in ("aiq", "apgr", "cpt50", "cpt80"):
        row = curves.metrics.loc["frugal"]
        if np.isfinite(row[key]):
            assert row[f"{key}_lo"] - 1e-9 <= row[key] <= row[f"{key}_hi"] + 1e-9
    assert "AIQ" in curves._repr_html_() or "aiq" in curves._repr_html_()
    with pytest.raises(ConfigError, match="none of the strategies"):
        sweep_curves({"gpt-4o": FixedRouter("gpt-4o")}, test)


def test_results_plot_and_dashboard_show_the_curves(fitted):
    from routerlab.viz import Dashboard

    strategies, test = fitted
    res = Experiment(test, strategies, seed=0).run(progress=False)
    with pytest.raises(ConfigError, match="with_curves"):
        res.plot("curves", pyplot=False)
    assert res.with_curves(strategies, test, n_boot=50) is res and res.curves is not None
    fig = res.plot("curves", pyplot=False)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(lbl.startswith("classifier (AIQ") for lbl in labels) and any(lbl.startswith("frugal") for lbl in labels)
    html = Dashboard(res).static_html()
    assert "Cost-quality curves" in html and "CPT(50%)" in html and "frugal" in html
