"""Where users wait (issue 16): import + load, ``routerlab run``, a dashboard slider move.

    python benchmarks/bench_face.py                     # every section, 5 repeats
    python benchmarks/bench_face.py --only dashboard    # one section
    python benchmarks/bench_face.py --baseline-tree ../main   # also time `routerlab run` of another checkout

Each figure comes with a real baseline measured in the same run:

- ``import``: a fresh interpreter running ``import routerlab; routerlab.datasets.load("zeroeval")``
  against one running what a user would otherwise run to get the same tables: ``import pandas`` and
  ``pandas.read_parquet`` of the two bundled files. And the bare interpreter start, the floor.
- ``run``: ``routerlab run --no-progress`` in a fresh process, against the same command of another
  checkout (``--baseline-tree``, e.g. the main branch) when given.
- ``dashboard``: the time a budget-slider move takes in the kernel (recommendation, plot PNG, table,
  text) with the blitted plot, against redrawing the whole frontier figure as before (same results,
  same moves). The browser's own timing of the same move is in ``tests/viz/test_browser.py``
  (``tests/artifacts/dashboard_timing.json``).

Prints one table; the load average before and after is part of it (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _fresh(code: str, tree: Path = ROOT) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tree, capture_output=True)
    return time.perf_counter() - t


def bench_import(repeat: int) -> list[tuple[str, float]]:
    data = ROOT / "datasets" / "zeroeval"
    ours = "import routerlab; routerlab.datasets.load('zeroeval')"
    plain = (f"import pandas as pd; pd.read_parquet({str(data / 'prompts.parquet')!r}); "
             f"pd.read_parquet({str(data / 'outcomes.parquet')!r})")
    rows = []
    for label, code in (("python -c pass (floor)", "pass"), ("pandas + read_parquet x2 (baseline)", plain),
                        ("import routerlab + datasets.load('zeroeval')", ours)):
        _fresh(code)  # warm the file cache
        rows.append((label, statistics.median(_fresh(code) for _ in range(repeat))))
    return rows


def bench_run(repeat: int, baseline: Path | None) -> list[tuple[str, float]]:
    cmd = "import sys; from routerlab.cli import main; sys.exit(main(['run', '--no-progress']))"
    rows = [("routerlab run (this tree)", statistics.median(_fresh(cmd) for _ in range(repeat)))]
    if baseline is not None:
        rows.append((f"routerlab run ({baseline})", statistics.median(_fresh(cmd, baseline) for _ in range(repeat))))
    return rows


def bench_dashboard(repeat: int) -> list[tuple[str, float]]:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    from routerlab import datasets
    from routerlab.cli import build_strategies
    from routerlab.harness.experiment import Experiment
    from routerlab.viz import figure_png

    ds = datasets.load("zeroeval")
    train, test = ds.split(0.5, seed=0)
    res = Experiment(test, build_strategies(train, ds.models, 0, evaluation=test), split="test").run(progress=False)
    dash = res.dashboard()
    moves = [(-1) ** i for i in range(20 * repeat)]

    def move(step: int) -> None:
        dash.budget_slider.value = max(0.0, dash.budget_slider.value + step * dash.budget_slider.step)

    move(-1)
    move(1)  # the first move draws the static figure once
    took = []
    for step in moves:
        t = time.perf_counter()
        move(step)
        took.append(time.perf_counter() - t)
    full = []
    for step in moves[: 4 * repeat]:  # the old path: the whole figure, bbox_inches="tight"
        dash.set(budget=dash.budget + step * dash.budget_step)
        t = time.perf_counter()
        figure_png(dash.figure())
        dash.table_html()
        dash.recommendation_html()
        full.append(time.perf_counter() - t + 0.0)
    return [("slider move, blitted plot: p50", float(np.percentile(took, 50))),
            ("slider move, blitted plot: p95", float(np.percentile(took, 95))),
            ("slider move, whole figure redrawn (before): p50", float(np.percentile(full, 50))),
            ("slider move, whole figure redrawn (before): p95", float(np.percentile(full, 95)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", choices=["import", "run", "dashboard"])
    ap.add_argument("--baseline-tree", type=Path, help="another checkout whose `routerlab run` to time as well")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    rows: list[tuple[str, float]] = []
    if args.only in (None, "import"):
        rows += bench_import(args.repeat)
    if args.only in (None, "run"):
        rows += bench_run(max(1, args.repeat // 2), args.baseline_tree)
    if args.only in (None, "dashboard"):
        rows += bench_dashboard(args.repeat)
    print(f"load average after: {os.getloadavg()}")
    print("| what | seconds (median unless p95) |\n|---|---:|")
    for label, secs in rows:
        print(f"| {label} | {secs:.3f} |")


if __name__ == "__main__":
    main()
