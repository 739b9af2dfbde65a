"""One Pareto definition in every view (issue 16, item 2): realisable strategies only; an oracle, known by
its ``reads_answers`` flag and not by its name, is drawn as a bound and is never on the frontier."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from routerlab import stats, viz  # noqa: E402
from routerlab.harness import schema  # noqa: E402
from routerlab.harness.experiment import Experiment  # noqa: E402
from routerlab.harness.results import Results  # noqa: E402
from routerlab.routers import FixedRouter, OracleRouter  # noqa: E402

MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-opus", "llama-3.1-8b", "gemma-2-2b"]


@pytest.fixture(scope="module")
def res(gsm_small) -> Results:
    strategies = {m: FixedRouter(m) for m in MODELS}
    # an oracle whose name does not say so, and a real strategy whose name looks like one
    strategies["hindsight"] = OracleRouter(gsm_small, candidates=MODELS)
    strategies["oracle-mini"] = FixedRouter("gpt-4o-mini")
    return Experiment(gsm_small, strategies).run(progress=False)


def _summary_front(r: Results) -> set[str]:
    s = r.summary()
    return set(s.index[s["pareto"]])


def _plot_front(r: Results, **kw) -> tuple[set[str], set[str]]:
    """(strategies drawn on the frontier, strategies drawn as upper-bound stars), read off the figure:
    a strategy's point is the line whose gid is ``strategy:NAME``, filled when it is on the frontier; the
    frontier line must run through exactly those points."""
    from matplotlib.colors import to_rgba

    ax = viz.frontier(r, pyplot=False, **kw).axes[0]
    front: set[str] = set()
    filled: set[tuple[float, float]] = set()
    for line in ax.get_lines():
        gid = line.get_gid() or ""
        if gid.startswith("strategy:") and to_rgba(line.get_markerfacecolor()) != to_rgba("white"):
            front.add(gid.split(":", 1)[1])
            xs, ys = line.get_data()
            filled.add((round(float(xs[0]), 9), round(float(ys[0]), 9)))
    steps = [line for line in ax.get_lines() if line.get_gid() == "pareto-frontier"]
    if len(filled) > 1:
        xs, ys = steps[0].get_data()
        assert {(round(float(x), 9), round(float(y), 9)) for x, y in zip(xs, ys)} == filled
    stars = {line.get_label().split(" (")[0] for line in ax.get_lines() if line.get_marker() == "*"}
    return front, stars


def _dashboard_front(r: Results, **kw) -> tuple[set[str], set[str]]:
    html = r.dashboard(widgets=False, **kw).table_html()
    front, bounds = set(), set()
    for name, mark in re.findall(r"<tr[^>]*><td style='text-align:left'>([^<]+)</td>.*?<td>(★|bound|)</td>", html):
        (front if mark == "★" else bounds if mark == "bound" else set()).add(name)
    return front, bounds


def test_the_oracle_is_known_by_its_flag_not_its_name(res):
    assert res.oracles == ["hindsight"]
    assert res.meta["oracles"] == ["hindsight"]
    s = res.summary()
    assert s.loc["hindsight", "oracle"] and not s.loc["hindsight", "pareto"]
    assert not s.loc["oracle-mini", "oracle"]
    # a real strategy identical to another is on the frontier with it
    assert s.loc["oracle-mini", "pareto"] == s.loc["gpt-4o-mini", "pareto"]


def test_the_oracle_is_an_upper_bound_that_pushes_nothing_off_the_frontier(res):
    s = res.summary()
    real = s[~s["oracle"]]
    assert s.loc["hindsight", "quality"] > real["quality"].max()  # it would dominate the best real strategies
    best = real.sort_values(["quality", "cost_per_1k"], ascending=[False, True]).index[0]
    cheapest = real.sort_values(["cost_per_1k", "quality"], ascending=[True, False]).index[0]
    assert s.loc[best, "pareto"] and s.loc[cheapest, "pareto"]
    # the frontier is exactly the definition applied to the realisable strategies
    expected = real.index[stats.pareto_mask(real["cost_per_1k"], real["quality"])]
    assert _summary_front(res) == set(expected)


def test_every_view_draws_the_same_frontier(res):
    front = _summary_front(res)
    p = res.pareto()
    assert set(p.loc[p["pareto"], "strategy"]) == front
    assert not p.loc[p["strategy"] == "hindsight", "hull"].item()
    assert set(p.loc[p["hull"], "strategy"]) <= front
    plot_front, stars = _plot_front(res)
    assert plot_front == front and stars == {"hindsight"}
    dash_front, bounds = _dashboard_front(res, budget=1e9)
    assert dash_front == front and bounds == {"hindsight"}


def test_the_dashboard_never_recommends_the_oracle(res):
    d = res.dashboard(widgets=False, budget=1e9)
    assert d.recommended != "hindsight"
    assert "not deployable" in d.rec.table.loc["hindsight", "why_not"]
    assert d.recommended == res.summary().drop(index="hindsight").index[0]


def test_hiding_strategies_changes_the_frontier_in_table_and_plot_alike(res):
    shown = ["gpt-4o", "claude-3-opus", "llama-3.1-8b", "hindsight"]
    dash_front, _ = _dashboard_front(res, strategies=shown, budget=1e9)
    plot_front, _ = _plot_front(res.select(strategies=shown))
    assert dash_front == plot_front == _summary_front(res.select(strategies=shown))


def test_saved_results_keep_the_oracle_and_the_frontier(res, tmp_path):
    for path in (tmp_path / "r.parquet", tmp_path / "r.csv"):
        (res.to_parquet if path.suffix == ".parquet" else res.to_csv)(path)
        back = Results.load(path)
        assert back.oracles == ["hindsight"]
        assert _summary_front(back) == _summary_front(res)


def test_without_meta_an_oracle_is_known_by_its_name(res):
    """A table made by hand (no ``meta["oracles"]``) falls back to the name: ``oracle…``."""
    df = res.df.copy()
    df["strategy"] = df["strategy"].replace({"hindsight": "oracle", "oracle-mini": "mini-copy"})
    bare = Results(df, {})
    assert bare.oracles == ["oracle"]
    assert not bare.summary().loc["oracle", "pareto"]
    assert Results(df, {"oracles": []}).oracles == []


def test_pareto_table_columns(res):
    p = res.pareto()
    assert list(p.columns) == ["strategy", "cost", "cost_per_1k", "quality", "oracle", "pareto", "hull"]
    assert p["cost_per_1k"].is_monotonic_increasing
    n = res.df.groupby("strategy")["cost"].size()
    by = p.set_index("strategy")
    assert np.allclose(1000 * by["cost"] / n.reindex(by.index), by["cost_per_1k"])


def test_an_empty_results_table_has_an_empty_frontier():
    empty = Results(schema.empty_frame())
    assert empty.pareto().empty and empty.summary().empty
    assert {"oracle", "pareto"} <= set(empty.summary().columns)
