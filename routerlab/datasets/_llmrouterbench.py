"""LLMRouterBench / OpenRouterBench result files as outcomes.

Layout: ``results/bench/<dataset>/<split>/<model>/<timestamp>.json`` (pass the root, ``results``,
``results/bench`` or any folder below), each file an object with ``dataset_name``, ``split``,
``model_name``, ``demo`` and ``records``. As LLMRouterBench's own loader does, demo files are skipped
and, of several files for one (dataset, split, model), the latest timestamp (``YYYYMMDD_HHMMSS`` or
``YYYYMMDD-HHMMSS`` in the name, else the file's modification time) is read; the records of the older
files are superseded. Nothing is dropped unsaid: a warning names each superseded file, how many records
it held and how many of their indices no newer file has (those prompts lose this model's outcome), and
``Dataset.info`` lists them (``superseded_files``, ``superseded_records``: file → records,
``demo_files_skipped``). ``merge=True`` keeps every index instead: records are merged by index, the
newest file's record winning (``info["merged"]``).

Read per record: ``prompt_id``: ``<dataset>/<split>/<index>``; ``task``: the dataset; ``prompt``:
``prompt`` (the text sent; ``origin_query`` when it is empty), with ``origin_query`` and ``split`` kept
as prompt metadata; ``reference``: ``ground_truth``; ``model``: ``model_name``; ``response``:
``raw_output``; ``prediction``: ``prediction``; ``score``: ``score`` (null: missing, never 0);
``input_tokens``: ``prompt_tokens``; ``output_tokens``: ``completion_tokens``; ``cost``: ``cost``
(USD, used as recorded).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
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

_STAMP = re.compile(r"(\d{8})[-_T]?(\d{6})\.json$")
log = logging.getLogger("routerlab.datasets")


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


def _stamp(f: Path) -> float:
    """When the run was written, in seconds since the epoch: the name's timestamp, else the file's mtime
    (one scale, so named and unnamed files order correctly together)."""
    m = _STAMP.search(f.name)
    if m:
        try:
            return _dt.datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S").timestamp()
        except ValueError:
            pass  # eight and six digits that are no date: the modification time says when
    return f.stat().st_mtime


def _indices(data: dict[str, Any]) -> set[str]:
    return {plain(r["index"]) for r in data["records"] if isinstance(r, dict) and "index" in r}


def _supersede(key: tuple[str, str, str], files: list[tuple[Path, dict[str, Any]]], merge: bool,
               notes: dict[str, Any]) -> None:
    """Record (and warn) what the newest of ``files`` (sorted oldest first) supersedes of the others."""
    newest, older = files[-1], files[:-1]
    seen = _indices(newest[1])
    for f, data in reversed(older):
        mine = _indices(data)
        only = sorted(mine - seen)
        notes["superseded_files"].append(str(f))
        notes["superseded_records"][str(f)] = len(data["records"])
        what = (f"its {len(only)} indices no newer file has are kept (merge=True)" if merge else
                f"{len(only)} of them are in no newer file, so their prompts lose {key[2]}'s outcome "
                "(load(..., merge=True) keeps them, newest record per index)" if only else
                "every index is in a newer file")
        log.warning("LLMRouterBench %s: %s superseded by %s: %d records; %s", "/".join(key), f.name,
                    newest[0].name, len(data["records"]), what)
        seen |= mine


def _files(path: Path, merge: bool) -> tuple[list[tuple[Path, dict[str, Any]]], dict[str, Any]]:
    """The result files to read, newest last per (dataset, split, model), and what was skipped."""
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
    chosen: list[tuple[Path, dict[str, Any]]] = []
    notes: dict[str, Any] = {"demo_files_skipped": demo, "superseded_files": [], "superseded_records": {}}
    for key in sorted(groups):
        files = sorted(groups[key], key=lambda fd: (_stamp(fd[0]), fd[0].name))
        if len(files) > 1:
            _supersede(key, files, merge, notes)
        chosen += files if merge else files[-1:]
    if merge:
        notes["merged"] = True
    return chosen, notes


def read_llmrouterbench(path: Path, *, catalog: Catalog | None = None,
                        merge: bool = False) -> tuple[Located, dict[str, Any]]:
    """The long-form table of LLMRouterBench result files (see the module docstring); ``merge``: keep
    the indices only older files of a model hold (the newest record of each index wins)."""
    rows: list[dict[str, Any]] = []
    paths: list[str] = []
    where: list[str] = []
    files, notes = _files(path, merge)
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
    if merge:  # files are read oldest first per model: the last record of an index is the newest
        older = df.duplicated(["prompt_id", "model"], keep="last").to_numpy()
        # an index twice in one file stays, for the validation to report (it is no superseded record)
        within = pd.DataFrame({"p": df["prompt_id"], "m": df["model"], "f": paths}).duplicated(keep=False).to_numpy()
        keep = ~older | within
        df, paths, where = df[keep].reset_index(drop=True), list(np.array(paths, dtype=object)[keep]), \
            [w for w, k in zip(where, keep) if k]
    for col in ("score", "input_tokens", "output_tokens", "cost"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    notes["files"] = [str(f) for f, _ in files]
    notes["prompt_columns"] = ("origin_query", "split")
    return Located(df, np.array(paths, dtype=object), where, "record"), notes
