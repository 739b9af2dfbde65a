"""RouteLLM's evaluation format (``routellm/evals/``) as outcomes, for users' own files.

Reads, under the given folder (or one such file):

- ``<benchmark>/<benchmark>_responses.csv``, e.g. ``gsm8k/gsm8k_responses.csv``: the wide form,
  ``prompt`` plus one true/false correctness column per model and ``<model>_response`` texts;
  ``task``: the benchmark; ``prompt_id``: ``<benchmark>-#<row>`` (rows from 0; RouteLLM has no ids).
- ``mmlu/responses/mmlu_<subject>.csv``: ``prompt`` and one correctness column per model; ``task``:
  ``mmlu``; ``prompt_id``: ``mmlu-<subject>-#<row>``.
- ``mt_bench/question.jsonl`` and ``mt_bench/judgements.jsonl`` (FastChat's format): for each
  question its first turn (``turns[0]``) as the prompt, ``reference[0]`` as the reference, and per
  model the GPT-4 single-answer grade of turn 1 divided by 10 as the score, the answer quoted in the
  judge prompt as the response; ``task``: ``mt-bench``; ``prompt_id``: ``mtbench-#<question_id>``.
  Turn 2 is left out: it depends on each model's own first answer, so it is not a shared prompt.

These are the ids and tasks the bundled ``routellm`` set uses. Model names are kept as written
(the catalog's spelling where it knows them: ``mistralai/Mixtral-8x7B-Instruct-v0.1`` →
``mixtral-8x7b``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import DatasetError
from ._read import Located, plain, read_table
from ._validate import prompts_from_long
from ._wide import wide_to_long

__all__ = ["read_routellm"]

_ANSWER = re.compile(r"\[The Start of Assistant's Answer\]\n(.*?)\n\[The End of Assistant's Answer\]", re.S)


def _csv_files(path: Path) -> list[tuple[Path, str, str]]:
    """(file, task, id stem) for every correctness CSV under ``path``."""
    files = [path] if path.is_file() else sorted(path.rglob("*.csv"))
    out = []
    for f in files:
        if f.parent.name == "responses" and f.stem.startswith("mmlu_"):
            out.append((f, "mmlu", f"mmlu-{f.stem.removeprefix('mmlu_')}"))
        elif f.stem.endswith("_responses"):
            task = f.stem.removesuffix("_responses")
            out.append((f, task, task))
    return out


def _with_prompt_columns(long: Located, prompts: Located) -> Located:
    """The long table with each row's prompt fields (the wide form keeps them per prompt)."""
    p = prompts_from_long(prompts).set_index("prompt_id")
    df = long.df.copy()
    for col in ("task", "prompt", "reference"):
        if col in p.columns:
            df[col] = p[col].reindex(df["prompt_id"]).to_numpy()
    return long.with_df(df)


def _mt_bench(folder: Path) -> Located | None:
    q_file, j_file = folder / "question.jsonl", folder / "judgements.jsonl"
    if not (q_file.exists() and j_file.exists()):
        return None
    questions = read_table(q_file)
    judgements = read_table(j_file)
    for table, cols in ((questions, ("question_id", "turns")), (judgements, ("question_id", "model", "score", "turn"))):
        for col in cols:
            if col not in table.df.columns:
                raise table.fail_file(col, f"not FastChat's MT-Bench format: no {col!r} field")
    q = questions.df.set_index("question_id")
    rows, where = [], []
    for i, j in judgements.df.iterrows():
        if j["turn"] != 1:
            continue
        qid = j["question_id"]
        if qid not in q.index:
            raise judgements.fail(int(i), "question_id", f"question {plain(qid)} is not in {q_file.name}")
        ref = q.at[qid, "reference"] if "reference" in q.columns else None
        found = _ANSWER.search(str(j.get("user_prompt") or ""))
        score = j["score"]
        rows.append({"prompt_id": f"mtbench-#{qid}", "task": "mt-bench", "prompt": q.at[qid, "turns"][0],
                     "reference": ref[0] if isinstance(ref, list) and ref else "", "model": j["model"],
                     "response": found.group(1).strip() if found else None,
                     "score": float(score) / 10 if score is not None and score == score and score >= 0 else None})
        where.append(judgements.place(int(i)))
    return Located(pd.DataFrame(rows), str(j_file), where, "line") if rows else None


def read_routellm(path: Path, *, catalog: Catalog | None = None) -> tuple[Located, dict[str, Any]]:
    """The long-form table of RouteLLM evaluation files (see the module docstring)."""
    parts: list[Located] = []
    notes: dict[str, Any] = {"files": []}
    for f, task, stem in _csv_files(path):
        table = read_table(f)
        if "task" not in table.df.columns:
            table = table.with_df(table.df.assign(task=task))
        prompts, long, file_notes = wide_to_long(table, stem)
        parts.append(_with_prompt_columns(long, prompts))
        notes["files"].append({"file": str(f), "task": task, **file_notes})
    folders = [path] if path.is_dir() and (path / "judgements.jsonl").exists() else (
        sorted({j.parent for j in path.rglob("judgements.jsonl")}) if path.is_dir() else [])
    for folder in folders:
        mt = _mt_bench(folder)
        if mt is not None:
            parts.append(mt)
            notes["files"].append({"file": str(folder / "judgements.jsonl"), "task": "mt-bench",
                                   "turns": "turn 1 only"})
    if not parts:
        raise DatasetError("no RouteLLM evaluation files (<benchmark>_responses.csv, mmlu/responses/*.csv, "
                           "mt_bench/judgements.jsonl) here", path=str(path))
    df = pd.concat([p.df for p in parts], ignore_index=True)
    paths = np.concatenate([np.broadcast_to(np.asarray(p.path, dtype=object), (len(p.df),)) for p in parts])
    where = np.concatenate([p.where if p.where is not None else np.arange(1, len(p.df) + 1) for p in parts])
    return Located(df, paths, where, "line"), notes
