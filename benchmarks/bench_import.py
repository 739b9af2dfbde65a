"""Bring your own data at RouterBench's size: import a 36,000-prompt × 11-model table and replay ten
strategies (issue 13: < 30 s and < 2 GB on this machine).

The table is synthetic but has RouterBench's shape (``routerbench_0shot.pkl``): ``sample_id``,
``prompt``, ``eval_name``, per model ``<model>`` (0/1 correctness, 61 cells left empty),
``<model>|model_response`` and ``<model>|total_cost``, and ``oracle_model_to_route_to``; its eleven
model names are RouterBench's (nine unknown to routerlab's catalog); answers are plain text of
RouterBench-like lengths (a letter with a sentence for multiple choice, worked solutions for
GSM8K, code for MBPP).

Measured in a fresh process each (peak RSS from ``getrusage``), same file, same run:

- **routerlab**: ``import routerlab`` + ``datasets.load(pickle)`` (detection, validation, recorded
  costs) + a 50/50 holdout replay of ten strategies: five single models, random, the oracle, a task
  router learned per ``eval_name``, an agreement cascade planned on the train half and a three-model
  consensus (the last two replayed prompt by prompt, 18,000 prompts each). The multiple-choice evals
  are named a multiple-choice scorer, so agreement compares letters.
- **learned** (reported apart, not in the ten): ``LearnedRouter`` fitted on the 18,000 train prompts
  and replayed on the 18,000 test prompts. Its kNN compares every test prompt with every train
  prompt (an 18,000 × 18,000 similarity matrix per λ), so it grows with the square of the size.
- **baseline**: what a user would otherwise run to get the same long table: ``pandas.read_pickle``
  and a melt of the per-model columns (no validation, no strategies): the floor for the import.

Run: ``python benchmarks/bench_import.py`` (``--prompts N`` for a smaller table).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["WizardLM/WizardLM-13B-V1.2", "claude-instant-v1", "claude-v1", "claude-v2", "gpt-3.5-turbo-1106",
          "gpt-4-1106-preview", "meta/code-llama-instruct-34b-chat", "meta/llama-2-70b-chat",
          "mistralai/mistral-7b-chat", "mistralai/mixtral-8x7b-chat", "zero-one-ai/Yi-34B-Chat"]
# RouterBench's evals and their shares of its 36,497 prompts (mmlu subsets pooled)
EVALS = {"mmlu": 0.39, "hellaswag": 0.28, "grade-school-math": 0.21, "winogrande": 0.035, "arc-challenge": 0.033,
         "mbpp": 0.012, "mt-bench": 0.002, "consensus_summary": 0.038}
WORDS = ("the of and a to in is that for it as was with be by on not he this are or his from at which but have "
         "an they you were her all she there would their we him been has when who will more no if out so up").split()


def _text(rng: np.random.Generator, n_words: int) -> str:
    return " ".join(rng.choice(WORDS, n_words))


def routerbench_like(n_prompts: int, seed: int = 0) -> pd.DataFrame:
    """A synthetic table in RouterBench's layout (see the module docstring)."""
    rng = np.random.default_rng(seed)
    evals = rng.choice(list(EVALS), n_prompts, p=np.array(list(EVALS.values())) / sum(EVALS.values()))
    skill = np.linspace(0.45, 0.9, len(MODELS))[rng.permutation(len(MODELS))]
    price = np.exp(rng.uniform(np.log(2e-5), np.log(2e-2), len(MODELS)))
    table: dict[str, object] = {
        "sample_id": [f"{e}.dev.{i}" for i, e in enumerate(evals)],
        "prompt": [_text(rng, int(rng.integers(30, 160))) + "?" for _ in range(n_prompts)],
        "eval_name": evals,
    }
    difficulty = rng.normal(0, 1, n_prompts)
    letters = np.array(list("ABCD"))
    gold = rng.integers(4, size=n_prompts)  # each multiple-choice prompt's right letter
    for j, m in enumerate(MODELS):
        right = rng.random(n_prompts) < 1 / (1 + np.exp(-(4 * (skill[j] - 0.5) - difficulty)))
        score = right.astype(float)
        responses = []
        for i, e in enumerate(evals):  # answers agree with the correctness column
            if e in ("grade-school-math",):
                responses.append(_text(rng, int(rng.integers(40, 140))) + f" #### {int(rng.integers(1, 500))}")
            elif e == "mbpp":
                responses.append("def f(x):\n    " + _text(rng, int(rng.integers(20, 80))).replace(" ", "_", 3))
            elif e in ("mt-bench", "consensus_summary"):
                responses.append(_text(rng, int(rng.integers(60, 200))))
            else:
                letter = letters[gold[i] if right[i] else (gold[i] + 1 + rng.integers(3)) % 4]
                responses.append(f"The answer is {letter}. " + _text(rng, int(rng.integers(0, 25))))
        table[m] = score
        table[f"{m}|model_response"] = responses
        table[f"{m}|total_cost"] = price[j] * rng.uniform(0.5, 1.5, n_prompts)
    df = pd.DataFrame(table)
    empty = rng.choice(n_prompts * len(MODELS), 61, replace=False)  # RouterBench's empty correctness cells
    for k in empty:
        df.loc[k // len(MODELS), MODELS[k % len(MODELS)]] = np.nan
    df["oracle_model_to_route_to"] = rng.choice(MODELS, n_prompts)
    return df


ROUTERLAB = r"""
import json, sys, time, resource
t0 = time.perf_counter()
import routerlab as rl
from routerlab import datasets
from routerlab.routers import CascadeRouter, Consensus, FixedRouter, OracleRouter, RandomRouter, TaskRouter
t_import = time.perf_counter() - t0
MC = {e: "multiple-choice" for e in ("mmlu", "hellaswag", "winogrande", "arc-challenge")}
ds = datasets.load(sys.argv[1], scorers=MC)
t_load = time.perf_counter() - t0 - t_import
models = ds.models
fixed = ["gpt-4-1106-preview", "claude-v2", "meta/llama-2-70b-chat", "mistralai/mixtral-8x7b-chat", "gpt-3.5-turbo-1106"]
cheap = ["claude-instant-v1", "mistralai/mixtral-8x7b-chat", "gpt-3.5-turbo-1106"]
def strategies(train):
    out = {m: FixedRouter(m) for m in fixed}
    out["random"] = RandomRouter(models, seed=0)
    out["oracle"] = OracleRouter(ds)
    out["task"] = TaskRouter(task_field="task").fit(train)
    out["cascade"] = CascadeRouter(candidates=[*cheap, "gpt-4-1106-preview"], max_chain=3, budget=0.5,
                                   name="cascade").fit(train)
    out["consensus"] = Consensus(cheap, fallback="gpt-4-1106-preview")
    return out
res = rl.Experiment.holdout(ds, strategies, store=None).run(progress=False)
t_total = time.perf_counter() - t0
summary = res.summary()
print(json.dumps({"import_s": t_import, "load_s": t_load, "replay_s": t_total - t_import - t_load, "total_s": t_total,
                  "rows": len(res.df), "strategies": len(res.strategies), "outcomes": len(ds.outcomes),
                  "errors": int((res.df["error_type"] != "").sum()),
                  "missing_scores": int(ds.info.get("missing_scores", 0)),
                  "recorded_cost": bool((ds.outcomes.df["cost_source"] == "recorded").all()),
                  "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

LEARNED = r"""
import json, sys, time, resource
from routerlab import datasets
from routerlab.harness import Experiment
from routerlab.routers import LearnedRouter
ds = datasets.load(sys.argv[1])
train, test = ds.split(0.5, seed=0)
t0 = time.perf_counter()
router = LearnedRouter(k=16, lam=0.1).fit(train)
t_fit = time.perf_counter() - t0
Experiment(test, {"learned": router}, store=None).run(progress=False)
print(json.dumps({"fit_s": t_fit, "replay_s": time.perf_counter() - t0 - t_fit,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

BASELINE = r"""
import json, sys, time, resource
t0 = time.perf_counter()
import pandas as pd
df = pd.read_pickle(sys.argv[1])
models = [c for c in df.columns if c + "|total_cost" in df.columns]
long = pd.concat([pd.DataFrame({"prompt_id": df["sample_id"], "model": m, "score": df[m],
                                "response": df[m + "|model_response"], "cost": df[m + "|total_cost"]})
                  for m in models], ignore_index=True)
print(json.dumps({"total_s": time.perf_counter() - t0, "outcomes": len(long),
                  "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, path: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)), "ROUTERLAB_CACHE_DIR": str(path.parent)}
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-4000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=36_000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--learned", action="store_true", help="also time the learned kNN router (apart)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="routerlab-bench-import-") as tmp:
        path = Path(tmp) / "routerbench_like.pkl"
        t = time.perf_counter()
        routerbench_like(args.prompts).to_pickle(path)
        la = os.getloadavg()
        print(f"load average at the start: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
        print(f"table: {args.prompts:,} prompts x {len(MODELS)} models, {path.stat().st_size / 1e6:.0f} MB pickle "
              f"({time.perf_counter() - t:.1f} s to build, not timed)")
        for r in range(args.repeats):
            base = _run(BASELINE, path)
            mine = _run(ROUTERLAB, path)
            print(json.dumps({"repeat": r, "routerlab": mine, "baseline": base}, indent=1))
            print(f"routerlab: import {mine['import_s']:.1f} s + load {mine['load_s']:.1f} s + ten strategies "
                  f"{mine['replay_s']:.1f} s = {mine['total_s']:.1f} s wall (target < 30 s; {mine['cpu_s']:.1f} s CPU), peak RSS "
                  f"{mine['max_rss_mb']:.0f} MB (target < 2,048 MB); baseline pandas read+melt "
                  f"{base['total_s']:.1f} s, {base['max_rss_mb']:.0f} MB; load / baseline "
                  f"{mine['load_s'] / base['total_s']:.2f}x")
        if args.learned:
            learned = _run(LEARNED, path)
            print(f"learned router (apart): fit {learned['fit_s']:.1f} s, replay {learned['replay_s']:.1f} s, "
                  f"peak RSS {learned['max_rss_mb']:.0f} MB")
    la = os.getloadavg()
    print(f"load average at the end: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}; cpus: {os.cpu_count()}")


if __name__ == "__main__":
    main()
