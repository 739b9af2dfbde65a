#!/usr/bin/env python3
"""Harness benchmarks: `routerlab run` end to end, and vectorised replay at 1M prompts x 9 models.

    python benchmarks/bench_harness.py            # both
    python benchmarks/bench_harness.py --e2e      # only the end-to-end run
    python benchmarks/bench_harness.py --replay --prompts 1000000

Each figure is printed beside a baseline measured in the same run:
- end to end: `routerlab run` (vectorised path for prompt-only routers) vs the same run with
  `--no-fast-path` (every unit through the per-prompt path);
- replay: `replay_rows` (route_many + a join on the outcomes table) vs a plain Python loop that routes
  and looks up one prompt at a time (timed on a sample, reported per decision).
Peak memory of the replay is traced with tracemalloc and compared with the outcomes table's size.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd


def e2e(repeats: int = 3) -> None:
    def timed(extra: list[str]) -> float:
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "routerlab.cli", "run", "--no-progress", *extra],
                           check=True, capture_output=True)
            runs.append(time.perf_counter() - t)
        return statistics.median(runs)

    fast = timed([])
    slow = timed(["--no-fast-path"])
    print(f"routerlab run (default data, every built-in strategy): {fast:.2f} s median of {repeats} "
          f"(target < 5 s); per-prompt path only: {slow:.2f} s; ratio {slow / fast:.2f}x")


def synthetic(n_prompts: int, seed: int = 0):
    from routerlab.catalog import Catalog
    from routerlab.datasets import Dataset, Outcomes

    rng = np.random.default_rng(seed)
    models = ["gpt-4o", "gpt-4o-mini", "claude-3.5-sonnet", "claude-3-haiku", "gemini-1.5-flash",
              "llama-3.1-70b", "llama-3.1-8b", "gemma-2-2b", "claude-3-opus"]
    ids = pd.array([f"p{i}" for i in range(n_prompts)], dtype="string")
    tasks = np.array(["gsm", "crux", "math-l5"], dtype=object)[rng.integers(0, 3, n_prompts)]
    prompts = pd.DataFrame({"prompt_id": ids, "task": tasks, "prompt": ids, "reference": ""})
    skill = np.linspace(0.9, 0.3, len(models))
    out = pd.DataFrame({
        "prompt_id": np.repeat(np.asarray(ids, dtype=object), len(models)),
        "model": np.tile(np.array(models, dtype=object), n_prompts),
        "response": "",
        "input_tokens": rng.integers(50, 400, n_prompts * len(models)),
        "output_tokens": rng.integers(20, 600, n_prompts * len(models)),
        "score": (rng.random(n_prompts * len(models)) < np.tile(skill, n_prompts)).astype(float),
    })
    out["prompt_id"] = out["prompt_id"].astype("string")
    out["model"] = out["model"].astype("string")
    table_bytes = int(out.memory_usage(deep=True).sum())
    ds = Dataset("synthetic", prompts, Outcomes(out))
    return ds, models, table_bytes, Catalog.default()


def replay(n_prompts: int) -> None:
    from routerlab.harness.experiment import replay_rows
    from routerlab.providers.replay import ReplayCaller
    from routerlab.routers import FixedRouter, OracleRouter, RandomRouter, RoutingTable, TaskRouter

    t = time.perf_counter()
    ds, models, table_bytes, catalog = synthetic(n_prompts)
    print(f"synthetic outcomes: {n_prompts:,} prompts x {len(models)} models = {n_prompts * len(models):,} rows, "
          f"{table_bytes / 1e6:.0f} MB ({time.perf_counter() - t:.1f} s to build)")
    caller = ReplayCaller(ds, seed=0)
    strategies = {
        "fixed-gpt-4o": FixedRouter("gpt-4o"),
        "fixed-mini": FixedRouter("gpt-4o-mini"),
        "random": RandomRouter(models, seed=0),
        "task-table": TaskRouter(RoutingTable(default="gpt-4o", routes={"gsm": "gpt-4o-mini", "crux": "claude-3.5-sonnet",
                                                                         "math-l5": "gpt-4o"}), task_field="task"),
        "oracle": OracleRouter(ds),
    }
    prompts = ds.prompts
    total, decisions = 0.0, 0
    for name, router in strategies.items():  # timing pass: nothing traced
        t = time.perf_counter()
        rows = replay_rows(name, router, caller, prompts)
        dt = time.perf_counter() - t
        total += dt
        decisions += len(rows)
        assert len(rows) == n_prompts and (rows["error_type"] == "").all()
        print(f"  {name:12s} {n_prompts / dt / 1e6:6.2f} M decisions/s  (quality {rows['score'].mean():.3f})")
        del rows
    fast_rate = decisions / total
    tracemalloc.start()  # memory pass: tracing slows allocation-heavy code several-fold, so it is separate
    for name, router in strategies.items():
        rows = replay_rows(name, router, caller, prompts)
        del rows
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # baseline: one prompt at a time, as a plain loop would do it
    sample = min(20_000, n_prompts)
    reqs = [ds.request(pid) for pid in prompts["prompt_id"].iloc[:sample]]
    specs = {m: catalog[m] for m in models}
    t = time.perf_counter()
    for name, router in strategies.items():
        for r in reqs:
            model = router.route(r).model
            rec = ds.outcomes.record(r.prompt_id, model)
            specs[model].cost(int(rec["input_tokens"]), int(rec["output_tokens"]))
    base_rate = sample * len(strategies) / (time.perf_counter() - t)
    print(f"vectorised replay: {fast_rate / 1e6:.2f} M decisions/s over {len(strategies)} strategies "
          f"(target >= 1 M/s); per-prompt loop: {base_rate / 1e3:.1f} k decisions/s; ratio {fast_rate / base_rate:.0f}x")
    print(f"peak traced memory during replay: {peak / 1e6:.0f} MB = {peak / table_bytes:.2f}x the outcomes table "
          f"(target < 2x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--e2e", action="store_true")
    ap.add_argument("--replay", action="store_true")
    ap.add_argument("--prompts", type=int, default=1_000_000)
    args = ap.parse_args()
    both = not (args.e2e or args.replay)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if args.e2e or both:
        e2e()
    if args.replay or both:
        replay(args.prompts)


if __name__ == "__main__":
    main()
