"""Live-path benchmark: the Gateway against raw AsyncOpenAI, the Gateway of an earlier commit, and
litellm.Router; plus both caches.

Everything runs on this machine: ``routerlab.server`` is started as a subprocess (its own process, so its
threads do not share a client's GIL) with three deployments P1, P2, P3 and no injected latency, so the
figures measure client-side overhead.

1. Rounds of N calls (default 2,000) at concurrency C (default 100), round-robin over P1-P3, each
   contender in its own long-lived subprocess (same warm-up, same requests), each round run in interleaved
   chunks (default 4 of 500 calls) whose order rotates, so that load drifting on a shared machine falls on
   every contender alike:
   ``raw`` (three ``openai.AsyncOpenAI`` clients, ``max_retries=0``), ``gateway`` (this tree's
   Gateway: three ``openai`` deployments through routerlab's providers, breakers, balancer, retry loop,
   accounting), ``baseline`` (the Gateway of ``--baseline REV``, extracted with ``git archive``; default
   62d5554, before the layered rewrite) and ``litellm`` (``litellm.Router`` over the same deployments;
   ``LITELLM_LOCAL_MODEL_COST_MAP=True``). Per round: Gateway / raw and
   baseline / raw wall-time ratios (targets: ≤ 1.10, and no worse than the baseline's), Gateway / LiteLLM
   throughput (target ≥ 3×); medians of the paired rounds are reported, with client CPU per call.
2. Exact-cache hit latency through ``Gateway.complete`` (p50) and of ``ResponseCache.get`` alone.
3. Semantic-cache lookup at 100,000 entries (256-dim vectors): one matrix-vector product vs a plain
   Python loop over the same vectors (target ≥ 100×).

Usage::

    python benchmarks/bench_live.py [--calls 2000] [--concurrency 100] [--rounds 5] [--skip-litellm]
                                    [--chunks 4] [--baseline 62d5554] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before any litellm import: no download
ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = ("P1", "P2", "P3")
API_MODEL = "gpt-4o-mini-2024-07-18"
KEY_ENV = "ROUTERLAB_BENCH_KEY"
CONTENDERS = ("raw", "gateway", "baseline", "litellm")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    token = secrets.token_urlsafe(24)  # the server's admin routes need it
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ROUTERLAB_ADMIN_TOKEN": token}
    proc = subprocess.Popen([sys.executable, "-m", "routerlab.server", "--port", str(port), "--deployments",
                             ",".join(DEPLOYMENTS), "--latency-scale", "0"], cwd=str(ROOT), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            health = urllib.request.Request(f"http://127.0.0.1:{port}/_admin/health",
                                            headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(health, timeout=1) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("routerlab.server did not start")


def base_url(port: int, dep: str) -> str:
    return f"http://127.0.0.1:{port}/d/{dep}/v1"


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"benchmark prompt number {i}: what is {i} + {i}?"}]


# --- one contender, in its own process --------------------------------------------------------------
async def drive(call: Any, calls: int, concurrency: int, offset: int) -> dict[str, Any]:
    """``calls`` calls of ``call(i)`` by ``concurrency`` workers: wall time, latencies, client CPU."""
    latencies: list[float] = []
    counter = iter(range(calls))

    async def worker() -> None:
        for i in counter:
            t = time.perf_counter()
            await call(offset + i)
            latencies.append(time.perf_counter() - t)

    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    a = np.asarray(latencies)
    return {"calls": calls, "wall_s": wall, "cpu_s": cpu, "throughput": calls / wall,
            "p50_ms": float(np.percentile(a, 50) * 1e3), "cpu_ms_per_call": cpu / calls * 1e3}


async def make_caller(kind: str, port: int) -> tuple[Any, Any]:
    """``(call(i), close())`` for a contender; the Gateway comes from whatever routerlab is on sys.path."""
    key = os.environ[KEY_ENV]
    if kind == "raw":
        import openai

        clients = [openai.AsyncOpenAI(base_url=base_url(port, d), api_key=key, max_retries=0, timeout=30.0)
                   for d in DEPLOYMENTS]

        async def raw(i: int) -> None:
            resp = await clients[i % 3].chat.completions.create(model=API_MODEL, messages=messages(i),  # type: ignore[arg-type]
                                                                temperature=0.0, timeout=30.0)
            assert resp.choices[0].message.content

        async def close_raw() -> None:
            for c in clients:
                await c.close()

        return raw, close_raw
    if kind == "litellm":
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        router = litellm.Router(model_list=[
            {"model_name": "gpt-4o-mini",
             "litellm_params": {"model": f"openai/{API_MODEL}", "api_base": base_url(port, d), "api_key": key,
                                "timeout": 30, "max_retries": 0}} for d in DEPLOYMENTS],
            num_retries=0, routing_strategy="simple-shuffle")

        async def lite(i: int) -> None:
            resp = await router.acompletion(model="gpt-4o-mini", messages=messages(i), temperature=0.0)
            assert resp.choices[0].message.content

        async def close_lite() -> None:
            return None

        return lite, close_lite
    from routerlab.live.gateway import Gateway
    from routerlab.types import Request

    gw = Gateway.from_config({
        "strategy": "round-robin", "retry": {"attempts": 3, "timeout": 30.0},
        "models": {"gpt-4o-mini": {"deployments": [
            {"name": d, "provider": "openai", "model": "gpt-4o-mini", "base_url": base_url(port, d),
             "api_key_env": KEY_ENV} for d in DEPLOYMENTS]}}})
    await gw.warmup()

    async def through_gateway(i: int) -> None:
        c = await gw.complete(Request.from_prompt(messages(i)[0]["content"]), "gpt-4o-mini")
        assert c.text

    async def close_gw() -> None:
        assert gw.stats()["failures"].sum() == 0
        await gw.aclose()

    return through_gateway, close_gw


async def worker_loop(kind: str, port: int, concurrency: int, warmup: int) -> None:
    """A long-lived contender: reads ``{"calls": n, "offset": k}`` (or ``{"profile": n}``) lines on stdin,
    answers each with one JSON line of measurements; warm before it says ``ready``."""
    call, close = await make_caller(kind, port)
    await drive(call, warmup, concurrency, 90_000_000)  # connections, lazy imports
    tree = ""
    if kind == "gateway":
        import routerlab

        tree = str(Path(routerlab.__file__).parent)  # which tree this worker measures
    print(json.dumps({"ready": True, "routerlab": tree}), flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        order = json.loads(line)
        if "profile" in order:
            out: dict[str, Any] = {"calls_per_request": await calls_per_request(call, order["profile"], concurrency)}
        else:
            out = await drive(call, order["calls"], concurrency, order["offset"])
        print(json.dumps(out), flush=True)
    await close()


async def calls_per_request(call: Any, n: int, concurrency: int) -> float:
    """Python function calls per request (cProfile): client work that other load on the machine cannot skew."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    await drive(call, n, concurrency, 70_000_000)
    prof.disable()
    return float(pstats.Stats(prof).total_calls) / n  # type: ignore[attr-defined]


