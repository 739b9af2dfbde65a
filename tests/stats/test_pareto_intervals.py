"""The one Pareto mask, Wilson interval and t interval of routerlab.stats, and the callers that use them."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from routerlab import stats
from routerlab.errors import ConfigError
from routerlab.harness import schema
from routerlab.harness.results import Results

# ----------------------------------------------------------------------------- Pareto

def _by_definition(c: np.ndarray, q: np.ndarray, bound: np.ndarray) -> np.ndarray:
    out = np.zeros(len(c), dtype=bool)
    for i in range(len(c)):
        if bound[i] or not (np.isfinite(c[i]) and np.isfinite(q[i])):
            continue
        out[i] = not any(not bound[j] and np.isfinite(c[j]) and np.isfinite(q[j]) and c[j] <= c[i] and q[j] >= q[i]
                         and (c[j] < c[i] or q[j] > q[i]) for j in range(len(c)))
    return out


def test_pareto_mask_is_the_definition_on_random_points():
    rng = np.random.default_rng(7)
    for _ in range(400):
        n = int(rng.integers(1, 15))
        c = rng.integers(0, 5, n).astype(float)  # small integers: many ties
        q = rng.integers(0, 5, n).astype(float)
        c[rng.random(n) < 0.1] = np.nan
        bound = rng.random(n) < 0.2
        assert np.array_equal(stats.pareto_mask(c, q, bound=bound), _by_definition(c, q, bound))


def test_pareto_front_is_the_mask_in_cost_order_each_point_once():
    rng = np.random.default_rng(11)
    for _ in range(300):
        n = int(rng.integers(0, 15))
        c, q = rng.integers(0, 4, n).astype(float), rng.integers(0, 4, n).astype(float)
        front = stats.pareto_front(c, q)
        on = np.flatnonzero(_by_definition(c, q, np.zeros(n, dtype=bool)))
        firsts = sorted({(c[i], -q[i]): i for i in on[::-1]}.items())  # the first of each identical point
        assert front.tolist() == [i for _, i in firsts]


def test_pareto_mask_takes_a_sort_not_a_matrix_of_every_pair():
    """200,000 points: comparing every pair would need 40 billion comparisons (and as many bytes)."""
    rng = np.random.default_rng(0)
    c, q = rng.random(200_000), rng.random(200_000)
    on = stats.pareto_mask(c, q)
    order = np.argsort(c)
    assert np.array_equal(np.flatnonzero(on[order]), np.flatnonzero(q[order] > np.maximum.accumulate(
        np.r_[-np.inf, q[order][:-1]])))


def test_a_bound_is_never_on_the_frontier_and_dominates_nothing():
    cost, quality = [1.0, 2.0, 3.0, 0.1], [0.6, 0.8, 0.7, 0.99]
    assert stats.pareto_mask(cost, quality).tolist() == [False, False, False, True]
    assert stats.pareto_mask(cost, quality, bound=[False, False, False, True]).tolist() == [True, True, False, False]


def test_pareto_mask_refuses_mismatched_lengths():
    with pytest.raises(ConfigError, match="one length"):
        stats.pareto_mask([1.0, 2.0], [0.5])


def test_the_hull_is_built_on_the_frontier():
    from routerlab.stats.routing import nondecreasing_convex_hull

    rng = np.random.default_rng(3)
    for _ in range(200):
        c, q = rng.random(12), rng.random(12)
        hx, hy = nondecreasing_convex_hull(c, q)
        front = set(zip(c[stats.pareto_mask(c, q)], q[stats.pareto_mask(c, q)]))
        assert set(zip(hx, hy)) <= front
        assert np.all(np.diff(hx) > 0) and np.all(np.diff(hy) > 0)
    with pytest.raises(ValueError, match="finite"):
        nondecreasing_convex_hull([np.nan], [0.5])


# ----------------------------------------------------------------------------- intervals

def test_t_interval_matches_scipy():
    rng = np.random.default_rng(1)
    for _ in range(50):
        est, se, df, alpha = rng.normal(), rng.uniform(0.01, 2), int(rng.integers(1, 200)), rng.uniform(0.01, 0.3)
        lo, hi = stats.t_interval(est, se, df, alpha)
        ref = sps.t.interval(1 - alpha, df, loc=est, scale=se)
        assert lo == pytest.approx(ref[0], rel=1e-12, abs=1e-12) and hi == pytest.approx(ref[1], rel=1e-12, abs=1e-12)
    assert stats.t_interval(0.3, 0.0, 5) == (0.3, 0.3)
    assert all(math.isnan(v) for v in stats.t_interval(0.3, math.nan, 5))
    assert all(math.isnan(v) for v in stats.t_interval(0.3, 0.1, 0))
    with pytest.raises(ConfigError, match="alpha"):
        stats.t_interval(0.0, 1.0, 3, alpha=1.5)


def test_t_quantile_is_scipys():
    for p, df in [(0.5, 3), (0.95, 1), (0.975, 9), (0.999, 250.5), (0.01, 30)]:
        assert stats.t_quantile(p, df) == sps.t.ppf(p, df)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        stats.t_quantile(1.0, 5)


def test_wilson_interval_reference_values_and_n_zero():
    # Newcombe (1998) Table I: 81/263 -> 0.2553-0.3662; 0/10 -> 0-0.2775
    assert [round(x, 4) for x in stats.wilson_interval(81, 263)] == [0.2553, 0.3662]
    assert [round(x, 4) for x in stats.wilson_interval(0, 10)] == [0.0, 0.2775]
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)  # nothing observed: anything is possible


def test_mean_interval_picks_wilson_for_accuracy_and_t_otherwise():
    acc = np.array([1, 0, 1, 1, 0, 1, 1, 1], dtype=float)
    assert stats.mean_interval(acc) == stats.wilson_interval(6, 8)
    graded = np.array([0.2, 0.9, 0.5, 0.75, np.nan])
    ref = sps.t.interval(0.95, 3, loc=np.nanmean(graded), scale=sps.sem(graded[:4]))
    assert stats.mean_interval(graded) == pytest.approx(ref, rel=1e-12)
    zeros = np.zeros(5)  # e.g. a free model's cost: not a proportion
    assert stats.mean_interval(zeros, binary=False) == (0.0, 0.0)
    assert stats.mean_interval(zeros)[1] > 0  # as accuracy, 0 of 5 leaves room
    assert all(math.isnan(v) for v in stats.mean_interval([]))
    with pytest.raises(ConfigError, match="0 or 1"):
        stats.mean_interval([0.5], binary=True)


def _rows(strategy: str, scores: list[float]) -> list[dict]:
    return [schema.make_row({"strategy": strategy, "prompt_id": f"p{i}", "task": "t", "sample": 0, "split": "all"},
                            models_called="m", final_model="m", score=s, cost=0.001, latency=1.0)
            for i, s in enumerate(scores)]


def test_results_summary_uses_the_stats_intervals():
    graded = [0.1, 0.4, 0.45, 0.9, 1.0, 0.3]
    binary = [1.0, 0.0, 1.0, 1.0]
    res = Results(pd.DataFrame(_rows("graded", graded) + _rows("binary", binary)))
    s = res.summary(level=0.9)
    assert tuple(s.loc["graded", ["quality_lo", "quality_hi"]]) == stats.mean_interval(graded, 0.1)
    assert tuple(s.loc["binary", ["quality_lo", "quality_hi"]]) == stats.wilson_interval(3, 4, 0.1)


def test_a_strategy_without_scored_answers_has_no_quality_interval():
    rows = _rows("ok", [1.0, 0.0]) + [schema.make_row({"strategy": "down", "prompt_id": "p0", "task": "t",
                                                       "sample": 0, "split": "all"}, error_type="Timeout", error="x")]
    s = Results(pd.DataFrame(rows)).summary()
    assert s.loc["down", ["quality", "quality_lo", "quality_hi"]].isna().all()
    assert not s.loc["down", "pareto"]


def test_importing_stats_and_results_is_cheap():
    """routerlab.stats loads its names on first use: Results.summary() does not pull in scipy.stats."""
    code = ("import sys, pandas as pd\n"
            "import routerlab.stats, routerlab.harness.results as r\n"
            "from routerlab.harness import schema\n"
            "row = schema.make_row({'strategy': 's', 'prompt_id': 'p', 'task': 't', 'sample': 0, 'split': 'all'},"
            " score=1.0)\n"
            "r.Results(pd.DataFrame([row])).summary()\n"
            "print('scipy.stats' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
