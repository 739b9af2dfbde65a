"""Live-path benchmark: the Gateway against raw AsyncOpenAI and litellm.Router, plus both caches.

Everything runs on this machine: ``routerlab.server`` is started as a subprocess (its own process, so its
threads do not share the client's GIL) with three deployments P1, P2, P3 and no injected latency, so the
figures measure client-side overhead.

1. N calls (default 2,000) at concurrency C (default 100), round-robin over P1-P3:
   raw ``openai.AsyncOpenAI`` (three clients, ``max_retries=0``) vs the Gateway (three ``openai``
   deployments through routerlab's providers, breakers, balancer, retry loop, accounting). Three rounds
   each after a warm-up, back to back in alternating order; the ratio is Gateway wall time / raw wall
   time per round (median reported, target ≤ 1.15), with the client's CPU per call as a load-robust check.
2. The same N calls through ``litellm.Router`` over the same deployments (target: Gateway throughput
   ≥ 2× LiteLLM's). ``LITELLM_LOCAL_MODEL_COST_MAP=True`` is set before litellm is imported.
3. Exact-cache hit latency through ``Gateway.complete`` (p50) and of ``ResponseCache.get`` alone.
4. Semantic-cache lookup at 100,000 entries (256-dim vectors): one matrix-vector product vs a plain
   Python loop over the same vectors (target ≥ 100×).

Usage::

    python benchmarks/bench_live.py [--calls 2000] [--concurrency 100] [--skip-litellm] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before any litellm import: no download
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from routerlab.live.cache import HashingEmbedder, ResponseCache, SemanticCache  # noqa: E402
from routerlab.live.gateway import Gateway  # noqa: E402
from routerlab.types import Request  # noqa: E402

DEPLOYMENTS = ("P1", "P2", "P3")
API_MODEL = "gpt-4o-mini-2024-07-18"
KEY_ENV = "ROUTERLAB_BENCH_KEY"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "routerlab.server", "--port", str(port), "--deployments",
                             ",".join(DEPLOYMENTS), "--latency-scale", "0"], cwd=str(ROOT),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_admin/health", timeout=1) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("routerlab.server did not start")


def base_url(port: int, dep: str) -> str:
    return f"http://127.0.0.1:{port}/d/{dep}/v1"


def summarise(name: str, wall: float, lat: list[float], calls: int) -> dict[str, Any]:
    a = np.asarray(lat)
    return {"name": name, "calls": calls, "wall_s": wall, "throughput": calls / wall,
            "p50_ms": float(np.percentile(a, 50) * 1e3), "p95_ms": float(np.percentile(a, 95) * 1e3),
            "cpu_ms_per_call": getattr(drive, "cpu", float("nan")) / calls * 1e3}


async def drive(call: Any, calls: int, concurrency: int, offset: int) -> tuple[float, list[float]]:
    """``calls`` calls of ``call(i)`` by ``concurrency`` workers; wall time and per-call latencies.

    The client's CPU seconds of the last run are left in ``drive.cpu`` (robust to other load on the machine).
    """
    latencies: list[float] = []
    counter = iter(range(calls))

    async def worker() -> None:
        for i in counter:
            t = time.perf_counter()
            await call(offset + i)
            latencies.append(time.perf_counter() - t)

    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    drive.cpu = time.process_time() - c0  # type: ignore[attr-defined]
    return time.perf_counter() - t0, latencies


async def calls_per_request(call: Any, n: int, concurrency: int, offset: int) -> float:
    """Python function calls per request (cProfile): a measure of client work that other load cannot skew."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    await drive(call, n, concurrency, offset)
    prof.disable()
    return pstats.Stats(prof).total_calls / n  # type: ignore[attr-defined,no-any-return]


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"benchmark prompt number {i}: what is {i} + {i}?"}]