class Worker:
    """A contender's process (its own interpreter, the routerlab of ``pythonpath``)."""

    def __init__(self, kind: str, port: int, args: argparse.Namespace, pythonpath: str | None) -> None:
        env = {**os.environ}
        env.pop("PYTHONPATH", None)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--port", str(port),
               "--concurrency", str(args.concurrency), "--warmup", str(args.warmup)]
        self.kind = kind
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.kind} worker died (exit {self.proc.wait()})")
        return dict(json.loads(line))

    def ask(self, order: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(order) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(60)


def baseline_tree(rev: str, into: Path) -> Path:
    """The package at ``rev`` (``git archive``; the repository is not touched), for the baseline worker."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "routerlab"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def _add(total: dict[str, float], part: dict[str, Any]) -> None:
    for key in ("wall_s", "cpu_s"):
        total[key] = total.get(key, 0.0) + part[key]
    total.setdefault("p50_ms", []).append(part["p50_ms"])  # type: ignore[attr-defined]


def paired_rounds(port: int, args: argparse.Namespace, baseline: Path | None) -> dict[str, Any]:
    """Rounds of ``args.calls`` calls per contender, run in ``args.chunks`` interleaved chunks (the order
    rotating) so that load drifting on a shared machine falls on every contender alike."""
    kinds = [k for k in CONTENDERS if (k != "baseline" or baseline) and (k != "litellm" or not args.skip_litellm)]
    paths = {"raw": None, "litellm": None, "gateway": str(ROOT), "baseline": str(baseline) if baseline else None}
    workers = {k: Worker(k, port, args, paths[k]) for k in kinds}
    rounds: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    chunk = args.calls // args.chunks
    try:
        for r in range(args.rounds):
            totals: dict[str, dict[str, Any]] = {k: {} for k in kinds}
            for c in range(args.chunks):
                turn = r * args.chunks + c
                for kind in kinds[turn % len(kinds):] + kinds[:turn % len(kinds)]:
                    _add(totals[kind], workers[kind].ask({"calls": chunk, "offset": (turn + 1) * 1_000_000}))
            for kind, t in totals.items():
                n = chunk * args.chunks
                rounds[kind].append({"calls": n, "wall_s": t["wall_s"], "throughput": n / t["wall_s"],
                                     "cpu_ms_per_call": t["cpu_s"] / n * 1e3, "p50_ms": statistics.median(t["p50_ms"])})
            print(f"round {r + 1}: " + ", ".join(f"{k} {rounds[k][-1]['wall_s']:.2f} s" for k in kinds),
                  file=sys.stderr, flush=True)
        profiles = {k: w.ask({"profile": 300})["calls_per_request"] for k, w in workers.items()}
    finally:
        for w in workers.values():
            w.close()
    out: dict[str, Any] = {"rounds": rounds, "calls_per_request": profiles,
                           "trees": {k: w.info.get("routerlab") for k, w in workers.items()}}
    for kind in ("gateway", "baseline"):
        if kind in rounds:
            ratios = [g["wall_s"] / r["wall_s"] for g, r in zip(rounds[kind], rounds["raw"])]
            cpu = [g["cpu_ms_per_call"] / r["cpu_ms_per_call"] for g, r in zip(rounds[kind], rounds["raw"])]
            out[f"{kind}_ratios"], out[f"{kind}_ratio"] = ratios, statistics.median(ratios)
            out[f"{kind}_cpu_ratio"] = statistics.median(cpu)
    if "litellm" in rounds:
        x = [g["throughput"] / lt["throughput"] for g, lt in zip(rounds["gateway"], rounds["litellm"])]
        out["litellm_throughput_ratios"], out["litellm_throughput_ratio"] = x, statistics.median(x)
    return out


# --- the caches, in this process ------------------------------------------------------------------
async def bench_exact_cache(port: int, n_hits: int = 2000) -> dict[str, Any]:
    from routerlab.live.cache import ResponseCache
    from routerlab.live.gateway import Gateway
    from routerlab.types import Request

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
    return {"gateway_hit_p50_us": float(np.median(lat) * 1e6),
            "gateway_hit_p95_us": float(np.percentile(lat, 95) * 1e6),
            "cache_get_p50_us": float(np.median(raw) * 1e6)}


def bench_semantic(n: int = 100_000, dim: int = 256, queries: int = 200, loop_queries: int = 3) -> dict[str, Any]:
    from routerlab.live.cache import HashingEmbedder, SemanticCache

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


def main_run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault(KEY_ENV, "bench-local-key")
    sys.path.insert(0, str(ROOT))
    proc, port = start_server()
    load = os.getloadavg()
    try:
        out: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                           "platform": platform.platform()},
                               "calls": args.calls, "concurrency": args.concurrency, "baseline_rev": args.baseline}
        with tempfile.TemporaryDirectory() as tmp:
            baseline = baseline_tree(args.baseline, Path(tmp)) if args.baseline else None
            out["paired"] = paired_rounds(port, args, baseline)
        if not args.skip_caches:
            out["exact_cache"] = asyncio.run(bench_exact_cache(port))
    finally:
        proc.terminate()
        proc.wait(10)
    if not args.skip_caches:
        out["semantic_cache"] = bench_semantic()
    out["load_average"] = {"start": load, "end": os.getloadavg()}
    return out


def report(out: dict[str, Any]) -> str:
    p = out["paired"]
    lines = [f"machine: {out['machine']['cpus']} cores, Python {out['machine']['python']}; load average at start "
             f"{'/'.join(f'{x:.2f}' for x in out['load_average']['start'])}, at end "
             f"{'/'.join(f'{x:.2f}' for x in out['load_average']['end'])}",
             f"{out['calls']} calls at concurrency {out['concurrency']} per contender and round, "
             f"{len(p['rounds']['raw'])} rounds (each contender in its own process, chunks interleaved, order "
             "rotating), median of rounds:"]
    names = {"raw": "raw AsyncOpenAI", "gateway": "Gateway (this tree)", "baseline": f"Gateway @ {out['baseline_rev']}",
             "litellm": "litellm.Router"}
    for kind, rows in p["rounds"].items():
        med = {k: statistics.median(r[k] for r in rows) for k in ("wall_s", "throughput", "p50_ms", "cpu_ms_per_call")}
        lines.append(f"  {names[kind]:<22} {med['wall_s']:6.2f} s  {med['throughput']:6.0f} calls/s  p50 "
                     f"{med['p50_ms']:6.1f} ms  client CPU {med['cpu_ms_per_call']:.2f} ms/call  Python calls/request "
                     f"{p['calls_per_request'][kind]:,.0f}")
    for kind, target in (("gateway", "target <= 1.10"), ("baseline", "the baseline")):
        if f"{kind}_ratio" in p:
            lines.append(f"  {names[kind]} / raw wall time: {p[f'{kind}_ratio']:.3f} median of paired rounds "
                         f"{['%.3f' % x for x in p[f'{kind}_ratios']]}; client CPU ratio {p[f'{kind}_cpu_ratio']:.3f} "
                         f"({target})")
    if "litellm_throughput_ratio" in p:
        lines.append(f"  Gateway / litellm.Router throughput: {p['litellm_throughput_ratio']:.2f}x median of paired "
                     f"rounds {['%.2f' % x for x in p['litellm_throughput_ratios']]} (target >= 3)")
    if "exact_cache" in out:
        ec = out["exact_cache"]
        lines.append(f"exact cache hit through Gateway.complete: p50 {ec['gateway_hit_p50_us']:.0f} us, "
                     f"p95 {ec['gateway_hit_p95_us']:.0f} us; ResponseCache.get alone p50 "
                     f"{ec['cache_get_p50_us']:.0f} us")
    if "semantic_cache" in out:
        sc = out["semantic_cache"]
        lines.append(f"semantic cache, {sc['entries']:,} entries x {sc['dim']} dims: lookup p50 "
                     f"{sc['vectorised_p50_ms']:.2f} ms vs Python loop {sc['loop_p50_ms']:.0f} ms -> "
                     f"{sc['speedup']:.0f}x (target >= 100); HashingEmbedder {sc['embed_us']:.0f} us per prompt")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--baseline", default="62d5554", help="git revision of the baseline Gateway ('' for none)")
    p.add_argument("--skip-litellm", action="store_true")
    p.add_argument("--skip-caches", action="store_true")
    p.add_argument("--json", type=Path)
    p.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--chunks", type=int, default=4, help="interleaved chunks per round (default 4)")
    args = p.parse_args(argv)
    if args.worker:  # one contender, with the routerlab of its PYTHONPATH
        os.environ.setdefault(KEY_ENV, "bench-local-key")
        asyncio.run(worker_loop("gateway" if args.worker == "baseline" else args.worker, args.port,
                                args.concurrency, args.warmup))
        return 0
    out = main_run(args)
    print(report(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
