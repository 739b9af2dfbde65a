#!/usr/bin/env python3
"""Hit rate and false-hit rate of the semantic cache on labelled prompt pairs; the default threshold.

Run from the repository root::

    python benchmarks/bench_semantic_cache.py [--pairs benchmarks/data/semantic_pairs.jsonl.gz] [--json out.json]

The pairs are built by ``benchmarks/semantic_pairs.py`` (see its docstring: real prompts, rule-made
paraphrases and perturbations, real look-alike prompts). For thresholds 0.500 … 1.000 it measures, with
the meaning check on and off, on the ``tune`` half and the ``test`` half:

- ``hit_rate``: share of pairs served from the cache; ``recall``: share of true paraphrases served;
- ``false_hit_rate``: share of served answers that were wrong (the query meant something else);
- ``false_positive_rate``: share of the meaning-changing pairs that were served.

The default threshold is :meth:`SemanticCache.calibrate` on ``tune`` (the lowest threshold from which on
at most 1 % of served answers are wrong, meaning check on); the figures reported for it are ``test``'s.
Also: what a similarity threshold alone (no meaning check) gives at that threshold, and the threshold it
would need for the same 1 % budget; served shares per pair kind; the cost of the meaning check per pair.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from routerlab.live.cache import DEFAULT_THRESHOLD, SemanticCache  # noqa: E402
from routerlab.live.meaning import MeaningGuard  # noqa: E402
from routerlab.stats import wilson_interval  # noqa: E402

GRID = np.round(np.arange(0.5, 1.0001, 0.005), 3)
BUDGET = 0.01


def load(path: Path) -> pd.DataFrame:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return pd.DataFrame([json.loads(line) for line in f])


def _pairs(df: pd.DataFrame) -> tuple[list[tuple[str, str]], list[bool]]:
    return list(zip(df["query"], df["cached"])), [bool(x) for x in df["label"]]


def row_at(cache: SemanticCache, df: pd.DataFrame, t: float) -> dict[str, Any]:
    pairs, labels = _pairs(df)
    return cache.evaluate(pairs, labels, [t]).iloc[0].to_dict()


def per_kind(cache: SemanticCache, df: pd.DataFrame, t: float) -> pd.DataFrame:
    out = []
    for kind, g in df.assign(kind=df["kind"].str.replace(r"^paraphrase:.*", "paraphrase", regex=True)).groupby("kind"):
        pairs, labels = _pairs(g)
        r = cache.evaluate(pairs, labels, [t]).iloc[0]
        out.append({"kind": kind, "pairs": len(g), "served": int(r["hits"]), "share_served": r["hits"] / len(g)})
    return pd.DataFrame(out)


def guard_cost(df: pd.DataFrame) -> float:
    g = MeaningGuard()
    g.same("warm up", "the lexicon")
    t = time.perf_counter()
    for q, c in zip(df["query"], df["cached"]):
        g.same(q, c)
    return (time.perf_counter() - t) / len(df) * 1e6


CONFIGS = {
    "similarity + meaning check (default)": lambda: SemanticCache(),
    "similarity + category checks only (strict=False)": lambda: SemanticCache(guard=MeaningGuard(strict=False)),
    "similarity alone (check_meaning=False)": lambda: SemanticCache(check_meaning=False),
}


def measure(df: pd.DataFrame) -> dict[str, Any]:
    tune, test = df[df.split == "tune"], df[df.split == "test"]
    rows = []
    for name, make in CONFIGS.items():
        cache = make()
        t = cache.calibrate(*_pairs(tune), max_false_hit_rate=BUDGET, thresholds=GRID)
        rows.append({"config": name, "threshold": t, **row_at(cache, test, t)})
    default = CONFIGS["similarity + meaning check (default)"]()
    chosen = rows[0]["threshold"]
    kinds = per_kind(default, test, chosen)
    for name, make in list(CONFIGS.items())[1:]:
        kinds = kinds.merge(per_kind(make(), test, chosen)[["kind", "served"]].rename(columns={"served": name}),
                            on="kind")
    return {"pairs": len(df), "tune": len(tune), "test": len(test), "chosen": chosen, "rows": rows, "kinds": kinds,
            "sweep": {name: make().evaluate(*_pairs(test), [0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99])
                      for name, make in CONFIGS.items()},
            "guard_us": guard_cost(df)}


def _fmt_row(name: str, t: float, r: dict[str, Any]) -> str:
    hi = wilson_interval(int(r["false_hits"]), int(r["hits"]))[1] if r["hits"] else float("nan")
    return (f"| {name} | {t:.3f} | {r['hit_rate']:.1%} | {r['recall']:.1%} | {r['false_hit_rate']:.1%} "
            f"({int(r['false_hits'])}/{int(r['hits'])}; 95 % upper bound {hi:.1%}) | {r['false_positive_rate']:.1%} |")


def report(m: dict[str, Any]) -> str:
    lines = [
        f"{m['pairs']} pairs ({m['tune']} tune, {m['test']} test); chosen threshold {m['chosen']:.3f} "
        f"(packaged default {DEFAULT_THRESHOLD:.3f}); meaning check {m['guard_us']:.0f} µs per pair.",
        "",
        "| test half, each at its own threshold (≤ 1 % false hits on tune) | threshold | hit rate | recall | "
        "false-hit rate | false-positive rate |",
        "|---|---|---|---|---|---|",
        *(_fmt_row(r["config"], r["threshold"], r) for r in m["rows"]),
        "",
        f"| pair kind (test half, threshold {m['chosen']:.3f}) | pairs | served | "
        + " | ".join(f"served, {name.split(' (')[0]}" for name in list(CONFIGS)[1:]) + " |",
        "|---|---|---|" + "---|" * (len(CONFIGS) - 1),
    ]
    for r in m["kinds"].to_dict("records"):
        lines.append(f"| {r['kind']} | {r['pairs']} | {r['served']} | "
                     + " | ".join(str(r[name]) for name in list(CONFIGS)[1:]) + " |")
    lines += ["", "| threshold (test half): recall / false-hit rate | " + " | ".join(CONFIGS) + " |",
              "|---|" + "---|" * len(CONFIGS)]
    sweeps = list(m["sweep"].values())
    for i, t in enumerate(sweeps[0]["threshold"]):
        lines.append(f"| {t:.2f} | " + " | ".join(f"{s['recall'].iloc[i]:.0%} / {s['false_hit_rate'].iloc[i]:.1%}"
                                                  for s in sweeps) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--pairs", type=Path, default=ROOT / "benchmarks" / "data" / "semantic_pairs.jsonl.gz")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    m = measure(load(args.pairs))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    print(report(m))
    if m["chosen"] != DEFAULT_THRESHOLD:
        print(f"\nNOTE: the packaged DEFAULT_THRESHOLD ({DEFAULT_THRESHOLD}) differs from the measured {m['chosen']}")
    if args.json:
        m["sweep"] = {k: v.to_dict("records") for k, v in m["sweep"].items()}
        args.json.write_text(json.dumps({k: (v.to_dict("records") if isinstance(v, pd.DataFrame) else v)
                                         for k, v in m.items()}, indent=2, default=float))


if __name__ == "__main__":
    main()
