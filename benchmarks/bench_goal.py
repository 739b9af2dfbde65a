"""The goal table of issue 14: every strategy on a held-out split against the single models.

For each data set (``zeroeval`` and ``routellm`` by default), the seed-0 split (half held out) is
replayed across every single model, the built-in strategies of both groups (``default`` and
``learners``), all fitted on the train half only. Per strategy: quality, cost (USD over the held-out
prompts), share of the reference model's cost (the best single model on the train half: gpt-4o on
zeroeval, gpt-4-1106-preview on routellm), the one-sided paired non-inferiority p-value against that
model at a margin of 1 point (H0: worse by 1 point or more; α = 0.05), and the single model that
dominates it, if any (at least as good and no dearer, better on one).

Run: ``python benchmarks/bench_goal.py`` (``--datasets zeroeval,routellm``, ``--seed 0``, ``--markdown``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from routerlab import datasets  # noqa: E402
from routerlab.harness import Experiment  # noqa: E402
from routerlab.routers import FixedRouter  # noqa: E402
from routerlab.routers.defaults import builtin_strategies, frontier_models  # noqa: E402
from routerlab.catalog import Catalog  # noqa: E402
from routerlab.stats.curves import noninferiority  # noqa: E402


def goal_table(name: str, seed: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    ds = datasets.load(name)
    train, test = ds.split(0.5, seed=seed)
    t0 = time.perf_counter()
    strategies: dict[str, Any] = {m: FixedRouter(m) for m in ds.models}
    strategies.update(builtin_strategies(train, seed=seed, evaluation=test, groups=["all"]))
    fit_s = time.perf_counter() - t0
    res = Experiment(test, strategies, seed=seed).run(progress=False)
    reference = str(frontier_models(train, Catalog.default())["quality"].idxmax())
    scores = res.df.pivot(index="prompt_id", columns="strategy", values="score")
    summary = res.summary()
    ref_q, ref_c = float(summary.loc[reference, "quality"]), float(summary.loc[reference, "cost"])
    singles = summary.loc[ds.models]
    rows = []
    for strategy, r in summary.iterrows():
        q, c = float(r["quality"]), float(r["cost"])
        better = singles[(singles["quality"] >= q) & (singles["cost"] <= c) &
                         ((singles["quality"] > q) | (singles["cost"] < c))]
        ni = noninferiority(scores[strategy].to_numpy(), scores[reference].to_numpy(), margin=0.01, alpha=0.05)
        rows.append({"strategy": strategy, "kind": "model" if strategy in ds.models else "strategy",
                     "quality": q, "cost": c, "share_of_ref_cost": c / ref_c, "p_noninferior": ni.p_value,
                     "dominated_by": ", ".join(better.index) if strategy not in ds.models else ""})
    table = pd.DataFrame(rows).sort_values("quality", ascending=False).reset_index(drop=True)
    return table, {"dataset": name, "reference": reference, "reference_quality": ref_q, "reference_cost": ref_c,
                   "test_prompts": len(test), "fit_seconds": fit_s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="zeroeval,routellm")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", action="store_true", help="print markdown tables")
    args = ap.parse_args()
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        table, info = goal_table(name, args.seed)
        # goal (a) is about the strategies that learn, cascade or ensemble: not the baselines (oracle, random)
        # nor the typed-in capability router
        learned = table[(table["kind"] == "strategy") & ~table["strategy"].isin(["oracle", "random", "capability"])]
        dominated = learned[learned["dominated_by"] != ""]
        best = learned[(learned["share_of_ref_cost"] <= 0.2) & (learned["p_noninferior"] < 0.05)]
        print(f"\n{name}: {info['test_prompts']} held-out prompts (seed {args.seed}); reference {info['reference']} "
              f"(quality {info['reference_quality']:.3f}, ${info['reference_cost']:.2f}); strategies fitted in "
              f"{info['fit_seconds']:.1f} s")
        shown = table.assign(quality=table["quality"].map("{:.3f}".format), cost=table["cost"].map("${:.3f}".format),
                             share_of_ref_cost=table["share_of_ref_cost"].map("{:.1%}".format),
                             p_noninferior=table["p_noninferior"].map(lambda p: f"{p:.3g}"))
        print(shown.to_markdown(index=False) if args.markdown else shown.to_string(index=False))
        print(f"(a) learned / cascade / ensemble strategies dominated by a single model: {len(dominated)} "
              f"({', '.join(f'{s} by {b}' for s, b in zip(dominated['strategy'], dominated['dominated_by'])) or 'none'})")
        print(f"(b) non-inferior to {info['reference']} (margin 1 point, alpha 0.05) at <= 20% of its cost: "
              f"{', '.join(best['strategy']) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
