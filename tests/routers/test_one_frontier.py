"""One cost-quality frontier and one t quantile (issue 11): the routers that plan on a frontier or bound a
difference with Student's t use routerlab.stats, and decide exactly as their own copies did."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from routerlab.catalog import Catalog
from routerlab.datasets import Dataset, Outcomes
from routerlab.routers import BestOfN, CascadeRouter, JudgeVerdict, RoutingTable, builtin_strategies, clone
from routerlab.routers.cascade import _best_within_budget, _pareto
from routerlab.routers.defaults import frontier_models
from routerlab.routers.frugal import _plans


# --- the copies they had, kept here as the reference for "the same decisions" ---------------------
def _old_scan(points):
    out = []
    for cost, quality, payload in sorted(points, key=lambda p: (p[0], -p[1])):
        if not out or quality > out[-1][1]:
            out.append((cost, quality, payload))
    return out


def _old_budget(sims, groups, budget):
    front = [(0.0, 0.0, {})]
    for g in groups:
        options = _old_scan([(cst, q, j) for j, (q, cst) in enumerate(sims[g])])
        merged = [(c0 + c1, q0 + q1, {**picks, g: j}) for c0, q0, picks in front for c1, q1, j in options
                  if c0 + c1 <= budget]
        if not merged:
            return {h: int(np.argmin([cst for _, cst in sims[h]])) for h in groups}
        front = _old_scan(merged)
    return front[-1][2]


def _old_plan_frontier(models, quality, total, best):
    order = np.lexsort((-quality, total))
    frontier, top = [], -np.inf
    for i in order:
        if quality[i] > top and i != best and total[i] < total[best]:
            frontier.append(models[i])
            top = quality[i]
    return frontier


def _ties(rng, n):
    """Costs and qualities from a few values: equal costs, equal qualities and identical points."""
    return rng.integers(0, 5, n).astype(float), rng.integers(0, 5, n).astype(float)


def test_a_cascade_plans_on_the_stats_frontier_with_the_old_decisions():
    rng = np.random.default_rng(5)
    for _ in range(500):
        n = int(rng.integers(0, 12))
        c, q = _ties(rng, n)
        points = [(c[i], q[i], object()) for i in range(n)]  # payloads tell identical points apart
        assert [p[2] for p in _pareto(points)] == [p[2] for p in _old_scan(points)]
    for _ in range(200):  # the budgeted merge over tasks picks the same plans
        sims = {g: [tuple(map(float, pt)) for pt in rng.integers(0, 6, (int(rng.integers(1, 8)), 2))]
                for g in ("a", "b", "c")}
        budget = float(rng.integers(0, 12))
        assert _best_within_budget(sims, ["a", "b", "c"], budget) == _old_budget(sims, ["a", "b", "c"], budget)


def test_a_frugal_cascade_ladders_the_same_frontier_models():
    rng = np.random.default_rng(9)
    for _ in range(500):
        m = int(rng.integers(1, 9))
        total, quality = _ties(rng, m)
        models = [f"m{i}" for i in range(m)]
        best = int(np.argmax(quality))
        expected = _old_plan_frontier(models, quality, total, best)
        plans = _plans(models, quality, total, best)
        assert [p[0][0] for p in plans if len(p) == 2 and len(p[0]) == 1] == expected


def _priced(points: dict[str, tuple[float, float]], n: int = 10) -> Dataset:
    """A data set whose models have the given (USD per prompt, accuracy), recorded."""
    prompts = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(n)], "task": "t",
                            "prompt": [f"question {i}" for i in range(n)], "reference": "x"})
    rows = [{"prompt_id": f"p{i}", "model": m, "response": "r", "input_tokens": 10, "output_tokens": 10,
             "cost": cost, "score": float(i < round(acc * n))} for m, (cost, acc) in points.items() for i in range(n)]
    return Dataset("priced", prompts, Outcomes(pd.DataFrame(rows)))


def test_frontier_models_leaves_out_a_model_as_dear_as_a_better_one():
    """Two models at one price: the worse one is dominated (the cumulative-maximum scan marked it, because
    it sorted the cheaper-or-equal model of lower quality first)."""
    table = frontier_models(_priced({"a": (1e-3, 0.5), "b": (1e-3, 0.8), "c": (2e-3, 0.9), "d": (3e-3, 0.9)}),
                            Catalog.default())
    assert table["frontier"].to_dict() == {"a": False, "b": True, "c": True, "d": False}


def test_frontier_models_on_the_bundled_data_is_the_definition(split):
    train, _ = split
    table = frontier_models(train, Catalog.default())
    c, q = table["cost"].to_numpy(), table["quality"].to_numpy()
    by_hand = [not any(c[j] <= c[i] and q[j] >= q[i] and (c[j] < c[i] or q[j] > q[i]) for j in range(len(c)))
               for i in range(len(c))]
    assert table["frontier"].tolist() == by_hand and sum(by_hand) >= 3


def test_the_routing_table_bounds_use_the_stats_t_quantile(split):
    """learn()'s one-sided bounds: mean ± t(confidence, n - 1) · sd / √n, t as scipy.stats computes it."""
    train, _ = split
    checked = 0
    for confidence in (0.5, 0.9, 0.95):
        table = RoutingTable.learn(train, tolerance=0.02, confidence=confidence)
        stats = table.evidence()
        scores = train.outcomes.matrix()
        tasks = train.prompts.set_index("prompt_id")["task"]
        for row in stats[stats["task"] != "(all)"].itertuples():
            part = scores[tasks.reindex(scores.index).to_numpy() == row.task]
            best = stats[(stats["task"] == row.task)].sort_values(["quality", "cost"], ascending=[False, True])
            d = (part[row.model] - part[best["model"].iloc[0]]).dropna().to_numpy()
            if row.model == best["model"].iloc[0] or len(d) < 2:
                continue
            half = sps.t.ppf(confidence, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
            assert row.diff_lo == pytest.approx(d.mean() - half, abs=2e-6)
            assert row.diff_hi == pytest.approx(d.mean() + half, abs=2e-6)
            checked += 1
    assert table.routes and checked >= 3 * 3 * 5  # three tasks, five or more rivals each


# --- one judge per strategy ----------------------------------------------------------------------
def test_each_builtin_judge_strategy_has_its_own_judge(small_split):
    train, test = small_split
    both = builtin_strategies(train, seed=0, evaluation=test)
    cascade, best = both["cascade-judge"], both["best-of-n"]
    assert isinstance(cascade, CascadeRouter) and isinstance(cascade.signal, JudgeVerdict)
    assert isinstance(best, BestOfN)
    cj, bj = cascade.signal.judge, best.judge
    assert cj is not bj and cj.caller is not bj.caller
    assert {k: v for k, v in cj.get_params(deep=True).items() if "__" in k} == \
        {k: v for k, v in bj.get_params(deep=True).items() if "__" in k}  # the same settings
    before = clone(cascade).get_params(deep=True)["signal__judge__model"]
    best.set_params(judge__model="gpt-4o", judge__caller__error_rate=0.0)
    assert cascade.get_params(deep=True)["signal__judge__model"] == before == "gpt-4o-mini"
    assert cascade.signal.judge.caller.error_rate == 0.2
    for a, b in itertools.combinations(builtin_strategies(None).values(), 2):  # the catalog-only set too
        ja, jb = getattr(getattr(a, "signal", a), "judge", None), getattr(getattr(b, "signal", b), "judge", None)
        assert ja is None or ja is not jb
