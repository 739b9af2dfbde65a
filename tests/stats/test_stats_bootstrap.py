"""The vectorised bootstrap engine: determinism, thread independence, clusters, validation."""

from __future__ import annotations

import numpy as np
import pytest

from routerlab.errors import ConfigError
from routerlab.stats import paired_bootstrap
from routerlab.stats.bootstrap import mean_and_ratio, resample_sums


@pytest.fixture
def arms():
    rng = np.random.default_rng(0)
    a = rng.lognormal(size=700)
    return a, a * rng.lognormal(-0.1, 0.4, 700)


def test_resample_sums_match_an_explicit_loop():
    x = np.arange(10.0)
    sums = resample_sums([x, x**2], 500, seed=3, workers=1)
    assert sums.shape == (500, 2)
    # Every resample is a multiset of 10 values from x: its sum lies in the possible range and
    # the resampled sums of x and x^2 agree with some index set (check via the mean identity).
    assert (sums[:, 0] >= 0).all() and (sums[:, 0] <= 90).all()
    assert sums[:, 0].mean() == pytest.approx(45, abs=1.5)  # E[sum] = n * mean(x)
    assert np.var(sums[:, 0]) == pytest.approx(10 * np.var(x), rel=0.15)  # Var = n * var(x)


def test_same_seed_same_numbers_whatever_the_thread_count(arms):
    a, b = arms
    big_a = np.tile(a, 5)
    big_b = np.tile(b, 5)
    one = paired_bootstrap(big_a, big_b, n_boot=1000, seed=9, workers=1)
    two = paired_bootstrap(big_a, big_b, n_boot=1000, seed=9, workers=2)
    assert np.array_equal(one.distribution, two.distribution)
    assert one.ci == two.ci
    assert "BCa" in str(one) and "<table>" in one._repr_html_()
    other = paired_bootstrap(big_a, big_b, n_boot=1000, seed=10, workers=2)
    assert not np.array_equal(one.distribution, other.distribution)


def test_singleton_clusters_reproduce_the_plain_bootstrap(arms):
    a, b = arms
    plain = mean_and_ratio(a, b, n_boot=800, seed=4)
    clustered = mean_and_ratio(a, b, n_boot=800, seed=4, clusters=np.arange(a.size))
    for name in ("mean_diff", "ratio"):
        assert plain[name][0] == pytest.approx(clustered[name][0])
        assert plain[name][1] == pytest.approx(clustered[name][1], rel=1e-9)
        assert plain[name][2] == pytest.approx(clustered[name][2], rel=1e-9)


def test_singleton_clusters_reproduce_the_plain_quantile_bootstrap(arms):
    # Two code paths (partial sort per resample; cumulative counts per cluster) on the same
    # index stream must give the same quantile differences.
    a, b = arms
    plain = paired_bootstrap(a, b, "quantile_diff", q=0.9, n_boot=500, seed=4)
    clustered = paired_bootstrap(a, b, "quantile_diff", q=0.9, n_boot=500, seed=4,
                                 clusters=np.arange(a.size))
    assert clustered.distribution == pytest.approx(plain.distribution, rel=1e-12, abs=1e-12)


def test_cluster_bootstrap_is_wider_when_clusters_share_shifts():
    rng = np.random.default_rng(1)
    g, m = 40, 25
    cl = np.repeat(np.arange(g), m)
    a = rng.normal(size=g * m)
    b = a + rng.normal(size=g)[cl] + rng.normal(0, 0.3, g * m)
    plain = paired_bootstrap(a, b, n_boot=2000, seed=0)
    clustered = paired_bootstrap(a, b, n_boot=2000, seed=0, clusters=cl)
    assert clustered.method == "cluster BCa"
    assert (clustered.ci[1] - clustered.ci[0]) > 3 * (plain.ci[1] - plain.ci[0])
    q = paired_bootstrap(a, b, "quantile_diff", q=0.5, n_boot=1000, seed=0, clusters=cl)
    assert q.method == "cluster percentile"
    assert q.ci[0] <= q.estimate <= q.ci[1]


def test_validation(arms):
    a, b = arms
    with pytest.raises(ConfigError, match="equal length"):
        paired_bootstrap(a, b[:-1])
    with pytest.raises(ConfigError, match="n_boot"):
        paired_bootstrap(a, b, n_boot=10)
    with pytest.raises(ConfigError, match="statistic"):
        paired_bootstrap(a, b, "median")
    with pytest.raises(ConfigError, match="needs q"):
        paired_bootstrap(a, b, "quantile_diff")
    with pytest.raises(ConfigError, match="percentile"):
        paired_bootstrap(a, b, "quantile_diff", q=0.5, method="BCa")
