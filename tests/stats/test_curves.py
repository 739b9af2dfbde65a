"""Curve metrics (AIQ, APGR, CPT with paired bootstrap CIs) and the non-inferiority test, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from routerlab.stats.curves import curve_metrics, noninferiority


def test_curve_metrics_by_hand():
    n = 40
    weak_q = np.r_[np.ones(20), np.zeros(20)]
    strong_q = np.ones(n)
    weak_c, strong_c = np.full(n, 1.0), np.full(n, 3.0)
    # a router: half way in cost (2.0 per prompt) it recovers 3/4 of the gap (quality 0.875)
    mid_q = np.r_[np.ones(35), np.zeros(5)]
    q = np.vstack([weak_q, mid_q, strong_q])
    c = np.vstack([weak_c, np.full(n, 2.0), strong_c])
    m = curve_metrics(q, c, weak=(weak_q, weak_c), strong=(strong_q, strong_c), n_boot=200, seed=1)
    # PGR curve through (0, 0), (0.5, 0.75), (1, 1): area = 0.5*0.5*0.75 + 0.5*(0.75+1)/2 = 0.625
    assert m.loc["apgr", "estimate"] == pytest.approx(0.625)
    assert m.loc["cpt50", "estimate"] == pytest.approx(0.5 * 0.5 / 0.75)   # linear on the first segment
    assert m.loc["cpt80", "estimate"] == pytest.approx(0.5 + 0.5 * 0.05 / 0.25)
    # AIQ over [1, 3]: the hull is (1, .5) - (2, .875) - (3, 1): area/2 = (0.6875 + 0.9375) / 2
    assert m.loc["aiq", "estimate"] == pytest.approx((0.6875 + 0.9375) / 2, abs=1e-3)
    assert (m["lo"] <= m["estimate"] + 1e-9).all() and (m["estimate"] <= m["hi"] + 1e-9).all()
    assert m.loc["apgr", "hi"] > m.loc["apgr", "lo"]  # resampling prompts moves it
    again = curve_metrics(q, c, weak=(weak_q, weak_c), strong=(strong_q, strong_c), n_boot=200, seed=1)
    assert again.equals(m)  # seeded
    with pytest.raises(ValueError, match="prompts axis"):
        curve_metrics(q, c[:, :5], weak=(weak_q, weak_c), strong=(strong_q, strong_c))


def test_noninferiority_one_sided_paired_t():
    from scipy import stats

    rng = np.random.default_rng(0)
    a = (rng.random(500) < 0.80).astype(float)
    b = a.copy()
    flip = rng.choice(500, 30, replace=False)
    b[flip] = 1 - b[flip]
    r = noninferiority(a, b, margin=0.01, alpha=0.05)
    d = a - b
    t = (d.mean() + 0.01) / (d.std(ddof=1) / np.sqrt(500))
    assert r.p_value == pytest.approx(stats.t.sf(t, 499))
    assert r.estimate == pytest.approx(d.mean()) and r.lower < r.estimate
    assert r.noninferior == (r.p_value < 0.05)
    worse = noninferiority(np.zeros(100), np.ones(100) * 0.5 + (np.arange(100) % 2) * 0.5, margin=0.01)
    assert worse.p_value > 0.99 and not worse.noninferior
    with pytest.raises(ValueError):
        noninferiority(np.ones(1), np.ones(1))
