"""Known answers: each statistic against a published or independently computed reference value."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from routerlab.stats import (
    adjust_pvalues,
    always_valid_pvalues,
    benjamini_hochberg,
    bradley_terry,
    cluster_robust_se,
    compare,
    holm,
    mcnemar_exact,
    mde_paired,
    msprt_pvalue,
    n_paired,
    newcombe_paired_ci,
    newcombe_unpaired_ci,
    paired_bootstrap,
    plan,
    power_paired,
    srm_check,
    wilson_interval,
)
from routerlab.stats.bootstrap import _uniform_indices, _weighted_quantile, sign_flip_test

# R: datasets::sleep, extra for group 1 and group 2 (same 10 subjects).
SLEEP_1 = np.array([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0])
SLEEP_2 = np.array([1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4])


def test_sleep_paired_t_matches_r(make_frame):
    # R: t.test(extra ~ group, data = sleep, paired = TRUE)
    # t = -4.0621, df = 9, p-value = 0.002833, 95% CI -2.4598858 -0.7001142
    df = make_frame({"drug2": SLEEP_2, "drug1": SLEEP_1}, "score")
    r = compare(df, "drug2", "drug1", metric="score", n_boot=2000)
    assert r.kind == "continuous"
    assert r.test == "paired t (df = 9)"
    assert r.estimate == pytest.approx(-1.58)
    assert r.estimate / r.se == pytest.approx(-4.0621, abs=1e-4)
    assert r.p_value == pytest.approx(0.002833, abs=5e-7)
    assert r.ci == pytest.approx((-2.4598858, -0.7001142), abs=1e-6)
    assert r.n == 10
    assert "Wilcoxon signed-rank" in r.alt_tests
    # R: wilcox.test(sleep$extra[1:10], sleep$extra[11:20], paired = TRUE, exact = FALSE) gives
    # p = 0.009091 (normal approximation with continuity correction, ties and a zero present).
    assert r.alt_tests["Wilcoxon signed-rank"] == pytest.approx(0.009091, abs=1e-5)


def test_mcnemar_exact_10_vs_2():
    assert mcnemar_exact(10, 2) == pytest.approx(0.03857, abs=5e-6)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    assert mcnemar_exact(0, 0) == 1.0


def test_mcnemar_through_compare(make_frame):
    # 10 pairs where only B is right, 2 where only A is, 30 concordant.
    a = np.r_[np.zeros(10), np.ones(2), np.ones(20), np.zeros(10)]
    b = np.r_[np.ones(10), np.zeros(2), np.ones(20), np.zeros(10)]
    r = compare(make_frame({"a": a, "b": b}), "a", "b")
    assert r.kind == "binary"
    assert r.p_value == pytest.approx(0.03857, abs=5e-6)
    assert r.discordant == {"b_higher": 10, "a_higher": 2, "equal": 30}
    assert r.estimate == pytest.approx(8 / 42)
    # The CI is Newcombe's for p_B - p_A with first variable B.
    assert r.ci == pytest.approx(newcombe_paired_ci(20, 10, 2, 10))


def test_bh_and_holm_reference():
    p = [0.01, 0.04, 0.03, 0.005]
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert adjust_pvalues(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # NaNs are skipped and the family is the non-NaN ones.
    assert holm([0.01, np.nan, 0.04]) == pytest.approx([0.02, np.nan, 0.04], nan_ok=True)
    # Holm never exceeds 1 and never goes below the raw p-value.
    q = np.array([0.5, 0.9, 0.2])
    assert (holm(q) <= 1).all() and (holm(q) >= q).all()


def test_wilson_reference():
    assert wilson_interval(0, 30)[1] == pytest.approx(0.1135, abs=5e-5)
    assert wilson_interval(0, 30)[0] == 0.0
    # Newcombe (1998a), example 81/263: 0.2553 to 0.3662.
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)


def test_newcombe_paired_reference():
    # Fagerland, Lydersen & Laake (2017), ch. 8, Cavo et al. (2012): -0.0621 (-0.1186 to -0.0046).
    lo, hi = newcombe_paired_ci(59, 6, 16, 80)
    assert (lo, hi) == pytest.approx((-0.1186, -0.0046), abs=5e-5)
    # Swapping the two variables negates the interval.
    assert newcombe_paired_ci(59, 16, 6, 80) == pytest.approx((0.0046, 0.1186), abs=5e-5)


def test_newcombe_unpaired_reference():
    # Fagerland et al. (2017), ch. 4, Perondi et al. (2004): 0.1765 (0.0189 to 0.3404).
    assert newcombe_unpaired_ci(7, 34, 1, 34) == pytest.approx((0.0189, 0.3404), abs=5e-5)


def test_paired_power_n_199():
    # pwr.t.test(d = 0.2, power = 0.8, type = "paired") gives n = 198.15 -> 199 pairs.
    assert n_paired(0.2, 1.0, 0.05, 0.8) == 199
    assert power_paired(199, 0.2) >= 0.8 > power_paired(198, 0.2)
    assert plan(1.0, effect=0.2).n_required == 199
    assert mde_paired(199, 1.0) == pytest.approx(0.2, abs=2e-3)
    # Scale invariance: effect 2 with SD 10 is the same d.
    assert n_paired(2.0, 10.0) == 199


def test_srm_reference():
    assert not srm_check([5000, 5200]).flagged
    assert srm_check([5000, 5400]).flagged
    assert srm_check([5000, 5200]).p_value == pytest.approx(0.04767, abs=1e-5)
    # Planned 90/10 split: observing it is fine, observing 50/50 is not.
    assert not srm_check([9000, 1000], [0.9, 0.1]).flagged
    assert srm_check([5000, 5000], [0.9, 0.1]).flagged


def test_cluster_robust_se_matches_statsmodels():
    # statsmodels OLS(d, 1).fit(cov_type="cluster", groups=g).bse (CR1) = 0.245787555896845
    d = np.array([0.5, 1.2, -0.3, 0.8, 2.0, 1.1, -0.6, 0.4, 0.9])
    g = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    se, n_clusters = cluster_robust_se(d, g)
    assert se == pytest.approx(0.245787555896845, rel=1e-12)
    assert n_clusters == 3
    # Singleton clusters reduce to the ordinary standard error.
    se1, _ = cluster_robust_se(d, np.arange(d.size))
    assert se1 == pytest.approx(d.std(ddof=1) / 3)
    # Vectorised over runs.
    both, _ = cluster_robust_se(np.vstack([d, 2 * d]), g)
    assert both == pytest.approx([se, 2 * se])


def test_msprt_matches_mixture_integral_and_johari_formula():
    est, var, tau = 0.21, 0.01, 0.15

    def integrand(theta: float) -> float:
        return (stats.norm.pdf(est, theta, math.sqrt(var)) / stats.norm.pdf(est, 0, math.sqrt(var))
                * stats.norm.pdf(theta, 0, tau))

    lam, _ = integrate.quad(integrand, -5, 5, points=[0, est])
    assert msprt_pvalue(est, var, tau) == pytest.approx(1 / lam, rel=1e-8)
    # Johari et al. (2017), two arms of n with known sigma^2:
    # Lambda_n = sqrt(2s2 / (2s2 + n t2)) exp(n^2 t2 diff^2 / (4 s2 (2s2 + n t2)))
    n, s2, t2, diff = 400, 1.3, 0.04, 0.25
    lam_j = math.sqrt(2 * s2 / (2 * s2 + n * t2)) * math.exp(
        n**2 * t2 * diff**2 / (4 * s2 * (2 * s2 + n * t2)))
    assert msprt_pvalue(diff, 2 * s2 / n, math.sqrt(t2)) == pytest.approx(1 / lam_j, rel=1e-10)
    # Running minimum over looks; zero variance gives p = 1.
    assert always_valid_pvalues([0.3, 0.0], [0.01, 0.01], 0.2).tolist() == [
        pytest.approx(float(msprt_pvalue(0.3, 0.01, 0.2)))] * 2
    assert msprt_pvalue(1.0, 0.0, 0.1) == 1.0


def test_sign_flip_matches_scipy_permutation_test():
    rng = np.random.default_rng(3)
    for n in (6, 11, 13):  # exact enumeration: identical p-values
        d = rng.normal(0.4, 1.0, n)
        ref = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=9999)
        p, exact = sign_flip_test(d, 9999)
        assert exact and p == pytest.approx(ref.pvalue, rel=1e-12)
    d = rng.normal(0.15, 1.0, 150)  # Monte Carlo: agree within simulation error
    ref = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=10000,
                                 vectorized=True, random_state=1)
    p, exact = sign_flip_test(d, 10000, seed=2)
    assert not exact
    assert p == pytest.approx(ref.pvalue, abs=4 * math.sqrt(ref.pvalue / 10000) + 1e-3)
    # ... and with the t-test, which it approximates at this n.
    assert p == pytest.approx(stats.ttest_1samp(d, 0).pvalue, abs=0.01)


def test_bca_and_percentile_bootstrap_match_scipy():
    rng = np.random.default_rng(7)
    a = rng.lognormal(0, 0.8, 300)
    b = a * 0.9 + rng.normal(0, 0.3, 300)
    cases = [
        ("mean_diff", None, lambda x, y, axis: np.mean(y - x, axis=axis), "BCa"),
        ("ratio", None, lambda x, y, axis: y.sum(axis=axis) / x.sum(axis=axis), "BCa"),
        ("quantile_diff", 0.9,
         lambda x, y, axis: np.quantile(y, 0.9, axis=axis) - np.quantile(x, 0.9, axis=axis),
         "percentile"),
    ]
    for statistic, q, fn, method in cases:
        ours = paired_bootstrap(a, b, statistic, q=q, n_boot=10_000, seed=0)
        ref = stats.bootstrap((a, b), fn, paired=True, vectorized=True, n_resamples=10_000,
                              method=method, random_state=1)
        width = ours.ci[1] - ours.ci[0]
        assert ours.method.endswith(method)
        assert ours.ci[0] == pytest.approx(ref.confidence_interval.low, abs=0.06 * width)
        assert ours.ci[1] == pytest.approx(ref.confidence_interval.high, abs=0.06 * width)
        assert ours.se == pytest.approx(ref.standard_error, rel=0.05)


def _draw(seed: int, n: int, m: int) -> np.ndarray:
    return _uniform_indices(np.random.SFC64(seed), n, m, np.empty(m, np.int64),
                            np.empty(m, np.uint32)).copy()


def test_uniform_indices_are_exactly_uniform():
    # n = 3 * 2^30: a quarter of the 32-bit draws must be rejected and redrawn; keeping them would
    # give indices >= n, and folding them back (x mod n) would make [0, 2^30) twice as likely.
    n = 3 << 30
    idx = _draw(0, n, 300_000)
    assert idx.min() >= 0 and idx.max() < n
    assert stats.chisquare(np.bincount(idx >> 30, minlength=3)).pvalue > 1e-3
    # n = 7: 2^32 is not a multiple of 7, so 4 of the 2^32 draws are redrawn.
    small = _draw(1, 7, 70_000)
    assert stats.chisquare(np.bincount(small, minlength=7)).pvalue > 1e-3
    # Deterministic for a seed, different across seeds.
    assert (_draw(2, 1000, 50) == _draw(2, 1000, 50)).all()
    assert not (_draw(2, 1000, 50) == _draw(3, 1000, 50)).all()


def test_weighted_quantile_equals_numpy_on_the_expanded_sample():
    rng = np.random.default_rng(0)
    values = np.sort(rng.normal(size=25))
    counts = rng.integers(0, 4, size=(50, 25))
    counts[:, 0] += 1
    for q in (0.05, 0.5, 0.95, 1.0):
        got = _weighted_quantile(values, counts, q)
        want = [np.quantile(np.repeat(values, c), q) for c in counts]
        assert got == pytest.approx(want, rel=1e-12)


def test_bradley_terry_recovers_known_strengths():
    # Strengths 1, 2, 4 with win counts equal to their expectations: the MLE is exact.
    rows = []
    for (x, y, nx, ny) in [("s1", "s2", 1, 2), ("s1", "s4", 1, 4), ("s2", "s4", 1, 2)]:
        rows += [{"a": x, "b": y, "winner": x}] * nx + [{"a": x, "b": y, "winner": y}] * ny
    table = bradley_terry(pd.DataFrame(rows), n_boot=300, seed=0)
    want = np.log([4, 2, 1]) - np.log([1, 2, 4]).mean()
    assert table.index.tolist() == ["s4", "s2", "s1"]
    assert table["strength"].to_numpy() == pytest.approx(want, abs=1e-7)
    assert table.attrs["win_probability"].loc["s4", "s1"] == pytest.approx(0.8)
    assert (table["ci_low"] <= table["strength"]).all() and (table["strength"] <= table["ci_high"]).all()
    assert table["rank"].tolist() == [1, 2, 3]


def test_bradley_terry_two_players_and_ties():
    games = pd.DataFrame({"a": ["x"] * 4, "b": ["y"] * 4, "winner": ["x", "x", "x", "y"]})
    table = bradley_terry(games, n_boot=0)
    assert table.loc["x", "strength"] - table.loc["y", "strength"] == pytest.approx(math.log(3))
    # A tie counts as half a win each: 2 wins + 2 ties vs 2 losses... -> 3 : 1 again.
    tied = pd.DataFrame({"a": ["x"] * 4, "b": ["y"] * 4, "winner": ["x", "tie", "tie", "y"]})
    t2 = bradley_terry(tied, n_boot=0)
    assert t2.loc["x", "strength"] == pytest.approx(0.0, abs=1e-9)
    assert t2.loc["x", "ties"] == 2
