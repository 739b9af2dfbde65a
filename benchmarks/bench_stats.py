"""Benchmark: routerlab's vectorised paired bootstrap against scipy.stats.bootstrap.

    python benchmarks/bench_stats.py                 # 100k pairs x 10k resamples
    python benchmarks/bench_stats.py --n 20000 --repeat 5

Times the BCa paired bootstrap of the mean difference (``routerlab.stats.paired_bootstrap``) and
``scipy.stats.bootstrap(paired=True, vectorized=True)`` on the same data in the same run. scipy is
run with fewer resamples (``--scipy-boot``, default 1,000) and its time scaled linearly to the
same number of resamples, and with ``method="percentile"``: its BCa needs a jackknife over all n
leave-one-out samples, which at n = 100k does not finish in reasonable time (routerlab computes the
mean's jackknife in closed form). Wall time is best of ``--repeat`` runs; CPU time is shown too,
because on a shared machine other processes inflate wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import scipy
from scipy import stats

from routerlab.stats import compare, paired_bootstrap
from routerlab.stats.bootstrap import sign_flip_test


def _time(fn, repeat: int) -> tuple[float, float, object]:
    best_wall, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="pairs (default 100000)")
    ap.add_argument("--n-boot", type=int, default=10_000, help="routerlab resamples (default 10000)")
    ap.add_argument("--scipy-boot", type=int, default=1_000,
                    help="scipy resamples, scaled to --n-boot (default 1000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing, best kept (default 3)")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    a = rng.lognormal(-6.0, 1.0, args.n)  # per-prompt cost of strategy A, USD
    b = a * rng.lognormal(-0.05, 0.3, args.n)  # B: correlated with A, ~5% cheaper

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"data: {args.n:,} pairs; routerlab {args.n_boot:,} resamples; scipy {args.scipy_boot:,} "
          f"resamples scaled x{args.n_boot / args.scipy_boot:g}\n")

    wall, cpu, ours = _time(lambda: paired_bootstrap(a, b, "mean_diff", n_boot=args.n_boot, seed=0),
                            args.repeat)
    print(f"routerlab paired_bootstrap (BCa):  wall {wall:6.2f} s   cpu {cpu:6.2f} s   CI {ours.ci}")
    wall_p, cpu_p, ours_p = _time(
        lambda: paired_bootstrap(a, b, "mean_diff", n_boot=args.n_boot, seed=0, method="percentile"),
        1)
    print(f"routerlab paired_bootstrap (pct):  wall {wall_p:6.2f} s   cpu {cpu_p:6.2f} s   CI {ours_p.ci}")

    def run_scipy():
        return stats.bootstrap((a, b), lambda x, y, axis: np.mean(y - x, axis=axis), paired=True,
                               vectorized=True, n_resamples=args.scipy_boot, method="percentile",
                               batch=max(1, (1 << 24) // args.n), random_state=1)

    s_wall, s_cpu, ref = _time(run_scipy, 1)
    scale = args.n_boot / args.scipy_boot
    ci = ref.confidence_interval
    print(f"scipy.stats.bootstrap (pct):       wall {s_wall:6.2f} s   cpu {s_cpu:6.2f} s   "
          f"CI ({ci.low}, {ci.high}) at {args.scipy_boot:,} resamples")
    print(f"scipy scaled to {args.n_boot:,} resamples: wall {s_wall * scale:6.2f} s")
    print(f"speed-up (wall, scipy scaled / routerlab BCa): x{s_wall * scale / wall:.1f}")
    print(f"routerlab BCa under 3 s: {'yes' if wall < 3 else 'NO'}\n")

    wall_q, _, q = _time(lambda: paired_bootstrap(a, b, "quantile_diff", q=0.95, n_boot=1000, seed=0), 1)
    print(f"p95 difference, {args.n:,} pairs x 1,000 resamples: wall {wall_q:.2f} s   CI {q.ci}")
    wall_s, _, (p, _) = _time(lambda: sign_flip_test(b - a, 9_999, seed=0), 1)
    print(f"sign-flip test, {args.n:,} pairs x 9,999 flips:   wall {wall_s:.2f} s   p {p:.4g}")

    import pandas as pd

    n_small = 2840  # the zeroeval prompt count
    df = pd.DataFrame({
        "strategy": ["a"] * n_small + ["b"] * n_small,
        "prompt_id": [f"p{i}" for i in range(n_small)] * 2,
        "task": [("gsm", "crux", "math")[i % 3] for i in range(n_small)] * 2,
        "score": np.r_[rng.integers(0, 2, n_small), rng.integers(0, 2, n_small)].astype(float),
        "cost": np.r_[a[:n_small], b[:n_small]],
        "latency": np.r_[rng.lognormal(0, 0.5, n_small), rng.lognormal(-0.1, 0.5, n_small)],
    })
    for metric in ("quality", "cost", "latency_p95"):
        w, _, _ = _time(lambda m=metric: compare(df, "a", "b", m), 1)
        print(f"compare(metric={metric!r}) on {n_small:,} prompts, defaults: wall {w:.2f} s")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
