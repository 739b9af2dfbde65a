#!/usr/bin/env python3
"""Harness benchmarks: `routerlab run` end to end, replay at 1M prompts x 9 models, live throughput of 1-4 processes.

    python benchmarks/bench_harness.py            # all three
    python benchmarks/bench_harness.py --e2e      # only the end-to-end run
    python benchmarks/bench_harness.py --replay --prompts 1000000 --thresholds 25
    python benchmarks/bench_harness.py --live --live-prompts 200 --delay 0.25 --concurrency 4

Each figure is printed beside a baseline measured in the same run:
- end to end: `routerlab run` (vectorised path for prompt-only routers) vs the same run with
  `--no-fast-path` (every unit through the per-prompt path);
- replay: `replay_rows` (decisions as codes + gathers over the dense outcome matrix) of six prompt-only
  strategies (two fixed models, seeded random, a given task table, a table learnt from the outcomes, the
  oracle) vs a pandas merge of `route_many`'s names on (prompt_id, model), the same decisions (asserted), and
  a plain Python loop (a sample); a threshold sweep of a RouteLLM-style router (`replay_curve` and full
  `replay_rows` per threshold) vs a pandas merge per threshold. Peak memory is traced with tracemalloc from
  before the first replay (every cache counted) and compared with the outcomes table's size;
- live: the same Experiment (a Gateway to routerlab's local provider server, itself a subprocess holding each
  call `--delay` seconds) run by 1, 2 and 4 processes sharing one store (leases: each unit called once,
  checked at the server's request log); the baseline is the one-process run.
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
from typing import Any

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


class WinRateThreshold:
    """A RouteLLM-style router as a user writes one: a per-prompt win-rate score computed offline (the prompts'
    ``p_strong`` column); the strong model from ``threshold`` up. Its batch form returns decisions as codes
    (routerlab.routers.base.decisions), as the docs of BaseRouter._route_batch suggest."""

    prompt_only = True
    name = "win-rate"

    def __init__(self, weak: str, strong: str, threshold: float = 0.5) -> None:
        self.weak, self.strong, self.threshold = weak, strong, threshold

    def route(self, request):
        from routerlab.types import Decision

        return Decision(self.strong if request.metadata["p_strong"] >= self.threshold else self.weak)

    def route_codes(self, prompts):
        from routerlab.routers.base import Batch, decisions

        frame = Batch.of(prompts).frame
        return decisions((frame["p_strong"].to_numpy() >= self.threshold).astype(np.int8), [self.weak, self.strong])


def _strategies(ds, models):
    from routerlab.routers import FixedRouter, OracleRouter, RandomRouter, RoutingTable, TaskRouter

    table = RoutingTable(default="gpt-4o", routes={"gsm": "gpt-4o-mini", "crux": "claude-3.5-sonnet", "math-l5": "gpt-4o"})
    return {
        "fixed-gpt-4o": FixedRouter("gpt-4o"),
        "fixed-mini": FixedRouter("gpt-4o-mini"),
        "random": RandomRouter(models, seed=0),
        "table": TaskRouter(table, task_field="task"),  # a given routing table over the task labels
        "task-labels": TaskRouter(task_field="task"),  # the table learnt from the outcomes (fit below)
        "oracle": OracleRouter(ds),
    }


def _pandas_join(ds, router, prompts):
    """The baseline a user would write: decisions as names, merged with the outcomes table on (prompt, model)."""
    decided = pd.DataFrame({"prompt_id": prompts["prompt_id"], "model": router.route_many(prompts)})
    cols = ["prompt_id", "model", "score", "input_tokens", "output_tokens", "cost"]
    return decided.merge(ds.outcomes.df[cols], on=["prompt_id", "model"], how="left")


def replay(n_prompts: int, thresholds: int = 25) -> None:
    from routerlab.harness.replay import replay_curve, replay_rows
    from routerlab.providers.replay import ReplayCaller
    from routerlab.routers import Batch

    t = time.perf_counter()
    ds, models, table_bytes, catalog = synthetic(n_prompts)
    print(f"synthetic outcomes: {n_prompts:,} prompts x {len(models)} models = {n_prompts * len(models):,} rows, "
          f"{table_bytes / 1e6:.0f} MB ({time.perf_counter() - t:.1f} s to build)")
    strategies = _strategies(ds, models)
    t = time.perf_counter()
    strategies["task-labels"].fit(ds)
    strategies["oracle"]._tables()
    print(f"fitting (outside the replay): the learnt task table and the oracle's tables {time.perf_counter() - t:.2f} s")

    def cold_pass() -> tuple[dict[str, float], ReplayCaller, Batch]:
        """Every strategy once on a fresh caller and batch: the one-time costs (outcome index, per-row latency
        draws, token arrays, key hashes, label codes) fall in this pass."""
        for key in ("_batch", "_tokens"):
            ds.info.pop(key, None)
        fresh, batch = ReplayCaller(ds, seed=0), Batch.of(ds)
        times = {}
        for name, router in strategies.items():
            t = time.perf_counter()
            rows = replay_rows(name, router, fresh, batch)
            times[name] = time.perf_counter() - t
            assert len(rows) == n_prompts and (rows["error_type"] == "").all()
            del rows
        return times, fresh, batch

    first, caller, batch = cold_pass()
    print(f"first pass (one-time costs included): {n_prompts * len(strategies) / sum(first.values()) / 1e6:.2f} "
          f"M decisions/s over {len(strategies)} strategies")
    tracemalloc.start()  # a separate pass, traced from before anything is built (tracing slows allocation)
    cold_pass()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak traced memory of a first pass: {peak / 1e6:.0f} MB = {peak / table_bytes:.2f}x the outcomes table "
          "(target < 2x)")

    steady, quality = {}, {}
    for name, router in strategies.items():  # steady state: best of 3 on the same batch
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            rows = replay_rows(name, router, caller, batch)
            runs.append(time.perf_counter() - t)
        steady[name] = min(runs)
        quality[name] = (float(rows["score"].mean()), float(rows["cost"].sum()))
        del rows
    for name in strategies:
        print(f"  {name:13s} {n_prompts / steady[name] / 1e6:6.2f} M decisions/s  (first pass "
              f"{n_prompts / first[name] / 1e6:5.2f})  quality {quality[name][0]:.3f}")
    rate = n_prompts * len(strategies) / sum(steady.values())
    print(f"vectorised replay, steady state: {rate / 1e6:.2f} M decisions/s over {len(strategies)} strategies "
          f"(target >= 10 M/s)")

    # baselines in the same run, same decisions (asserted): a pandas merge per strategy, a per-prompt loop
    base = {}
    for name, router in strategies.items():
        t = time.perf_counter()
        joined = _pandas_join(ds, router, ds.prompts)
        base[name] = time.perf_counter() - t
        assert np.isclose(joined["score"].mean(), quality[name][0], rtol=1e-12), name
        assert np.isclose(joined["cost"].sum(), quality[name][1], rtol=1e-9), name
        del joined
    base_rate = n_prompts * len(strategies) / sum(base.values())
    print(f"baseline, a pandas merge of route_many's names on (prompt_id, model): {base_rate / 1e6:.2f} M decisions/s; "
          f"ratio {rate / base_rate:.1f}x")
    sample = min(20_000, n_prompts)
    reqs = [ds.request(pid) for pid in ds.prompts["prompt_id"].iloc[:sample]]
    specs = {m: catalog[m] for m in models}
    t = time.perf_counter()
    for name in ("fixed-gpt-4o", "random", "table"):
        router = strategies[name]
        for r in reqs:
            model = router.route(r).model
            rec = ds.outcomes.record(r.prompt_id, model)
            specs[model].cost(int(rec["input_tokens"]), int(rec["output_tokens"]))
    loop_rate = sample * 3 / (time.perf_counter() - t)
    print(f"baseline, a Python loop routing and looking up one prompt at a time ({sample:,}-prompt sample, 3 strategies): "
          f"{loop_rate / 1e3:.1f} k decisions/s; ratio {rate / loop_rate:.0f}x")

    # a threshold sweep: one curve = dozens of replays of one router, over the same batch
    rng = np.random.default_rng(1)
    strong_right = ds.outcomes.df.loc[ds.outcomes.df["model"] == "gpt-4o", "score"].to_numpy()
    weak_right = ds.outcomes.df.loc[ds.outcomes.df["model"] == "gemma-2-2b", "score"].to_numpy()
    p_strong = np.clip(0.5 + 0.35 * (strong_right - weak_right) + rng.normal(0, 0.25, n_prompts), 0, 1)
    scored = ds.prompts.assign(p_strong=p_strong)
    sweep_batch = Batch.of(scored)
    router = WinRateThreshold("gemma-2-2b", "gpt-4o")
    taus = np.linspace(0, 1, thresholds)
    tracemalloc.start()
    t = time.perf_counter()
    curve = replay_curve(router, "threshold", taus, caller, sweep_batch)
    curve_time = time.perf_counter() - t
    _, sweep_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t = time.perf_counter()
    for tau in taus:
        router.threshold = tau
        rows = replay_rows("sweep", router, caller, sweep_batch)
        assert np.isclose(rows["score"].mean(), curve.loc[curve["threshold"] == tau, "quality"].iloc[0], rtol=1e-12)
        del rows
    rows_time = time.perf_counter() - t
    t = time.perf_counter()
    for tau in taus[:5]:
        router.threshold = tau
        decided = pd.DataFrame({"prompt_id": scored["prompt_id"],
                                "model": np.where(scored["p_strong"].to_numpy() >= tau, "gpt-4o", "gemma-2-2b")})
        decided.merge(ds.outcomes.df[["prompt_id", "model", "score", "cost"]], on=["prompt_id", "model"], how="left")
    merge_rate = 5 * n_prompts / (time.perf_counter() - t)
    n_sweep = thresholds * n_prompts
    print(f"threshold sweep, {thresholds} thresholds x {n_prompts:,} prompts: replay_curve (points only) "
          f"{n_sweep / curve_time / 1e6:.1f} M decisions/s ({curve_time:.2f} s; peak traced {sweep_peak / 1e6:.0f} MB); "
          f"replay_rows per threshold (full rows) {n_sweep / rows_time / 1e6:.1f} M decisions/s; "
          f"baseline pandas merge per threshold {merge_rate / 1e6:.2f} M/s (ratio {n_sweep / curve_time / merge_rate:.0f}x)")
    print("  curve: " + ", ".join(f"t={r.threshold:.2f}: q {r.quality:.3f} ${r.cost:,.0f}" for r in curve.iloc[::6].itertuples()))


# live throughput: N processes, one store, one local provider server ---------------------------------------
LIVE_MODELS = {"gpt-4o-mini": "mini", "claude-3-haiku": "haiku"}  # OpenAI and Anthropic SDKs


def live_worker(spec_path: str) -> None:
    """One process of the live benchmark: an Experiment through a Gateway to the server, on the shared store."""
    import json

    from routerlab import datasets
    from routerlab.catalog import Catalog
    from routerlab.harness.experiment import Experiment
    from routerlab.live.gateway import Gateway
    from routerlab.routers import FixedRouter

    with open(spec_path) as fh:
        spec = json.load(fh)
    ds = datasets.load("zeroeval")
    ds = ds.filter(prompt_ids=ds.prompts["prompt_id"].iloc[:spec["prompts"]])
    catalog = Catalog.default()
    os.environ["ROUTERLAB_BENCH_KEY"] = "local-server-needs-no-key"
    models = {m: {"deployments": [{"name": d, "provider": catalog[m].provider, "model": m, "api_key_env": "ROUTERLAB_BENCH_KEY",
                                   "base_url": spec["urls"][m]}]} for m, d in LIVE_MODELS.items()}
    gateway = Gateway.from_config({"models": models, "retry": {"attempts": 1, "timeout": 60.0}, "state": spec["state"]},
                                  catalog=catalog)
    exp = Experiment(ds, {m: FixedRouter(m) for m in LIVE_MODELS}, caller=gateway, store=spec["store"],
                     concurrency=spec["concurrency"])
    open(spec["ready"], "w").close()
    while not os.path.exists(spec["go"]):
        time.sleep(0.002)
    mine = [0]
    res = exp.run(progress=False, on_rows=lambda name, rows: mine.__setitem__(0, mine[0] + len(rows)))
    with open(spec["out"], "w") as fh:
        json.dump({"end": time.time(), "computed": mine[0], "rows": len(res.df),
                   "errors": int((res.df["error_type"] != "").sum())}, fh)


def _redis_server() -> tuple[str, Any]:
    """A redis-server on a free port of 127.0.0.1 (no persistence): its URL and a function that stops it."""
    import shutil
    import socket
    import tempfile

    if shutil.which("redis-server") is None:
        raise SystemExit("--state redis needs redis-server (apt-get install -y redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home = tempfile.mkdtemp(prefix="bench-redis")
    subprocess.run(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--daemonize", "yes",
                    "--dir", home, "--pidfile", os.path.join(home, "pid")], check=True)
    time.sleep(0.3)
    return f"redis://127.0.0.1:{port}/0", lambda: subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"],
                                                                 capture_output=True)


def live(prompts: int, delay: float, concurrency: int, processes: tuple[int, ...] = (1, 2, 4), state: str = "memory") -> None:
    import json
    import secrets
    import socket
    import tempfile
    import urllib.request

    from routerlab.catalog import Catalog

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_urlsafe(16)
    env = {**os.environ, "ROUTERLAB_ADMIN_TOKEN": token}
    server = subprocess.Popen([sys.executable, "-m", "routerlab.server", "--port", str(port), "--dataset", "zeroeval",
                               "--deployments", ",".join(LIVE_MODELS.values()), "--latency-scale", "0",
                               "--fault", f"*:delay={delay}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def admin(path: str, method: str = "GET", body: dict | None = None):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    stop_redis = None
    if state == "redis":  # every worker's Gateway keeps its limits, budgets, breakers and cache in one Redis
        url, stop_redis = _redis_server()
    try:
        for _ in range(600):
            try:
                admin("/_admin/health")
                break
            except OSError:
                time.sleep(0.1)
        catalog = Catalog.default()
        urls = {m: (f"http://127.0.0.1:{port}/d/{d}/v1" if catalog[m].provider == "openai" else f"http://127.0.0.1:{port}/d/{d}")
                for m, d in LIVE_MODELS.items()}
        units = prompts * len(LIVE_MODELS)
        print(f"live: {prompts} prompts x {len(LIVE_MODELS)} models = {units} units against routerlab.server "
              f"(a subprocess; each call held {delay * 1000:.0f} ms), concurrency {concurrency} per process, one store; "
              f"Gateway state: {state}")
        base = None
        for n in processes:
            admin("/_admin/reset", "POST")  # empties the request logs, and clears faults: set the delay again
            for d in LIVE_MODELS.values():
                admin(f"/_admin/faults/{d}", "POST", {"delay": delay})
            with tempfile.TemporaryDirectory() as tmp:
                go = os.path.join(tmp, "go")
                procs, outs, ready = [], [], []
                for k in range(n):
                    spec = {"store": os.path.join(tmp, "runs.sqlite"), "prompts": prompts, "concurrency": concurrency,
                            "urls": urls, "go": go, "ready": os.path.join(tmp, f"ready{k}"), "out": os.path.join(tmp, f"out{k}"),
                            "state": ({"backend": "memory"} if state == "memory" else
                                      {"backend": "redis", "url": url, "namespace": f"bench{n}", "cache": True})}
                    path = os.path.join(tmp, f"spec{k}.json")
                    with open(path, "w") as fh:
                        json.dump(spec, fh)
                    procs.append(subprocess.Popen([sys.executable, __file__, "--live-worker", path]))
                    outs.append(spec["out"])
                    ready.append(spec["ready"])
                while not all(os.path.exists(r) for r in ready):
                    time.sleep(0.01)
                start = time.time()
                open(go, "w").close()
                for p in procs:
                    assert p.wait() == 0
                results = []
                for o in outs:
                    with open(o) as fh:
                        results.append(json.load(fh))
            wall = max(r["end"] for r in results) - start
            calls = sum(len(admin(f"/_admin/log/{d}")) for d in LIVE_MODELS.values())
            assert all(r["rows"] == units and r["errors"] == 0 for r in results)
            rate = units / wall
            base = base or rate
            print(f"  {n} process(es): {wall:5.2f} s, {rate:6.0f} units/s ({rate / base:.2f}x one process); "
                  f"calls at the server {calls} for {units} units; per process computed "
                  f"{[r['computed'] for r in results]}")
    finally:
        server.kill()
        server.wait()
        if stop_redis is not None:
            stop_redis()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--e2e", action="store_true")
    ap.add_argument("--replay", action="store_true")
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--prompts", type=int, default=1_000_000)
    ap.add_argument("--thresholds", type=int, default=25)
    ap.add_argument("--live-prompts", type=int, default=200)
    ap.add_argument("--delay", type=float, default=0.25, help="seconds the server holds each live call")
    ap.add_argument("--concurrency", type=int, default=4, help="units in flight per live process")
    ap.add_argument("--state", choices=("memory", "redis"), default="memory",
                    help="where the live workers' Gateways keep their state (redis: one shared redis-server)")
    ap.add_argument("--live-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.live_worker:
        return live_worker(args.live_worker)
    every = not (args.e2e or args.replay or args.live)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.e2e or every:
        e2e()
    if args.replay or every:
        replay(args.prompts, args.thresholds)
    if args.live or every:
        live(args.live_prompts, args.delay, args.concurrency, state=args.state)
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
