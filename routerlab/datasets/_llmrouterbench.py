"""LLMRouterBench / OpenRouterBench result files as outcomes.

Layout: ``results/bench/<dataset>/<split>/<model>/<timestamp>.json`` (pass the root, ``results``,
``results/bench`` or any folder below), each file an object with ``dataset_name``, ``split``,
``model_name``, ``demo`` and ``records``. As LLMRouterBench's own loader does, demo files are skipped
and, of several files for one (dataset, split, model), the latest timestamp (``YYYYMMDD_HHMMSS`` in
the name, else the file's modification time) is read; both are listed in ``Dataset.info``.

Read per record: ``prompt_id``: ``<dataset>/<split>/<index>``; ``task``: the dataset; ``prompt``:
``prompt`` (the text sent; ``origin_query`` when it is empty), with ``origin_query`` and ``split`` kept
as prompt metadata; ``reference``: ``ground_truth``; ``model``: ``model_name``; ``response``:
``raw_output``; ``prediction``: ``prediction``; ``score``: ``score`` (null: missing, never 0);
``input_tokens``: ``prompt_tokens``; ``output_tokens``: ``completion_tokens``; ``cost``: ``cost``
(USD, used as recorded).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import DatasetError
from ._read import Located, plain

__all__ = ["read_llmrouterbench"]

_STAMP = re.compile(r"(\d{8})_(\d{6})\.json$")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _load(f: Path) -> dict[str, Any]:
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not valid UTF-8 ({exc.reason})", path=str(f)) from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"not valid JSON ({exc.msg})", path=str(f), line=exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise DatasetError("not an LLMRouterBench result file: no 'records' list", path=str(f))
    return data


def _stamp(f: Path) -> int:
    m = _STAMP.search(f.name)
    return int(m.group(1) + m.group(2)) if m else int(f.stat().st_mtime)


def _files(path: Path) -> tuple[list[tuple[Path, dict[str, Any]]], dict[str, Any]]:
    candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*.json") if p.is_file())
    groups: dict[tuple[str, str, str], list[tuple[Path, dict[str, Any]]]] = defaultdict(list)
    demo: list[str] = []
    for f in candidates:
        data = _load(f)
        if data.get("demo", False):
            demo.append(str(f))
            continue
        parts = f.parts
        key = (str(data.get("dataset_name") or parts[-4]), str(data.get("split") or parts[-3]),
               str(data.get("model_name") or parts[-2]))
        groups[key].append((f, data))
    if not groups:
        raise DatasetError("no LLMRouterBench result files (<dataset>/<split>/<model>/<timestamp>.json with "
                           "'records')" + (f"; {len(demo)} demo files skipped" if demo else ""), path=str(path))
    chosen, superseded = [], []
    for key in sorted(groups):
        files = sorted(groups[key], key=lambda fd: _stamp(fd[0]))
        chosen.append(files[-1])
        superseded += [str(f) for f, _ in files[:-1]]
    return chosen, {"demo_files_skipped": demo, "superseded_files": superseded}


def read_llmrouterbench(path: Path, *, catalog: Catalog | None = None) -> tuple[Located, dict[str, Any]]:
    """The long-form table of LLMRouterBench result files (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    paths: list[str] = []
    where: list[str] = []
    files, notes = _files(path)
    for f, data in files:
        dataset, split, model = str(data.get("dataset_name") or f.parts[-4]), str(data.get("split") or f.parts[-3]), \
            str(data.get("model_name") or f.parts[-2])
        for k, r in enumerate(data["records"]):
            if not isinstance(r, dict) or "index" not in r:
                raise DatasetError("each record must be an object with an 'index'", path=str(f), record=f"record {k}",
                                   field="index")
            prompt = _text(r.get("prompt")) or _text(r.get("origin_query"))
            rows.append({
                "prompt_id": f"{dataset}/{split}/{r['index']}", "task": dataset, "prompt": prompt,
                "reference": _text(r.get("ground_truth")) or "", "model": model,
                "response": _text(r.get("raw_output")), "prediction": _text(r.get("prediction")),
                "score": r.get("score"), "input_tokens": r.get("prompt_tokens"),
                "output_tokens": r.get("completion_tokens"), "cost": r.get("cost"),
                "origin_query": _text(r.get("origin_query")), "split": split,
            })
            paths.append(str(f))
            where.append(f"record {k} (index {plain(r['index'])})")
    if not rows:
        raise DatasetError("the result files hold no records", path=str(path))
    df = pd.DataFrame(rows)
    for col in ("score", "input_tokens", "output_tokens", "cost"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    notes["files"] = [str(f) for f, _ in files]
    notes["prompt_columns"] = ("origin_query", "split")
    return Located(df, np.array(paths, dtype=object), where, "record"), notes
