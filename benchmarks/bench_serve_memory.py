#!/usr/bin/env python3
"""Peak memory of ``routerlab serve`` when a client sends an oversized body, and how long the answer takes.

Run from the repository root::

    python benchmarks/bench_serve_memory.py [--body-mb 200] [--prompt-mb 20] [--server-path DIR]

It starts ``python -m routerlab.server`` (from this checkout, or from ``--server-path``, e.g. a worktree of an
older commit, to measure the baseline the same way), warms it up with one request, then sends (a) a body of
``--body-mb`` MB announced by its Content-Length, 1 MB at a time, and (b) a prompt of ``--prompt-mb`` MB
through the official ``openai`` SDK. It reports the status, the wall time and the growth of the server's
peak resident set (``VmHWM`` in ``/proc/<pid>/status``). ``--body-mb 0`` skips (a), which a server without a
body limit reads whole (~10 GB at 200 MB).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai

ROOT = Path(__file__).resolve().parents[1]


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def body(mb: int) -> Iterator[bytes]:
    block = b"x" * 1_000_000
    for _ in range(mb):
        yield block


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--body-mb", type=int, default=200)
    ap.add_argument("--prompt-mb", type=int, default=20)
    ap.add_argument("--server-path", type=Path, default=ROOT)
    args = ap.parse_args()
    proc = subprocess.Popen([sys.executable, "-m", "routerlab.server", "--port", "0", "--latency-scale", "0"],
                            stdout=subprocess.PIPE, text=True, cwd=str(args.server_path),
                            env={**os.environ, "PYTHONPATH": str(args.server_path)})
    try:
        port = json.loads(proc.stdout.readline() if proc.stdout else "{}")["port"]
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/d/P1/v1", api_key="k", max_retries=0, timeout=600)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        base = peak_kb(proc.pid)
        print(f"load average {os.getloadavg()[0]:.2f}; server {args.server_path}; "
              f"peak RSS after warm-up {base / 1024:.0f} MB")
        if args.body_mb:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            t = time.perf_counter()
            conn.request("POST", "/d/P1/v1/chat/completions", body=body(args.body_mb),
                         headers={"Content-Length": str(args.body_mb * 1_000_000), "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            print(f"{args.body_mb} MB body: HTTP {r.status} in {time.perf_counter() - t:.2f} s; "
                  f"peak RSS +{(peak_kb(proc.pid) - base) / 1024:.1f} MB")
        t = time.perf_counter()
        try:
            client.chat.completions.create(model="gpt-4o-mini",
                                           messages=[{"role": "user", "content": "y" * args.prompt_mb * 1_000_000}])
            status = 200
        except openai.APIStatusError as exc:
            status = exc.status_code
        print(f"{args.prompt_mb} MB prompt (openai SDK): HTTP {status} in {time.perf_counter() - t:.2f} s; "
              f"peak RSS +{(peak_kb(proc.pid) - base) / 1024:.1f} MB")
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