async def bench_raw_vs_gateway(port: int, calls: int, concurrency: int, rounds: int) -> dict[str, Any]:
    import openai

    clients = [openai.AsyncOpenAI(base_url=base_url(port, d), api_key=os.environ[KEY_ENV], max_retries=0,
                                  timeout=30.0) for d in DEPLOYMENTS]

    async def raw(i: int) -> None:
        resp = await clients[i % 3].chat.completions.create(model=API_MODEL, messages=messages(i),  # type: ignore[arg-type]
                                                            temperature=0.0, timeout=30.0)
        assert resp.choices[0].message.content

    gw = Gateway.from_config({
        "strategy": "round-robin",
        "retry": {"attempts": 3, "timeout": 30.0},
        "models": {"gpt-4o-mini": {"deployments": [
            {"name": d, "provider": "openai", "model": "gpt-4o-mini", "base_url": base_url(port, d),
             "api_key_env": KEY_ENV} for d in DEPLOYMENTS]}},
    })

    async def through_gateway(i: int) -> None:
        c = await gw.complete(Request.from_prompt(messages(i)[0]["content"]), "gpt-4o-mini")
        assert c.text

    await gw.warmup()
    await drive(raw, 300, concurrency, 10_000_000)  # warm-up: connections, lazy imports
    await drive(through_gateway, 300, concurrency, 20_000_000)
    results: dict[str, list[dict[str, Any]]] = {"raw": [], "gateway": []}
    for r in range(rounds):
        for name, fn in (("raw", raw), ("gateway", through_gateway)) if r % 2 == 0 else \
                (("gateway", through_gateway), ("raw", raw)):
            wall, lat = await drive(fn, calls, concurrency, (r + 1) * 1_000_000 + (0 if name == "raw" else 500_000))
            results[name].append(summarise(name, wall, lat, calls))
    fcalls = {"raw": await calls_per_request(raw, 300, concurrency, 50_000_000),
              "gateway": await calls_per_request(through_gateway, 300, concurrency, 60_000_000)}
    for c in clients:
        await c.close()
    await gw.aclose()
    best = {k: min(v, key=lambda x: x["wall_s"]) for k, v in results.items()}
    paired = [g["wall_s"] / r["wall_s"] for r, g in zip(results["raw"], results["gateway"])]
    cpu = statistics.median(g["cpu_ms_per_call"] / r["cpu_ms_per_call"]
                            for r, g in zip(results["raw"], results["gateway"]))
    assert gw.stats()["failures"].sum() == 0
    return {"rounds": results, "best": best, "ratio_best": best["gateway"]["wall_s"] / best["raw"]["wall_s"],
            "ratio_median": statistics.median(paired), "paired_ratios": paired, "cpu_ratio": cpu,
            "calls_per_request": fcalls}


async def bench_litellm(port: int, calls: int, concurrency: int) -> dict[str, Any]:
    t = time.perf_counter()
    import litellm

    import_s = time.perf_counter() - t
    litellm.telemetry = False
    litellm.suppress_debug_info = True
    router = litellm.Router(model_list=[
        {"model_name": "gpt-4o-mini",
         "litellm_params": {"model": f"openai/{API_MODEL}", "api_base": base_url(port, d),
                            "api_key": os.environ[KEY_ENV], "timeout": 30, "max_retries": 0}}
        for d in DEPLOYMENTS], num_retries=0, routing_strategy="simple-shuffle")

    async def call(i: int) -> None:
        resp = await router.acompletion(model="gpt-4o-mini", messages=messages(i), temperature=0.0)
        assert resp.choices[0].message.content

    await drive(call, 300, concurrency, 30_000_000)
    wall, lat = await drive(call, calls, concurrency, 40_000_000)
    out = summarise("litellm.Router", wall, lat, calls)
    out["import_s"] = import_s
    out["calls_per_request"] = await calls_per_request(call, 300, concurrency, 70_000_000)
    return out


