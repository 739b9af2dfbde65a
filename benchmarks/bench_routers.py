"""Decisions per second of the routers, single and batched, against real baselines; fit times of the
routers that learn.

Run: ``python benchmarks/bench_routers.py --writeup PATH`` (``--repeat N``, ``--json out.json``,
``--skip-learned``). Uses the 2,840 zeroeval prompts. Each figure is the best of ``--repeat`` runs (the
machine is shared; the best run is the least disturbed one); ratios against the write-up are the median
of paired rounds (baseline and ours timed back to back in each round).

- **The write-up's TaskAutoRouter** (Strategy 2 of the original multi-model routing write-up): ``--writeup``
  names a Python file holding its ``TaskAutoRouter`` class as published (it is the write-up's code, so it is
  not shipped here; ``$ROUTERLAB_WRITEUP`` works too). Its own 37 patterns and task → model table go into a
  ``TaskRouter``; every decision must be identical. Without the file this section is skipped.
- **Learned routers**: fit time of each on all 2,840 prompts with the feature cache emptied first (so the
  first fit pays for the TF-IDF features; the others share them), and ``route_many`` throughput with the
  features cached (routing decisions) and cold (features computed as well).

The naive baselines of the other sections are what a write-up would do:

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


def load_writeup(path: str | None) -> Any:
    """The write-up's TaskAutoRouter class from ``path`` (or ``$ROUTERLAB_WRITEUP``), or None."""
    import importlib.util
    import os

    path = path or os.environ.get("ROUTERLAB_WRITEUP")
    if not path or not Path(path).exists():
        return None
    spec = importlib.util.spec_from_file_location("writeup_task_router", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TaskAutoRouter


def paired(baseline: Callable[[], Any], ours: Callable[[], Any], rounds: int,
           inner: int = 3) -> tuple[float, float, float]:
    """(best baseline seconds, best ours seconds, median over rounds of the ratio baseline / ours).

    Each round times the two alternately ``inner`` times and keeps each one's best, so a scheduling
    hiccup on the shared machine hits one measurement, not the round's ratio."""
    tb, to, ratios = [], [], []
    for _ in range(rounds):
        b, o = [], []
        for _ in range(inner):
            t0 = time.perf_counter()
            baseline()
            t1 = time.perf_counter()
            ours()
            t2 = time.perf_counter()
            b.append(t1 - t0)
            o.append(t2 - t1)
        tb.append(min(b))
        to.append(min(o))
        ratios.append(min(b) / min(o))
    return min(tb), min(to), float(sorted(ratios)[len(ratios) // 2])


def bench_writeup(ds: Any, writeup_cls: Any, repeat: int, record: Callable[..., None]) -> None:
    """TaskRouter batched vs the write-up's own TaskAutoRouter on its patterns and table."""
    from routerlab.routers.task import TaskMatcher

    w = writeup_cls()
    prompts = ds.prompts["prompt"].tolist()
    table = RoutingTable(default=w.TASK_TO_MODEL["default"][0],
                         routes={t: m for t, (m, _) in w.TASK_TO_MODEL.items() if t != "default"})
    expected = [w.route(p)[0] for p in prompts]
    engines = [e for e in ("hyperscan", "re2") if TaskMatcher(w.TASK_PATTERNS, engine="auto").batch_engine == e
               or e == "re2" and re2_available()]
    for engine in engines:
        router = TaskRouter(table, patterns=w.TASK_PATTERNS, default_task="default", engine=engine)
        got = router.route_many(ds.prompts).tolist()
        assert got == expected, f"{engine}: decisions differ from the write-up's TaskAutoRouter"
        t_w, t_o, ratio = paired(lambda: [w.route(p) for p in prompts], lambda: router.route_many(ds.prompts),
                                 max(repeat, 5))
        record("task (write-up patterns)", "write-up TaskAutoRouter.route loop", t_w)
        record("task (write-up patterns)", f"route_many() batched [{engine}]", t_o, ratio=ratio)


def bench_learned(ds: Any, repeat: int, record: Callable[..., None]) -> dict[str, float]:
    """Fit every learned router on all prompts (cold features first), then route_many throughput."""
    from routerlab import embeddings
    from routerlab.routers.defaults import _learners

    import sklearn.cluster  # noqa: F401  - imports are not fitting: load them before the clock starts
    import sklearn.decomposition  # noqa: F401
    import sklearn.feature_extraction.text  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    embeddings.clear_feature_cache()
    t0, c0 = time.perf_counter(), time.process_time()
    routers = _learners(ds, Catalog.default())
    # CPU time as well: the fits are single-threaded, so on a shared machine it is the steadier figure
    fits = {"total wall (features included)": time.perf_counter() - t0, "total CPU": time.process_time() - c0}
    for name, cls in (("learned", "LearnedRouter"), ("mf", "MFRouter"), ("cluster", "ClusterRouter"),
                      ("classifier", "ClassifierRouter"), ("capability-fit", "CalibratedCapabilityRouter")):
        r = routers[name]
        t, _ = best_of(lambda: type(r)(catalog=r.catalog).fit(ds), 1)
        fits[name] = t
        r.route_many(ds.prompts)  # features cached
        t_warm, _ = best_of(lambda: r.route_many(ds.prompts), repeat)
        record("learned", f"{name}: route_many() batched, features cached", t_warm)
        t_cold, _ = best_of(lambda: r.route_many(ds.prompts), max(2, repeat // 2), before=embeddings.clear_feature_cache)
        record("learned", f"{name}: route_many() batched, features computed", t_cold)
    t, _ = best_of(lambda: type(routers["cascade-frugal"])(catalog=Catalog.default()).fit(ds), 1)
    fits["cascade-frugal"] = t
    return fits


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", help="write the figures here as JSON")
    ap.add_argument("--writeup", help="a Python file with the write-up's TaskAutoRouter (or $ROUTERLAB_WRITEUP)")
    ap.add_argument("--skip-learned", action="store_true", help="skip the learned routers' section")
    args = ap.parse_args()
    ds = datasets.load("zeroeval", score=False)
    prompts = ds.prompts["prompt"].tolist()
    requests = ds.requests()
    n = len(prompts)
    rows: list[dict[str, Any]] = []

    def record(router: str, path: str, seconds: float, baseline: float | None = None,
               ratio: float | None = None) -> None:
        rows.append({"router": router, "path": path, "us_per_decision": seconds / n * 1e6,
                     "decisions_per_s": n / seconds,
                     "speedup_vs_naive": ratio if ratio is not None else None if baseline is None else baseline / seconds})

    writeup = load_writeup(args.writeup)
    if writeup is not None:
        bench_writeup(ds, writeup, args.repeat, record)
    else:
        print("write-up section skipped: pass --writeup PATH (a file with the write-up's TaskAutoRouter class)")
    fits = {} if args.skip_learned else bench_learned(datasets.load("zeroeval"), args.repeat, record)

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
    print(f"{'router / path':<{width}} {'us/decision':>12} {'decisions/s':>12} {'vs base':>9}")
    for r in rows:
        speed = "" if r["speedup_vs_naive"] is None else f"{r['speedup_vs_naive']:.1f}x"
        print(f"{r['router'] + ': ' + r['path']:<{width}} {r['us_per_decision']:>12.1f} {r['decisions_per_s']:>12,.0f} "
              f"{speed:>9}")
    if fits:
        print("\nfit on all 2,840 prompts (s): " + ", ".join(f"{k} {v:.2f}" for k, v in fits.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "fit_seconds": fits}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
