"""Routing metrics against hand computations (small fixture and RouteLLM's GSM8K data)."""

from __future__ import annotations

import numpy as np
import pytest

from routerlab import datasets
from routerlab.harness.experiment import Experiment
from routerlab.stats.routing import aiq, apgr, cpt, curve_from_scores, nondecreasing_convex_hull, pgr

from helpers import ConstantRouter


def test_pgr_apgr_cpt_small_fixture_by_hand():
    # weak 0.5, strong 0.9; router points at 25 % / 50 % / 75 % strong calls
    share, quality = [0.25, 0.5, 0.75], [0.70, 0.80, 0.86]
    assert pgr(0.7, 0.5, 0.9) == pytest.approx(0.5)
    # PGR curve: (0,0) (.25,.5) (.5,.75) (.75,.9) (1,1); trapezoids of width .25
    by_hand = 0.25 * ((0 + .5) + (.5 + .75) + (.75 + .9) + (.9 + 1)) / 2
    assert apgr(share, quality, r_weak=0.5, r_strong=0.9) == pytest.approx(by_hand)
    assert cpt(share, quality, r_weak=0.5, r_strong=0.9, target=0.5) == pytest.approx(0.25)
    # PGR 0.8 lies between (.5,.75) and (.75,.9): .5 + (.8-.75)/(.9-.75)*.25
    assert cpt(share, quality, r_weak=0.5, r_strong=0.9, target=0.8) == pytest.approx(0.5 + 0.05 / 0.15 * 0.25)


def test_random_router_apgr_is_half():
    """RouteLLM's reference point: routing at random recovers the gap linearly, APGR = 0.5."""
    shares = np.linspace(0.1, 0.9, 9)
    assert apgr(shares, 0.6 + 0.3 * shares, r_weak=0.6, r_strong=0.9) == pytest.approx(0.5)


def test_aiq_and_hull_by_hand():
    cost, quality = [1, 2, 3, 4, 2.5], [0.5, 0.55, 0.9, 0.85, 0.6]
    hx, hy = nondecreasing_convex_hull(cost, quality)
    assert hx.tolist() == [1, 3] and hy.tolist() == [0.5, 0.9]  # (2,.55), (2.5,.6) under the chord; (4,.85) worse
    # ∫ over [1,4]: trapezoid 1..3 = 2*(.5+.9)/2 = 1.4, then flat .9 for 1 -> 2.3 / 3
    assert aiq(cost, quality) == pytest.approx(2.3 / 3, abs=1e-6)


def test_curve_from_scores_endpoints():
    qs, qw = np.array([1, 1, 0, 1.0]), np.array([0, 1, 0, 0.0])
    share, q = curve_from_scores(np.array([0.9, 0.1, 0.5, 0.7]), qs, qw, n_points=5)
    assert share[0] == 0 and q[0] == qw.mean() and share[-1] == 1 and q[-1] == qs.mean()
    assert q[2] == pytest.approx((1 + 1 + 0 + 1) / 4)  # top-2 prompts (0.9, 0.7) to strong: both gain


class EveryKth:
    """Sends every k-th prompt (by position in the id) to the strong model: a deterministic family."""

    prompt_only = True

    def __init__(self, k: int, strong: str, weak: str) -> None:
        self.k, self.strong, self.weak = k, strong, weak

    def _pick(self, pid: str) -> str:
        return self.strong if int(pid.rsplit("#", 1)[-1]) % self.k == 0 else self.weak

    def route(self, request):
        from routerlab.types import Decision

        return Decision(self._pick(request.prompt_id))

    def route_many(self, prompts):
        return np.array([self._pick(p) for p in prompts["prompt_id"]], dtype=object)


def test_routing_metrics_on_routellm_gsm8k_match_hand_computation():
    ds = datasets.load("routellm").filter(tasks=["gsm8k"])
    strong, weak = "gpt-4-1106-preview", "mixtral-8x7b"
    family = {f"every-{k}": EveryKth(k, strong, weak) for k in (2, 3, 5)}
    res = Experiment(ds, {"strong": ConstantRouter(strong), "weak": ConstantRouter(weak), **family}).run(progress=False)
    m = res.routing_metrics("strong", "weak", n_boot=200)

    # by hand, straight from RouteLLM's CSV columns (True/False correctness per model)
    raw = ds.outcomes.matrix("score")
    qs, qw = raw[strong].mean(), raw[weak].mean()
    idx = np.array([int(p.rsplit("#", 1)[-1]) for p in raw.index])
    points = []
    for k in (2, 3, 5):
        use = idx % k == 0
        points.append((use.mean(), np.where(use, raw[strong], raw[weak]).mean()))
    pts = sorted([(0.0, qw), *points, (1.0, qs)])
    x = np.array([p[0] for p in pts])
    y = (np.array([p[1] for p in pts]) - qw) / (qs - qw)
    assert m.loc["apgr", "value"] == pytest.approx(float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)))
    assert m.loc["apgr", "ci_lo"] < m.loc["apgr", "value"] < m.loc["apgr", "ci_hi"]
    # evenly spread routing recovers about half the gap, as RouteLLM reports for a random router
    assert 0.35 < m.loc["apgr", "value"] < 0.65
    # CPT(50 %): first crossing of PGR 0.5 on the same curve
    i = int(np.flatnonzero(y >= 0.5)[0])
    assert m.loc["cpt_50", "value"] == pytest.approx(x[i - 1] + (0.5 - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))
    assert 0 <= m.loc["aiq", "value"] <= 1
