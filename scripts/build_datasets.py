#!/usr/bin/env python3
"""Build the compact bundled data sets in ``datasets/`` from the raw copies in ``../shared/datasets``.

Run from the repository root::

    python scripts/build_datasets.py [--source ../shared/datasets] [--out datasets]

Each set becomes ``prompts.parquet`` (prompt_id, task, prompt, reference, extra) and
``outcomes.parquet`` (prompt_id, model, response, input_tokens, output_tokens, score), compressed
with zstd, plus a README naming the source, commit, license and fields. Token counts use tiktoken's
offline cl100k encoding. The build is deterministic: the same inputs give byte-identical files.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from routerlab.catalog import Catalog  # noqa: E402
from routerlab.tokens import count_tokens  # noqa: E402

ZEROEVAL_TASKS = ("gsm", "crux", "math-l5")


def _write(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    pq.write_table(table, path, compression="zstd", compression_level=19, use_dictionary=True)


def _prompt_id(task: str, raw_id: str) -> str:
    return f"{task}-#{raw_id}" if re.fullmatch(r"\d+", str(raw_id)) else str(raw_id)


def build_zeroeval(src: Path, out: Path, catalog: Catalog) -> dict[str, object]:
    prompts: list[dict[str, object]] = []
    outcomes: list[dict[str, object]] = []
    published: list[dict[str, object]] = []
    for task in ZEROEVAL_TASKS:
        files = sorted(glob.glob(str(src / task / "*.json")))
        summary = {row["Model"]: row for row in json.loads((src / f"{task}.summary.json").read_text())}
        seen_prompts = False
        for f in files:
            stem = Path(f).stem
            model = catalog.canonical(stem)
            rows = json.loads(Path(f).read_text())
            if not seen_prompts:
                for r in rows:
                    prompts.append({
                        "prompt_id": _prompt_id(task, r["id"]),
                        "task": task,
                        "prompt": r["chat_history"][0],
                        "reference": str(r["answer"]),
                    })
                seen_prompts = True
            for r in rows:
                outcomes.append({
                    "prompt_id": _prompt_id(task, r["id"]),
                    "model": model,
                    "generator": r.get("generator", stem),
                    "response": r["output"][0] if r["output"] else "",
                })
            published.append({"task": task, "model": model, "source_model": stem,
                               "accuracy": float(summary[stem]["Acc"]), "n": int(summary[stem]["Total"])})
    p = pd.DataFrame(prompts)
    o = pd.DataFrame(outcomes)
    prompt_text = dict(zip(p["prompt_id"], p["prompt"]))
    o["input_tokens"] = count_tokens([prompt_text[i] for i in o["prompt_id"]])
    o["output_tokens"] = count_tokens(o["response"].tolist())
    o["score"] = float("nan")  # scored by routerlab.scoring at load time (the rule is the point)
    o = o[["prompt_id", "model", "response", "input_tokens", "output_tokens", "score", "generator"]]
    out.mkdir(parents=True, exist_ok=True)
    _write(p, out / "prompts.parquet")
    _write(o, out / "outcomes.parquet")
    pd.DataFrame(published).to_csv(out / "published_accuracy.csv", index=False)
    return {"prompts": len(p), "outcomes": len(o), "models": o["model"].nunique()}


def _mtbench_answer(judge_prompt: str) -> str:
    m = re.search(r"\[The Start of Assistant's Answer\]\n(.*?)\n\[The End of Assistant's Answer\]",
                  judge_prompt, re.S)
    return m.group(1).strip() if m else ""


def build_routellm(src: Path, out: Path, catalog: Catalog) -> dict[str, object]:
    strong, weak = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
    prompts: list[dict[str, object]] = []
    outcomes: list[dict[str, object]] = []

    gsm = pd.read_csv(src / "gsm8k" / "gsm8k_responses.csv")
    gold = [json.loads(line)["answer"] for line in (src / "gsm8k" / "test.jsonl").read_text().splitlines()]
    for i, row in gsm.iterrows():
        pid = f"gsm8k-#{i}"
        prompts.append({"prompt_id": pid, "task": "gsm8k", "prompt": row["prompt"],
                        "reference": gold[i].split("####")[-1].strip()})
        for m in (strong, weak):
            outcomes.append({"prompt_id": pid, "model": catalog.canonical(m),
                             "response": str(row[f"{m}_response"]), "score": float(bool(row[m]))})

    for f in sorted(glob.glob(str(src / "mmlu" / "responses" / "*.csv"))):
        subject = Path(f).stem.removeprefix("mmlu_")
        df = pd.read_csv(f)
        for i, row in df.iterrows():
            pid = f"mmlu-{subject}-#{i}"
            prompts.append({"prompt_id": pid, "task": "mmlu", "prompt": row["prompt"], "reference": ""})
            for m in (strong, weak):
                # MMLU records correctness only: the answer is one letter, counted as one output token.
                outcomes.append({"prompt_id": pid, "model": catalog.canonical(m), "response": "",
                                 "score": float(bool(row[m])), "output_tokens": 1})

    questions = {json.loads(l)["question_id"]: json.loads(l)
                 for l in (src / "mt_bench" / "question.jsonl").read_text().splitlines()}
    for line in (src / "mt_bench" / "judgements.jsonl").read_text().splitlines():
        j = json.loads(line)
        if j["turn"] != 1:
            continue  # turn 2 depends on each model's own first answer: not a shared prompt
        q = questions[j["question_id"]]
        pid = f"mtbench-#{j['question_id']}"
        outcomes.append({"prompt_id": pid, "model": catalog.canonical(j["model"]),
                         "response": _mtbench_answer(j["user_prompt"]), "score": float(j["score"]) / 10.0})
    for qid, q in sorted(questions.items()):
        ref = q.get("reference") or [""]
        prompts.append({"prompt_id": f"mtbench-#{qid}", "task": "mt-bench", "prompt": q["turns"][0],
                        "reference": ref[0]})

    p = pd.DataFrame(prompts)
    o = pd.DataFrame(outcomes)
    prompt_text = dict(zip(p["prompt_id"], p["prompt"]))
    o["input_tokens"] = count_tokens([prompt_text[i] for i in o["prompt_id"]])
    counted = pd.Series(count_tokens(o["response"].tolist()), index=o.index)
    o["output_tokens"] = o["output_tokens"].fillna(counted).astype("int64") if "output_tokens" in o else counted
    o = o[["prompt_id", "model", "response", "input_tokens", "output_tokens", "score"]]
    out.mkdir(parents=True, exist_ok=True)
    _write(p, out / "prompts.parquet")
    _write(o, out / "outcomes.parquet")
    return {"prompts": len(p), "outcomes": len(o), "models": o["model"].nunique()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    ap.add_argument("--source", type=Path, default=root.parent / "shared" / "datasets")
    ap.add_argument("--out", type=Path, default=root / "datasets")
    args = ap.parse_args(argv)
    if not (args.source / "zeroeval").is_dir():
        ap.error(f"no raw data at {args.source}/zeroeval: pass --source pointing at shared/datasets")
    catalog = Catalog.default()
    print("zeroeval:", build_zeroeval(args.source / "zeroeval", args.out / "zeroeval", catalog))
    print("routellm:", build_routellm(args.source / "routellm_evals", args.out / "routellm", catalog))
    for f in sorted(args.out.rglob("*.parquet")):
        print(f"  {f.relative_to(args.out)}: {os.path.getsize(f) / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
