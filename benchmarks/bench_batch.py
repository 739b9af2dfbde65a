"""What ``route_many(prompts_frame)`` pays for its column view (``Batch.of``), per call, on the 2,840
bundled zeroeval prompts: the frame as it is (issue 11) against the copy every call used to make.

Run: ``python benchmarks/bench_batch.py`` (``--rounds N``, ``--json out.json``).

Both sides run in the same process on the same frame and must give the same decisions (asserted).
The baseline is the code the change replaced, not a stand-in: ``Batch(frame=df.reset_index(drop=True))``,
exactly what ``Batch.of`` did with a DataFrame before; ours is ``Batch.of(df)``. Each router's
``route_many`` is timed through ``_route_batch`` on each batch, so the difference is the copy and
what it costs the columns read afterwards. Figures: best time per call of each side, and the median
over paired rounds of the ratio (old / new; each round alternates the two ``--inner`` times and keeps
each side's best, so a scheduling hiccup on a shared machine hits one measurement, not the ratio).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from routerlab import datasets  # noqa: E402
from routerlab.routers import (CapabilityRouter, ContextWindowRouter, FixedRouter, LearnedRouter,  # noqa: E402
                               RandomRouter, TaskRouter)
from routerlab.routers.base import Batch  # noqa: E402

from bench_routers import paired  # noqa: E402  (best of each side, median of paired rounds' ratios)


def _old(df: Any) -> Batch:
    return Batch(frame=df.reset_index(drop=True))  # Batch.of(DataFrame) before issue 11's change


def _route(router: Any, batch: Batch) -> np.ndarray:
    return np.asarray(router._route_batch(batch), dtype=object)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--inner", type=int, default=5)
    ap.add_argument("--json", help="write the figures here as JSON")
    args = ap.parse_args()
    ds = datasets.load("zeroeval")
    df = ds.prompts
    train, _ = ds.split(test_size=0.5, seed=0)
    by_label = TaskRouter(task_field="task").fit(train)
    routers = {
        "fixed": FixedRouter("gpt-4o-mini"),
        "random": RandomRouter(list(ds.models), seed=0),
        "task (labels)": by_label,
        "task (patterns)": TaskRouter(by_label.routing_table_, task_field=None),
        "capability": CapabilityRouter(preferred={"reasoning": 2, "coding": 1}, cost_weight=0.4),
        "context(capability)": ContextWindowRouter(CapabilityRouter(cost_weight=0.4)),
        "learned (kNN, features cached)": LearnedRouter(k=16, lam=0.1, search={}).fit(train),
    }
    rows = []
    for name, router in routers.items():
        assert (_route(router, _old(df)) == router.route_many(df)).all(), f"{name}: decisions differ"
        router.route_many(df)  # warm: token counts, features, compiled patterns
        old, new, ratio = paired(lambda: _route(router, _old(df)), lambda: _route(router, Batch.of(df)),
                                 args.rounds, args.inner)
        rows.append({"router": name, "old_us": old * 1e6, "new_us": new * 1e6, "saved_us": (old - new) * 1e6,
                     "ratio_old_over_new": ratio})
        print(f"{name:32s} old {old * 1e6:9.1f} µs  new {new * 1e6:9.1f} µs  saved {(old - new) * 1e6:7.1f} µs"
              f"  old/new {ratio:5.2f}x (median of {args.rounds} paired rounds)")
    copy = min(_timed(lambda: df.reset_index(drop=True)) for _ in range(200))
    print(f"the copy alone (reset_index of the {len(df):,}-row frame): {copy * 1e6:.1f} µs")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "copy_us": copy * 1e6}, indent=2))
    return 0


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    raise SystemExit(main())
