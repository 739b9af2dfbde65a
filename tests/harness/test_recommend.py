"""Issue 16: the recommendation is the cheapest strategy that meets the constraints and is non-inferior to
the best feasible one (one-sided paired test at a margin); its reason and the A/B text agree."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from routerlab.errors import ConfigError
from routerlab.harness.experiment import Experiment
from routerlab.harness.recommend import DEFAULT_MARGIN, score_matrix
from routerlab.harness.results import RESULT_COLUMNS, Results
from routerlab.stats.curves import noninferiority


def _synthetic(n: int = 400, seed: int = 0) -> Results:
    """big (best, dear), twin (big's answers with 2 % flipped, cheaper), weak (cheapest), slow (dear, slow)."""
    rng = np.random.default_rng(seed)
    big = (rng.random(n) < 0.8).astype(float)
    twin = big.copy()
    flip = rng.choice(n, size=n // 50, replace=False)
    twin[flip] = 1 - twin[flip]
    spec = {"big": (big, 0.010, 2.0), "twin": (twin, 0.004, 1.5), "weak": ((rng.random(n) < 0.5).astype(float), 0.001, 0.5),
            "slow": (big.copy(), 0.012, 30.0)}
    rows = [{"strategy": name, "prompt_id": f"p{i}", "task": "t", "sample": 0, "split": "all", "models_called": name,
             "final_model": name, "answer": "x", "score": sc[i], "input_tokens": 10, "output_tokens": 5, "cost": cost,
             "latency": lat, "ttft": np.nan, "simulated_latency": True, "cached": False, "error_type": "", "error": ""}
            for name, (sc, cost, lat) in spec.items() for i in range(n)]
    return Results(pd.DataFrame(rows, columns=RESULT_COLUMNS), {"dataset": "synthetic"})


def test_a_cheaper_strategy_is_chosen_only_when_shown_non_inferior():
    res = _synthetic()
    t = noninferiority(score_matrix(res)["twin"].to_numpy(), score_matrix(res)["big"].to_numpy(), margin=0.05)
    assert t.noninferior and t.lower > -0.05
    wide = res.recommend(margin=0.05)
    assert (wide.best, wide.strategy) == ("big", "twin")
    assert f"may lose up to {-t.lower:.3f} quality" in wide.reason and re.search(r"p [=<] 0\.\d{3}", wide.reason) and "α = 0.05" in wide.reason
    tight = res.recommend(margin=0.0)  # twin is a little worse: at margin 0 nothing cheaper is acceptable
    assert tight.strategy == "big" and "no cheaper one is shown non-inferior" in tight.reason
    assert res.recommend(budget=5.0, margin=0.05).strategy == "twin"  # big is out; twin is the best left
    assert res.recommend(budget=0.5, margin=0.05).strategy is None
    assert res.recommend(max_latency=1.0).strategy == "weak"
    q = res.summary()["quality"]
    assert res.recommend(quality_floor=q["big"] - 1e-9, margin=0.05).strategy == "big"  # twin is below the floor
    assert res.recommend(quality_floor=q["big"] + 1e-3).strategy is None


def test_the_reason_and_the_ab_text_come_from_one_test():
    res = _synthetic()
    for margin in (0.0, 0.01, 0.02, 0.05, 0.1):
        rec = res.recommend(margin=margin)
        t = rec.test
        assert t is not None and t.margin == margin
        nums = re.findall(r"[-+]?\d+\.\d{3}", rec.ab_text())
        assert f"{t.lower:+.3f}" in rec.ab_text() and f"{max(0.0, -t.lower):.3f}" in rec.reason
        assert ("non-inferior at margin" in rec.ab_text()) and bool(nums)
        assert (rec.strategy != rec.best) == t.noninferior  # chosen cheaper ⇔ the test shows it


def test_rule_invariants_on_the_bundled_data(zeroeval):
    """On real data, for every margin and budget: the recommendation meets the constraints; a cheaper
    choice than the best has its lower bound above −margin; no feasible strategy cheaper than the choice
    is non-inferior; the dashboard shows the same choice, reason and test."""
    res = Experiment(zeroeval, models=["gpt-4o", "claude-3.5-sonnet", "gpt-4o-mini", "llama-3.1-70b",
                                       "gemini-1.5-flash"]).run(progress=False)
    s = res.summary()
    for margin in (0.0, 0.02, 0.05, 0.08):
        for budget in (None, 4.0, 1.0, 0.3, 0.15):
            rec = res.recommend(budget=budget, margin=margin)
            feasible = s[s["cost_per_1k"] <= (budget if budget is not None else np.inf)]
            assert rec.best == feasible["quality"].idxmax()
            chosen = rec.strategy
            assert chosen in feasible.index
            if chosen != rec.best:
                assert rec.tests[chosen].lower > -margin and rec.tests[chosen].p_value < rec.alpha
            cheaper = feasible[feasible["cost_per_1k"] < feasible.loc[chosen, "cost_per_1k"]].index
            assert not any(rec.tests[c].noninferior for c in cheaper)
            d = res.dashboard(widgets=False, budget=budget if budget is not None else 1e9, margin=margin)
            assert d.recommended == chosen
            html = d.recommendation_html()
            assert rec.ab_text().split(":")[1][:40] in html.replace("&gt;", ">")


def test_default_margin_and_bad_arguments():
    res = _synthetic()
    assert res.recommend().margin == DEFAULT_MARGIN == 0.02
    with pytest.raises(ConfigError, match="margin"):
        res.recommend(margin=-0.1)
    with pytest.raises(ConfigError, match="alpha"):
        res.recommend(alpha=0.9)


def test_oracles_are_never_recommended():
    res = _synthetic()
    df = res.df
    oracle = df[df["strategy"] == "big"].assign(strategy="hindsight", score=1.0, cost=0.0)
    r = Results(pd.concat([df, oracle]), {"oracles": ["hindsight"]})
    rec = r.recommend(margin=0.05)
    assert rec.strategy == "twin" and "not deployable" in rec.table.loc["hindsight", "why_not"]


@pytest.mark.parametrize("kwargs, field", [
    ({"budget": -1}, "budget"), ({"budget": 0}, "budget"), ({"budget": float("nan")}, "budget"),
    ({"budget": "cheap"}, "budget"), ({"max_latency": -2.0}, "max_latency"), ({"max_latency": float("inf")}, "max_latency"),
    ({"margin": 2}, "margin"), ({"margin": 1.0}, "margin"), ({"margin": -0.01}, "margin"), ({"margin": float("nan")}, "margin"),
    ({"alpha": 0}, "alpha"), ({"alpha": 0.9}, "alpha"), ({"quality_floor": 1.5}, "quality_floor"),
    ({"quality_floor": -0.1}, "quality_floor"), ({"exclude": ["no-such-strategy"]}, "exclude"),
])
def test_impossible_constraints_are_refused_naming_the_argument(kwargs, field):
    res = _synthetic(n=50)
    with pytest.raises(ValueError, match=field):  # before: budget=-1 "No strategy meets budget <= $-1.00"; margin=2 a pick
        res.recommend(**kwargs)
