"""lm-evaluation-harness ``--log_samples`` output as outcomes.

Pass a ``samples_<task>_<timestamp>.jsonl`` file, or a directory holding them (``--output_path``:
one folder per model). Read per line:

- ``prompt_id``: ``<task>/<doc_id>``; ``task``: from the file name.
- ``prompt``: the request's text (``arguments``: the first request's first argument; with
  ``--apply_chat_template`` a JSON list of chat messages: its user messages, its system message as
  ``system``); ``reference``: ``target``.
- ``model``: ``model=``, else ``model_name`` of the ``results_<timestamp>.json`` beside the file,
  else the ``model=`` of its ``model_args``, else the folder's name.
- ``response``: ``resps[0][0]`` (the raw generation; loglikelihood tasks record none);
  ``prediction``: ``filtered_resps[0]`` (the filter's extracted answer).
- ``score``: the metric field ``metric=`` (default: the first of the line's ``metrics``); it must
  lie in [0, 1] (``exact_match``, ``acc``).
- Several filters grade the same answer (``strict-match``, ``flexible-extract``): ``filter=`` picks
  one (default: the file's first); the others are not outcomes of their own (listed in ``info``).

lm-eval records no token usage, cost or latency: tokens are counted with cl100k on first use, cost
comes from catalog prices (or stays unknown for models the catalog does not know).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import DatasetError
from ._read import Located, read_table

__all__ = ["read_lm_eval"]

_NAME = re.compile(r"samples_(?P<task>.+?)_(?P<stamp>\d{4}-\d{2}-\d{2}T[\d\-.:]+)\.jsonl$")


def _task(f: Path) -> str:
    m = _NAME.match(f.name)
    return m.group("task") if m else f.stem.removeprefix("samples_")


def _model(f: Path) -> str:
    for res in sorted(f.parent.glob("results_*.json"), reverse=True):
        try:
            data = json.loads(res.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("model_name"):
            return str(data["model_name"])
        args = (data.get("config") or {}).get("model_args")
        if isinstance(args, dict) and args.get("model"):
            return str(args["model"])
        if isinstance(args, str):
            found = re.search(r"(?:^|,)\s*(?:model|pretrained)=([^,]+)", args)
            if found:
                return found.group(1)
    return f.parent.name


def _prompt(arguments: Any) -> tuple[str, str]:
    first = arguments
    if isinstance(first, dict):
        first = next(iter(first.values()), {})
        first = first.get("arg_0") if isinstance(first, dict) else first
    elif isinstance(first, list):
        first = first[0] if first else ""
        first = first[0] if isinstance(first, list) and first else first
    if isinstance(first, list):
        first = first[0] if first else ""
    text = str(first)
    try:
        messages = json.loads(text)
    except ValueError:
        return text, ""
    if isinstance(messages, list) and all(isinstance(m, dict) and "content" in m for m in messages):
        users = [str(m["content"]) for m in messages if m.get("role") == "user"]
        systems = [str(m["content"]) for m in messages if m.get("role") == "system"]
        return "\n\n".join(users), "\n\n".join(systems)
    return text, ""


def _first_text(value: Any) -> str | None:
    while isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) else None


def _rows(f: Path, model: str, metric: str | None, filter_name: str | None) -> tuple[pd.DataFrame, list[int], dict]:
    table = read_table(f)
    df = table.df
    for col in ("doc_id", "resps", "filtered_resps"):
        if col not in df.columns:
            raise table.fail_file(col, f"not lm-eval --log_samples output: no {col!r} field")
    filters = list(dict.fromkeys(df["filter"])) if "filter" in df.columns else [None]
    chosen = filter_name if filter_name is not None else filters[0]
    if chosen not in filters:
        raise table.fail_file("filter", f"no filter {chosen!r}; the file has {filters}")
    keep = np.flatnonzero((df["filter"] == chosen).to_numpy()) if "filter" in df.columns else np.arange(len(df))
    metrics = df["metrics"].iloc[int(keep[0])] if "metrics" in df.columns else None
    name = metric or (metrics[0] if isinstance(metrics, list) and metrics else None)
    if name is None or name not in df.columns:
        raise table.fail_file("metrics", f"no metric field {name!r} to score with; pass metric=")
    task = _task(f)
    rows = []
    for i in keep:
        r = df.iloc[int(i)]
        prompt, system = _prompt(r.get("arguments"))
        resps = r["resps"]
        rows.append({"prompt_id": f"{task}/{r['doc_id']}", "task": task, "prompt": prompt, "system": system,
                     "reference": "" if r.get("target") is None else str(r.get("target")), "model": model,
                     "response": _first_text(resps) if r.get("arguments") is not None else None,
                     "prediction": _first_text(r["filtered_resps"]), "score": r[name]})
    lines = [int(table.where[i]) for i in keep] if table.where is not None else [int(i) + 1 for i in keep]
    return pd.DataFrame(rows), lines, {"file": str(f), "model": model, "task": task, "filter": chosen,
                                       "other_filters": [x for x in filters if x != chosen], "metric": name}


def read_lm_eval(path: Path, *, catalog: Catalog | None = None, model: str | None = None, metric: str | None = None,
                 filter: str | None = None) -> tuple[Located, dict[str, Any]]:  # noqa: A002 - lm-eval's own word
    """The long-form table of lm-eval sample logs (see the module docstring)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("samples_*.jsonl") if p.is_file())
    if not files:
        raise DatasetError("no lm-eval samples_<task>_<timestamp>.jsonl files here", path=str(path))
    frames, paths, lines, notes = [], [], [], []
    for f in files:
        frame, where, note = _rows(f, model or _model(f), metric, filter)
        frames.append(frame)
        paths += [str(f)] * len(frame)
        lines += where
        notes.append(note)
    df = pd.concat(frames, ignore_index=True)
    if not (df["system"] != "").any():
        df = df.drop(columns="system")
    return Located(df, np.array(paths, dtype=object), lines, "line"), {"files": notes}
