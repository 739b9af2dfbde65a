"""Error rates under simulated nulls (2,000 seeded runs each, vectorised across runs).

With 2,000 runs the standard error of a 5% rejection rate is 0.5 percentage points, so the
+/-1.5 point bands are three standard errors wide; the seeds make each check deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from routerlab.stats import (
    cluster_robust_se,
    compare,
    mcnemar_exact,
    power_paired,
    sequential_pvalues,
)
from routerlab.stats.paired import _wilcoxon

RUNS = 2000
ALPHA = 0.05


def _correlated_pairs(rng: np.random.Generator, shape: tuple[int, int], rho: float):
    z1 = rng.normal(size=shape)
    z2 = rng.normal(size=shape)
    return z1, rho * z1 + np.sqrt(1 - rho**2) * z2


def test_paired_t_and_wilcoxon_hold_alpha_with_correlated_arms():
    rng = np.random.default_rng(20240601)
    a, b = _correlated_pairs(rng, (RUNS, 40), rho=0.7)
    t_p = stats.ttest_rel(b, a, axis=1).pvalue  # what compare() runs for continuous scores
    # compare() runs _wilcoxon per comparison; without ties it is scipy's exact test, which
    # vectorises over runs. Check the equivalence on some rows, then use the fast form.
    w_p = stats.wilcoxon(b - a, axis=1).pvalue
    assert [_wilcoxon(row) for row in (b - a)[:25]] == pytest.approx(w_p[:25].tolist(), rel=1e-12)
    assert abs((t_p < ALPHA).mean() - ALPHA) <= 0.015
    assert abs((w_p < ALPHA).mean() - ALPHA) <= 0.015


def test_paired_t_power_matches_power_paired():
    # Under an effect of d = 0.5 the rejection rate matches the noncentral-t power (0.869).
    rng = np.random.default_rng(1)
    a, b = _correlated_pairs(rng, (RUNS, 40), rho=0.7)
    sd = np.sqrt(2 * (1 - 0.7))
    d = b + 0.5 * sd - a
    rate = (stats.ttest_1samp(d, 0, axis=1).pvalue < ALPHA).mean()
    assert rate == pytest.approx(power_paired(40, 0.5 * sd, sd), abs=0.025)


def test_exact_mcnemar_never_exceeds_alpha():
    rng = np.random.default_rng(7)
    n = 80
    # Correlated binary outcomes with equal marginals (accuracy ~0.6 for both arms).
    za, zb = _correlated_pairs(rng, (RUNS, n), rho=0.5)
    cut = special.ndtri(0.4)
    a, b = za > cut, zb > cut
    b_only = np.sum(b & ~a, axis=1)
    a_only = np.sum(a & ~b, axis=1)
    # mcnemar_exact once per distinct (b_only, a_only) table, mapped back to the runs.
    tables, inverse = np.unique(np.c_[b_only, a_only], axis=0, return_inverse=True)
    p = np.array([mcnemar_exact(int(x), int(y)) for x, y in tables])[inverse.ravel()]
    rate = (p < ALPHA).mean()
    assert rate <= ALPHA
    assert rate > 0.01  # conservative, not dead


def test_msprt_survives_peeking_where_naive_t_does_not():
    rng = np.random.default_rng(99)
    peeks, per_peek = 20, 25
    xa = rng.normal(size=(RUNS, peeks * per_peek))
    xb = rng.normal(size=(RUNS, peeks * per_peek))
    at = np.arange(1, peeks + 1) * per_peek - 1  # index of the last unit at each peek

    def cum(x: np.ndarray):
        return np.cumsum(x, axis=1)[:, at], np.cumsum(x**2, axis=1)[:, at]

    n = (at + 1).astype(float)
    sa, qa = cum(xa)
    sb, qb = cum(xb)
    # Naive: a Welch t-test at every peek, stop at the first p < 0.05.
    ma, mb = sa / n, sb / n
    va, vb = (qa - n * ma**2) / (n - 1), (qb - n * mb**2) / (n - 1)
    t = (mb - ma) / np.sqrt(va / n + vb / n)
    naive = 2 * stats.t.sf(np.abs(t), 2 * n - 2)
    naive_rate = (naive.min(axis=1) < ALPHA).mean()
    # mSPRT at the same peeks (the code ABTest.analyze runs).
    seq = sequential_pvalues(n, sa, qa, n, sb, qb, tau=0.1, min_n=20)
    msprt_rate = (seq[:, -1] < ALPHA).mean()
    assert naive_rate > 0.15
    assert msprt_rate <= ALPHA + 0.015
    # Stronger: looking after every single unit (alternating arms) still holds alpha.
    full = np.arange(1, peeks * per_peek + 1, dtype=float)
    every = sequential_pvalues(full, np.cumsum(xa, 1), np.cumsum(xa**2, 1), full, np.cumsum(xb, 1),
                               np.cumsum(xb**2, 1), tau=0.1, min_n=20)
    assert (every[:, -1] < ALPHA).mean() <= ALPHA + 0.015
    # And it has power: a 0.3 SD effect is detected in most runs by the last peek.
    eff = sequential_pvalues(n, sa, qa, n, sb + 0.3 * n, qb + 0.6 * sb + 0.09 * n, tau=0.1, min_n=20)
    assert (eff[:, -1] < ALPHA).mean() > 0.6


def test_clustered_analysis_holds_alpha_where_naive_does_not():
    rng = np.random.default_rng(2024)
    g, m = 50, 10
    clusters = np.repeat(np.arange(g), m)
    # Strong within-cluster correlation of the per-prompt difference (ICC = 0.5).
    d = rng.normal(size=(RUNS, g))[:, clusters] + rng.normal(size=(RUNS, g * m))
    mean = d.mean(axis=1)
    naive_p = 2 * stats.t.sf(np.abs(mean / (d.std(axis=1, ddof=1) / np.sqrt(g * m))), g * m - 1)
    se, n_clusters = cluster_robust_se(d, clusters)
    cl_p = 2 * stats.t.sf(np.abs(mean / se), n_clusters - 1)  # what compare(cluster=...) runs
    assert (naive_p < ALPHA).mean() > 0.2
    assert abs((cl_p < ALPHA).mean() - ALPHA) <= 0.015


def test_compare_cluster_wiring_on_one_dataset(make_frame):
    rng = np.random.default_rng(5)
    g, m = 12, 8
    task = np.repeat([f"t{i}" for i in range(g)], m)
    a = rng.normal(size=g * m)
    b = a + rng.normal(size=g)[np.repeat(np.arange(g), m)] * 0.5 + rng.normal(0, 0.2, g * m)
    df = make_frame({"a": a, "b": b}, "latency", task=task)
    r = compare(df, "a", "b", "latency", kind="continuous", cluster="task", n_boot=500)
    se, n_clusters = cluster_robust_se(b - a, task)
    assert r.n_clusters == n_clusters == g
    assert r.se == pytest.approx(se)
    assert r.p_value == pytest.approx(2 * stats.t.sf(abs((b - a).mean()) / se, g - 1))
    assert r.test.startswith("cluster-robust t (CR1, 12 clusters of 'task'")
    plain = compare(df, "a", "b", "latency", kind="continuous", n_boot=500)
    assert r.se > 1.5 * plain.se  # the naive SE ignores the shared cluster shifts
    assert any("ignoring clusters" in k for k in r.alt_tests)
    assert any("only 12 clusters" in w for w in r.warnings)