async def bench_exact_cache(port: int, n_hits: int = 2000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        gw = Gateway.from_config({
            "models": {"gpt-4o-mini": {"deployments": [
                {"name": d, "provider": "openai", "model": "gpt-4o-mini", "base_url": base_url(port, d),
                 "api_key_env": KEY_ENV} for d in DEPLOYMENTS]}},
            "cache": {"directory": tmp},
        })
        prompts = [Request.from_prompt(f"cached prompt {i}") for i in range(200)]
        for r in prompts:
            await gw.complete(r, "gpt-4o-mini")
        lat = []
        for k in range(n_hits):
            t = time.perf_counter()
            c = await gw.complete(prompts[k % 200], "gpt-4o-mini")
            lat.append(time.perf_counter() - t)
            assert c.cached
        cache: ResponseCache = gw.cache  # type: ignore[assignment]
        key = cache.keys()[0]
        raw = []
        for _ in range(n_hits):
            t = time.perf_counter()
            cache.get(key)
            raw.append(time.perf_counter() - t)
        await gw.aclose()
    return {"gateway_hit_p50_us": float(np.median(lat) * 1e6), "gateway_hit_p95_us": float(np.percentile(lat, 95) * 1e6),
            "cache_get_p50_us": float(np.median(raw) * 1e6)}


def bench_semantic(n: int = 100_000, dim: int = 256, queries: int = 200, loop_queries: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    sc = SemanticCache(HashingEmbedder(dim=dim), threshold=0.9)
    t = time.perf_counter()
    sc.add_vectors(vecs, [""] * n, list(range(n)), model="gpt-4o-mini")
    load_s = time.perf_counter() - t
    qs = vecs[rng.integers(0, n, queries)] + 0.02 * rng.standard_normal((queries, dim)).astype(np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    vec_times, hits = [], 0
    for q in qs:
        t = time.perf_counter()
        hit = sc.lookup_vector(q, model="gpt-4o-mini")
        vec_times.append(time.perf_counter() - t)
        hits += hit is not None
    rows = vecs.tolist()  # the same vectors as plain Python lists

    def python_loop(q: list[float]) -> int:
        best, best_i = -2.0, -1
        for i, row in enumerate(rows):
            s = 0.0
            for a, b in zip(row, q):
                s += a * b
            if s > best:
                best, best_i = s, i
        return best_i

    loop_times = []
    for q in qs[:loop_queries]:
        ql = q.tolist()
        t = time.perf_counter()
        i = python_loop(ql)
        loop_times.append(time.perf_counter() - t)
        assert int(np.argmax(sc.similarities(q, model="gpt-4o-mini"))) == i  # the same answer
    embed = HashingEmbedder(dim=dim)
    t = time.perf_counter()
    for k in range(200):
        embed.embed([f"what is the capital of country number {k}?"])
    embed_us = (time.perf_counter() - t) / 200 * 1e6
    v50 = float(np.median(vec_times))
    l50 = float(np.median(loop_times))
    return {"entries": n, "dim": dim, "load_s": load_s, "vectorised_p50_ms": v50 * 1e3, "loop_p50_ms": l50 * 1e3,
            "speedup": l50 / v50, "hits": hits, "queries": queries, "embed_us": embed_us}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault(KEY_ENV, "bench-local-key")
    proc, port = start_server()
    try:
        out: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                           "platform": platform.platform()},
                               "calls": args.calls, "concurrency": args.concurrency}
        out["raw_vs_gateway"] = await bench_raw_vs_gateway(port, args.calls, args.concurrency, args.rounds)
        if not args.skip_litellm:
            out["litellm"] = await bench_litellm(port, args.calls, args.concurrency)
        out["exact_cache"] = await bench_exact_cache(port)
    finally:
        proc.terminate()
        proc.wait(10)
    out["semantic_cache"] = bench_semantic()
    return out


def report(out: dict[str, Any]) -> str:
    rg = out["raw_vs_gateway"]
    lines = [f"machine: {out['machine']['cpus']} cores, Python {out['machine']['python']}",
             f"{out['calls']} calls at concurrency {out['concurrency']} (best of {len(rg['rounds']['raw'])} rounds):"]
    rows = [("raw AsyncOpenAI", rg["best"]["raw"]), ("Gateway", rg["best"]["gateway"])]
    if "litellm" in out:
        rows.append(("litellm.Router", out["litellm"]))
    for name, b in rows:
        lines.append(f"  {name:<16} {b['wall_s']:6.2f} s  {b['throughput']:7.0f} calls/s  p50 {b['p50_ms']:6.1f} ms  "
                     f"p95 {b['p95_ms']:6.1f} ms  client CPU {b['cpu_ms_per_call']:.2f} ms/call")
    lines.append(f"  Gateway / raw wall-time ratio: {rg['ratio_best']:.3f} best-vs-best, {rg['ratio_median']:.3f} median "
                 f"of paired rounds {['%.3f' % x for x in rg['paired_ratios']]}; client CPU ratio "
                 f"{rg['cpu_ratio']:.3f} (target <= 1.15)")
    fc = rg["calls_per_request"]
    text = (f"  Python function calls per request (load-independent): raw {fc['raw']:.0f}, Gateway {fc['gateway']:.0f} "
            f"(+{(fc['gateway'] / fc['raw'] - 1) * 100:.1f} %)")
    if "litellm" in out:
        text += f", litellm.Router {out['litellm']['calls_per_request']:.0f}"
    lines.append(text)
    if "litellm" in out:
        med = statistics.median(r["throughput"] for r in rg["rounds"]["gateway"])
        x = rg["best"]["gateway"]["throughput"] / out["litellm"]["throughput"]
        cpu = out["litellm"]["cpu_ms_per_call"] / statistics.median(r["cpu_ms_per_call"] for r in rg["rounds"]["gateway"])
        lines.append(f"  Gateway throughput / LiteLLM throughput: {x:.2f}x best round, {med / out['litellm']['throughput']:.2f}x "
                     f"median round; LiteLLM client CPU per call / Gateway's: {cpu:.2f}x (target >= 2)")
    ec = out["exact_cache"]
    lines.append(f"exact cache hit through Gateway.complete: p50 {ec['gateway_hit_p50_us']:.0f} us, "
                 f"p95 {ec['gateway_hit_p95_us']:.0f} us; ResponseCache.get alone p50 {ec['cache_get_p50_us']:.0f} us")
    sc = out["semantic_cache"]
    lines.append(f"semantic cache, {sc['entries']:,} entries x {sc['dim']} dims: lookup p50 {sc['vectorised_p50_ms']:.2f} ms "
                 f"vs Python loop {sc['loop_p50_ms']:.0f} ms -> {sc['speedup']:.0f}x (target >= 100); "
                 f"HashingEmbedder {sc['embed_us']:.0f} us per prompt")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--skip-litellm", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    out = asyncio.run(main_async(args))
    print(report(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
