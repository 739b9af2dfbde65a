"""compare(), compare_many() and plan() on long-form Results tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from routerlab.errors import ConfigError
from routerlab.stats import (
    ABResult,
    InsufficientDataError,
    compare,
    compare_many,
    holm,
    n_paired,
    plan,
)

N_BOOT = 1000  # enough for these checks and fast


@pytest.fixture
def three_arms(make_frame):
    rng = np.random.default_rng(11)
    n = 300
    skill = rng.normal(size=n)
    arms = {
        "mini": (skill + rng.normal(0, 1, n) > 0.3).astype(float),
        "cascade": (skill + rng.normal(0, 1, n) > 0.0).astype(float),
        "big": (skill + rng.normal(0, 1, n) > -0.5).astype(float),
    }
    return make_frame(arms)


def _skewed(make_frame, n=120, seed=3):
    rng = np.random.default_rng(seed)
    base = rng.lognormal(-7, 1.0, n)
    return make_frame({"a": base, "b": base * rng.lognormal(-0.15, 0.3, n)}, "cost")


# ----------------------------------------------------------------------------- tests by metric

def test_binary_quality_uses_mcnemar_and_newcombe(three_arms):
    r = compare(three_arms, "mini", "big", n_boot=N_BOOT)
    assert r.kind == "binary" and r.column == "score" and r.statistic == "mean"
    assert r.test.startswith("exact McNemar")
    assert r.ci_method.startswith("Newcombe")
    assert r.estimate == pytest.approx(r.value_b - r.value_a)
    assert r.relative_change == pytest.approx(r.estimate / r.value_a)
    assert r.decision == "B better" and r.p_value < 0.05
    assert r.discordant["b_higher"] + r.discordant["a_higher"] + r.discordant["equal"] == r.n == 300
    assert 0 < r.correlation < 1
    assert r.effect == 0.05 and r.effect_source.startswith("default")
    assert 0 < r.power < 1 and r.mde > 0 and r.prompts_required > 2


def test_cost_uses_permutation_and_bootstrap_ratio(make_frame):
    df = _skewed(make_frame)
    r = compare(df, "a", "b", "cost", n_boot=N_BOOT)
    assert r.kind == "skewed" and not r.higher_is_better
    assert r.test.startswith("sign-flip permutation test")
    assert r.ci_method.startswith("BCa paired bootstrap")
    ratio_ci = r.alt_cis["BCa paired bootstrap of the ratio of sums B/A"]
    assert ratio_ci[0] < 1 + r.relative_change < ratio_ci[1]
    assert r.estimate < 0 and r.decision == "B better"  # cheaper is better
    assert "paired t" in r.alt_tests
    # Swap: A is now the cheap one and wins.
    assert compare(df, "b", "a", "cost", n_boot=N_BOOT).decision == "A better"


def test_latency_quantile_bootstrap_and_cache_exclusion(make_frame):
    rng = np.random.default_rng(4)
    n = 400
    a = rng.lognormal(0, 0.5, n)
    b = a * 0.7
    cached = {"a": np.arange(n) % 10 == 0, "b": np.zeros(n, bool)}
    df = make_frame({"a": a, "b": b}, "latency", extra={"cached": cached})
    r = compare(df, "a", "b", "latency_p95", n_boot=N_BOOT)
    assert r.kind == "quantile" and r.statistic == "p95"
    kept = np.arange(n) % 10 != 0
    assert r.value_a == pytest.approx(np.quantile(a[kept], 0.95))
    assert r.estimate == pytest.approx(np.quantile(b[kept], 0.95) - np.quantile(a[kept], 0.95))
    assert r.ci_method.startswith("paired percentile bootstrap")
    assert r.ci[0] <= r.estimate <= r.ci[1] < 0
    assert r.dropped["a"]["cached"] == 40 and r.dropped["b"]["no partner"] == 40
    assert any("cache hits excluded" in w for w in r.warnings)
    same = compare(df, "a", "b", "latency", quantile=0.95, n_boot=N_BOOT)
    assert same.ci == r.ci and same.p_value == r.p_value


def test_mean_latency_is_a_skewed_metric(make_frame):
    r = compare(_skewed(make_frame).rename(columns={"cost": "x"}).assign(latency=lambda d: d["x"]),
                "a", "b", "latency", n_boot=N_BOOT)
    assert r.kind == "skewed" and r.column == "latency"


# ----------------------------------------------------------------------------- missingness

def test_dropped_rows_are_counted_per_arm_with_reasons(make_frame):
    rng = np.random.default_rng(8)
    n = 60
    a = rng.integers(0, 2, n).astype(float)
    b = rng.integers(0, 2, n).astype(float)
    df = make_frame({"a": a, "b": b})
    err = (df["strategy"] == "b") & df["prompt_id"].isin([f"p{i:05d}" for i in range(5)])
    df.loc[err, ["error_type", "error"]] = ["Timeout", "timed out after 30 s"]
    df.loc[err, "score"] = np.nan
    nan_rows = (df["strategy"] == "a") & df["prompt_id"].isin(["p00010", "p00011"])
    df.loc[nan_rows, "score"] = np.nan
    df = df[~((df["strategy"] == "a") & (df["prompt_id"] == "p00020"))]  # never run for a
    r = compare(df, "a", "b")
    assert r.dropped == {
        "a": {"error": 0, "missing value": 2, "cached": 0, "no partner": 5},
        "b": {"error": 5, "missing value": 0, "cached": 0, "no partner": 3},
    }
    assert r.n == n - 5 - 2 - 1
    assert any(w.startswith("rows dropped") for w in r.warnings)
    assert "Timeout" not in str(r)  # the reason is the category, not the message
    assert "5 error" in str(r)


def test_imbalanced_missingness_is_flagged_and_zero_imputation_offered(make_frame):
    n = 200
    rng = np.random.default_rng(2)
    df = make_frame({"a": rng.integers(0, 2, n), "b": rng.integers(0, 2, n)})
    fail = (df["strategy"] == "b") & (np.arange(len(df)) % 5 == 0)
    df.loc[fail, ["error_type", "error", "score"]] = ["ServerError", "500", np.nan]
    r = compare(df, "a", "b")
    assert any(w.startswith("imbalanced missingness") for w in r.warnings)
    z = compare(df, "a", "b", on_error="zero")
    assert z.n == n and all(v == 0 for d in z.dropped.values() for v in d.values())
    assert any("scored 0" in w for w in z.warnings)


# ----------------------------------------------------------------------------- invariances

@pytest.mark.parametrize("metric,kwargs", [
    ("quality", {}),
    ("score", {"kind": "continuous"}),
    ("cost", {}),
    ("cost", {"cluster": "task"}),
    ("latency_p90", {}),
])
def test_swap_negates_and_shuffle_changes_nothing(make_frame, metric, kwargs):
    rng = np.random.default_rng(12)
    n = 90
    if metric == "quality":
        df = make_frame({"a": rng.integers(0, 2, n), "b": rng.integers(0, 2, n)})
    elif metric == "score":
        base = rng.normal(size=n)
        df = make_frame({"a": base, "b": base + rng.normal(0.2, 1, n)})
    else:
        col = "cost" if metric == "cost" else "latency"
        base = rng.lognormal(size=n)
        df = make_frame({"a": base, "b": base * rng.lognormal(0.1, 0.5, n)}, col)
    ab = compare(df, "a", "b", metric, n_boot=N_BOOT, seed=1, **kwargs)
    ba = compare(df, "b", "a", metric, n_boot=N_BOOT, seed=1, **kwargs)
    assert ba.estimate == pytest.approx(-ab.estimate, abs=1e-15)
    assert ba.ci == pytest.approx((-ab.ci[1], -ab.ci[0]), rel=1e-9, abs=1e-15)
    assert ba.p_value == pytest.approx(ab.p_value, rel=1e-12)
    assert ba.se == pytest.approx(ab.se)
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = compare(shuffled, "a", "b", metric, n_boot=N_BOOT, seed=1, **kwargs)
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(ab.to_dict(), sort_keys=True)


def test_fixed_seed_fixes_resampled_intervals(make_frame):
    df = _skewed(make_frame)
    one = compare(df, "a", "b", "cost", n_boot=N_BOOT, seed=42)
    two = compare(df, "a", "b", "cost", n_boot=N_BOOT, seed=42)
    other = compare(df, "a", "b", "cost", n_boot=N_BOOT, seed=43)
    assert one.ci == two.ci and one.p_value == two.p_value and one.alt_cis == two.alt_cis
    assert other.ci != one.ci
    gen = compare(df, "a", "b", "cost", n_boot=N_BOOT, seed=np.random.default_rng(5))
    gen2 = compare(df, "a", "b", "cost", n_boot=N_BOOT, seed=np.random.default_rng(5))
    assert gen.ci == gen2.ci


def test_results_object_and_dataframe_are_equivalent(three_arms, fake_results):
    r1 = compare(three_arms, "mini", "cascade")
    r2 = compare(fake_results(three_arms), "mini", "cascade")
    assert r1 == r2


# ----------------------------------------------------------------------------- decisions

def test_decisions(make_frame):
    rng = np.random.default_rng(21)
    tiny = make_frame({"a": rng.normal(size=8), "b": rng.normal(size=8)}, "score")
    r = compare(tiny, "a", "b", "score", kind="continuous", effect=0.1, n_boot=N_BOOT)
    assert r.decision == "underpowered"
    assert any("small sample" in w for w in r.warnings)
    base = rng.normal(size=2000)
    same = make_frame({"a": base, "b": base + rng.normal(0, 0.05, 2000)}, "score")
    r = compare(same, "a", "b", "score", kind="continuous", effect=0.05, n_boot=N_BOOT)
    assert r.p_value >= 0.05 and r.power >= 0.8 and r.decision == "no difference detected"
    assert r.prompts_required == n_paired(0.05, r.se * math.sqrt(r.n))
    worse = make_frame({"a": base, "b": base - 0.1 + rng.normal(0, 0.05, 2000)}, "score")
    assert compare(worse, "a", "b", "score", n_boot=N_BOOT).decision == "A better"


def test_ties_warning_for_continuous_scores(make_frame):
    a = np.array([3, 5, 7, 7, 8, 2, 9, 4, 6, 5] * 4, dtype=float)
    b = a + np.array([0, 1, 0, -1, 2, 0, 1, 0, 1, 0] * 4)
    r = compare(make_frame({"a": a, "b": b}, "score"), "a", "b", "score", n_boot=N_BOOT)
    assert any(w.startswith("ties: 20 of 40") for w in r.warnings)


# ----------------------------------------------------------------------------- errors

def test_errors_name_the_bad_input(three_arms):
    with pytest.raises(ConfigError, match=r"'gpt-5'.*available: \['mini', 'cascade', 'big'\]"):
        compare(three_arms, "mini", "gpt-5")
    with pytest.raises(ValueError, match="metric='accuracy'.*numeric columns"):
        compare(three_arms, "mini", "big", "accuracy")
    with pytest.raises(ConfigError, match="both 'mini'"):
        compare(three_arms, "mini", "mini")
    dup = pd.concat([three_arms, three_arms.iloc[:1]])
    with pytest.raises(ConfigError, match="duplicate"):
        compare(dup, "mini", "big")
    with pytest.raises(ConfigError, match="alpha"):
        compare(three_arms, "mini", "big", alpha=5)
    with pytest.raises(ConfigError, match="on_error='zero' only"):
        compare(three_arms, "mini", "big", "cost", on_error="zero")
    empty = three_arms[three_arms["strategy"] != "big"]
    with pytest.raises(ConfigError, match="'big'"):
        compare(empty, "mini", "big")
    few = three_arms[three_arms["prompt_id"] == "p00000"]
    with pytest.raises(InsufficientDataError, match="only 1 complete pair"):
        compare(few, "mini", "big")
    with pytest.raises(ConfigError, match="Results object"):
        compare([1, 2], "a", "b")


# ----------------------------------------------------------------------------- display

def test_str_html_and_dict(three_arms):
    r = compare(three_arms, "mini", "big")
    text = str(r)
    for needle in ("estimate (B − A)", "95% CI", "p-value", "exact McNemar", "decision", "B better"):
        assert needle in text
    html = r._repr_html_()
    assert "<table>" in html and "B better" in html and "Newcombe" in html
    d = r.to_dict()
    assert d["ci"] == list(r.ci) and d["dropped"] == r.dropped
    json.dumps(d)  # plain Python only
    with pytest.raises(AttributeError):
        r.estimate = 0  # type: ignore[misc]
    assert isinstance(r, ABResult) and r.ci_low == r.ci[0] and r.significant


# ----------------------------------------------------------------------------- many strategies

def test_compare_many_all_pairs_and_baseline(three_arms):
    table = compare_many(three_arms, adjust="holm")
    assert list(zip(table["a"], table["b"])) == [("mini", "cascade"), ("mini", "big"), ("cascade", "big")]
    assert table["p_adjusted"].to_numpy() == pytest.approx(holm(table["p_value"]))
    assert (table["significant"] == (table["p_adjusted"] < 0.05)).all()
    assert len(table.attrs["results"]) == 3
    bh = compare_many(three_arms, baseline="mini", adjust="bh")
    assert list(zip(bh["a"], bh["b"])) == [("mini", "cascade"), ("mini", "big")]
    assert (bh["p_adjusted"] >= bh["p_value"] - 1e-15).all()
    with pytest.raises(ConfigError, match="baseline='gpt'"):
        compare_many(three_arms, baseline="gpt")
    with pytest.raises(ConfigError, match="adjust='bonf'"):
        compare_many(three_arms, adjust="bonf")


# ----------------------------------------------------------------------------- power planning

def test_plan_from_a_pilot_uses_the_paired_sd(three_arms):
    p = plan(three_arms, effect=0.05, a="mini", b="big")
    pair = three_arms.pivot(index="prompt_id", columns="strategy", values="score")
    sd = float((pair["big"] - pair["mini"]).std(ddof=1))
    assert p.sd_diff == pytest.approx(sd)
    assert p.n_required == n_paired(0.05, sd)
    assert p.n_pilot == 300 and p.correlation > 0
    # Positively correlated arms need fewer prompts paired than as independent samples.
    assert p.n_required < p.n_unpaired_per_arm
    assert "prompts required" in str(p) and "<table>" in p._repr_html_()
    with pytest.raises(ConfigError, match="name the two"):
        plan(three_arms, effect=0.05)
    with pytest.raises(ConfigError, match="effect"):
        plan(three_arms, effect=0, a="mini", b="big")
    r = compare(three_arms, "mini", "big")
    assert plan(r, effect=0.05).n_required == r.prompts_required


def test_plan_with_clusters_inflates_by_the_design_effect(make_frame):
    rng = np.random.default_rng(6)
    g, m = 30, 10
    task = np.repeat([f"t{i}" for i in range(g)], m)
    a = rng.normal(size=g * m)
    b = a + rng.normal(size=g)[np.repeat(np.arange(g), m)] + rng.normal(size=g * m)
    df = make_frame({"a": a, "b": b}, "score", task=task)
    flat = plan(df, effect=0.2)
    clustered = plan(df, effect=0.2, cluster="task")
    assert clustered.design_effect > 2
    assert clustered.n_required > 2 * flat.n_required
