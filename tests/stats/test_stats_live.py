"""ABTest: hashed assignment, recorded outcomes, unpaired analysis, SRM and the mSPRT."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from scipy import special, stats

from routerlab.errors import ConfigError
from routerlab.stats import ABTest, InsufficientDataError, sequential_pvalues


def test_assignment_is_deterministic_salted_and_weighted():
    t1 = ABTest("exp", arms=("control", "cascade"), salt="s1")
    t2 = ABTest("exp", arms=("control", "cascade"), salt="s1")
    units = [f"user-{i}" for i in range(4000)]
    arms1 = [t1.assign(u) for u in units]
    assert arms1 == [t2.assign(u) for u in units]  # same salt: same arms, in any process
    # The bucket is the first 8 bytes of SHA-256("salt:unit") as a fraction of 2^64.
    digest = hashlib.sha256(b"s1:user-0").digest()
    assert t1.bucket("user-0") == int.from_bytes(digest[:8], "big") / 2**64
    share = arms1.count("control") / len(units)
    assert abs(share - 0.5) < 0.03
    other = ABTest("exp", arms=("control", "cascade"), salt="s2")
    moved = sum(a != other.assign(u) for a, u in zip(arms1, units))
    assert 0.4 < moved / len(units) < 0.6  # a new salt reshuffles
    skewed = ABTest("exp", weights=(0.9, 0.1))
    share_a = sum(skewed.assign(u) == "A" for u in units) / len(units)
    assert abs(share_a - 0.9) < 0.02


def test_binary_outcomes_two_proportion_z():
    t = ABTest("conv", min_n=10)
    rng = np.random.default_rng(0)
    for i in range(3000):
        u = f"u{i}"
        arm = t.assign(u)
        t.record(u, bool(rng.random() < (0.20 if arm == "A" else 0.25)))
    r = t.analyze()
    frame = t.to_frame()
    ka = frame.loc[frame["arm"] == "A", "value"]
    kb = frame.loc[frame["arm"] == "B", "value"]
    pooled = (ka.sum() + kb.sum()) / (len(ka) + len(kb))
    z = (kb.mean() - ka.mean()) / math.sqrt(pooled * (1 - pooled) * (1 / len(ka) + 1 / len(kb)))
    assert r.test == "two-proportion z (pooled)"
    assert r.p_value == pytest.approx(2 * special.ndtr(-abs(z)))
    assert r.ci[0] < r.estimate < r.ci[1]
    assert r.n_a + r.n_b == 3000 and not r.srm.flagged
    assert 0 <= r.always_valid_p <= 1
    assert r.always_valid_p >= r.p_value  # the price of peeking is paid in p
    assert "Live A/B test" in str(r) and "<table>" in r._repr_html_()
    assert r.to_dict()["srm"]["flagged"] is False


def test_continuous_outcomes_welch_and_mann_whitney():
    t = ABTest("latency", arms=("old", "new"), higher_is_better=False, min_n=10)
    rng = np.random.default_rng(1)
    for i in range(600):
        u = f"r{i}"
        t.record(u, rng.lognormal(0.0 if t.assign(u) == "old" else -0.3, 0.5))
    r = t.analyze()
    frame = t.to_frame()
    old = frame.loc[frame["arm"] == "old", "value"].to_numpy()
    new = frame.loc[frame["arm"] == "new", "value"].to_numpy()
    ref = stats.ttest_ind(new, old, equal_var=False)
    assert r.p_value == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval()
    assert r.ci == pytest.approx((ci.low, ci.high))
    assert r.alt_tests["Mann-Whitney U"] == pytest.approx(stats.mannwhitneyu(new, old).pvalue)
    assert r.decision == "B better"  # new is faster and lower is better


def test_always_valid_p_equals_sequential_computation():
    t = ABTest("seq", min_n=5, tau=0.2)
    rng = np.random.default_rng(2)
    values, arms = [], []
    for i in range(300):
        v = float(rng.normal(0.3 if t.assign(i) == "B" else 0.0))
        arms.append(t.record(i, v))
        values.append(v)
    is_a = np.array(arms) == "A"
    v = np.array(values)
    va, vb = np.where(is_a, v, 0), np.where(is_a, 0, v)
    seq = sequential_pvalues(np.cumsum(is_a), np.cumsum(va), np.cumsum(va**2), np.cumsum(~is_a),
                             np.cumsum(vb), np.cumsum(vb**2), tau=0.2, min_n=5)
    assert t.analyze().always_valid_p == pytest.approx(seq[-1])
    assert (np.diff(seq) <= 0).all()  # a running minimum never goes back up


def test_srm_flag_overrides_the_decision():
    t = ABTest("broken", min_n=5)
    for i in range(1000):
        t.record(f"u{i}", 1.0 if i % 2 else 0.0, arm="A" if i < 560 else "B")
    r = t.analyze()
    assert r.srm.flagged and r.decision == "sample ratio mismatch"
    assert "MISMATCH" in str(r.srm) and "MISMATCH" in r.srm._repr_html_()
    assert any("sample ratio mismatch" in w for w in r.warnings)


def test_repeated_units_are_averaged_and_validation():
    t = ABTest("rep", min_n=2)
    for i in range(40):
        t.record(f"u{i}", 1.0)
        t.record(f"u{i}", 0.0)
    r = t.analyze()
    assert r.n_a + r.n_b == 40
    assert any("several records" in w for w in r.warnings)
    assert sum(t.counts.values()) == 40
    with pytest.raises(ConfigError, match="arms"):
        t.record("x", 1.0, arm="C")
    with pytest.raises(ConfigError, match="finite"):
        t.record("x", float("nan"))
    with pytest.raises(ConfigError, match="exactly two"):
        ABTest("bad", arms=("A", "B", "C"))
    with pytest.raises(InsufficientDataError):
        ABTest("empty").analyze()
