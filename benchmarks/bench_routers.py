"""Decisions per second of TaskRouter and CapabilityRouter, single and batched, against naive baselines.

Run: ``python benchmarks/bench_routers.py`` (``--repeat N``, ``--json out.json``). Uses the 2,840 zeroeval
prompts. Each figure is the best of ``--repeat`` runs (the machine is shared; the best run is the
least disturbed one). The naive baselines are what a write-up would do:

- task: for every prompt, loop over tasks and their patterns with ``re.search(pattern, text, re.I)``
  (patterns looked up in ``re``'s compile cache on every call), then a dict lookup;
- capability: for every prompt, count its tokens, then loop over the models in Python (constraints,
  ``ModelSpec.cost``, a capability score and a log-normalised cost term), keeping the best.

The capability figures come in two pairs: end to end (token counting included: the naive loop counts
every prompt, the router counts each distinct text once and then remembers it, measured cold, i.e.
with that memory emptied first) and routing only (token counts already known to both).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from routerlab import datasets  # noqa: E402
from routerlab.catalog import Catalog  # noqa: E402
from routerlab.routers import CapabilityRouter, RoutingTable, TaskRouter  # noqa: E402
from routerlab.tokens import _CACHE as _token_cache  # noqa: E402  (the per-text count cache)
from routerlab.routers.task import DEFAULT_PATTERNS, re2_available  # noqa: E402
from routerlab.tokens import count_text  # noqa: E402

TABLE = RoutingTable(default="gpt-4o", routes={"math": "gpt-4o-mini", "code": "claude-3.5-sonnet",
                                                "translation": "gemini-1.5-flash", "summarization": "llama-3.1-70b"})


def best_of(fn: Callable[[], Any], repeat: int, before: Callable[[], None] | None = None) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


# -- naive baselines --------------------------------------------------------------------------------
def naive_task(prompt: str) -> str:
    for task, patterns in DEFAULT_PATTERNS.items():
        for p in patterns:
            if re.search(p, prompt, re.IGNORECASE):
                return TABLE.routes.get(task, TABLE.default)
    return TABLE.default


def naive_capability(prompt: str, models: list[str], catalog: Catalog, tokens: int | None = None,
                     preferred: dict[str, float] | None = None, cost_weight: float = 0.3,
                     expected_out: int = 500) -> str:
    preferred = preferred or {"reasoning": 2.0, "coding": 1.0}
    tin = (count_text(prompt) if tokens is None else tokens) + 7
    costs = {m: catalog[m].cost(tin, expected_out) for m in models}
    logs = {m: math.log(max(c, 1e-15)) for m, c in costs.items()}
    lo, hi = min(logs.values()), max(logs.values())
    best, best_key = None, None
    for m in models:
        spec = catalog[m]
        cap = sum(w * spec.score(c) for c, w in preferred.items()) / (10 * sum(preferred.values()))
        norm = (logs[m] - lo) / (hi - lo) if hi > lo else 0.0
        score = (1 - cost_weight) * cap + cost_weight * (1 - norm)
        key = (-round(score, 12), costs[m], m)
        if best_key is None or key < best_key:
            best, best_key = m, key
    return str(best)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", help="write the figures here as JSON")
    args = ap.parse_args()
    ds = datasets.load("zeroeval", score=False)
    prompts = ds.prompts["prompt"].tolist()
    requests = ds.requests()
    n = len(prompts)
    rows: list[dict[str, Any]] = []

    def record(router: str, path: str, seconds: float, baseline: float | None = None) -> None:
        rows.append({"router": router, "path": path, "us_per_decision": seconds / n * 1e6,
                     "decisions_per_s": n / seconds, "speedup_vs_naive": None if baseline is None else baseline / seconds})

    # -- TaskRouter --------------------------------------------------------------------------------
    t_naive, naive_out = best_of(lambda: [naive_task(p) for p in prompts], max(2, args.repeat // 2))
    record("task", "naive loop (re.search per pattern)", t_naive)
    engines = ["re2", "re"] if re2_available() else ["re"]
    for engine in engines:
        router = TaskRouter(TABLE, engine=engine)
        router.route(requests[0])  # compile once
        t_single, single = best_of(lambda: [router.route(r).model for r in requests], args.repeat)
        t_batch, batch = best_of(lambda: router.route_many(ds.prompts), args.repeat)
        assert single == naive_out == batch.tolist(), f"{engine}: decisions differ from the naive loop"
        record("task", f"route() one at a time [{engine}]", t_single, t_naive)
        record("task", f"route_many() batched [{engine}]", t_batch, t_naive)

    # -- CapabilityRouter --------------------------------------------------------------------------
    catalog = Catalog.default()
    models = ds.outcomes.models if ds.outcomes is not None else catalog.names
    cap = CapabilityRouter(catalog, candidates=models, preferred={"reasoning": 2, "coding": 1}, cost_weight=0.3)
    cap.route(requests[0])
    tokens = [count_text(p) for p in prompts]
    t_naive_e2e, naive_cap = best_of(lambda: [naive_capability(p, models, catalog) for p in prompts],
                                     max(2, args.repeat // 2))
    t_naive_logic, _ = best_of(lambda: [naive_capability(p, models, catalog, t) for p, t in zip(prompts, tokens)],
                               max(2, args.repeat // 2))
    clear = _token_cache.clear
    t_batch_cold, batch = best_of(lambda: cap.route_many(ds.prompts), args.repeat, before=clear)
    t_batch_warm, _ = best_of(lambda: cap.route_many(ds.prompts), args.repeat)
    t_single_warm, single = best_of(lambda: [cap.route(r).model for r in requests], max(2, args.repeat // 2))
    assert batch.tolist() == single == naive_cap, "capability decisions differ from the naive loop"
    record("capability", "naive loop, counting tokens", t_naive_e2e)
    record("capability", "route_many() batched, tokens counted (cold)", t_batch_cold, t_naive_e2e)
    record("capability", "naive loop, tokens known", t_naive_logic)
    record("capability", "route_many() batched, tokens known (warm)", t_batch_warm, t_naive_logic)
    record("capability", "route() one at a time, tokens known (warm)", t_single_warm, t_naive_logic)

    width = max(len(r["router"] + r["path"]) for r in rows) + 3
    print(f"{n} zeroeval prompts; best of {args.repeat}; task engines: {', '.join(engines)}")
    print(f"{'router / path':<{width}} {'us/decision':>12} {'decisions/s':>12} {'vs naive':>9}")
    for r in rows:
        speed = "" if r["speedup_vs_naive"] is None else f"{r['speedup_vs_naive']:.1f}x"
        print(f"{r['router'] + ': ' + r['path']:<{width}} {r['us_per_decision']:>12.1f} {r['decisions_per_s']:>12,.0f} "
              f"{speed:>9}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
