"""Which format a path holds, when its layout or content says it unambiguously."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import DatasetError

__all__ = ["detect"]

_LMEVAL = re.compile(r"samples_.+\.jsonl$")
_ROUTELLM_FILE = re.compile(r".+_responses\.csv$")


def _json_head(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _json_kind(path: Path) -> str | None:
    data = _json_head(path) if path.stat().st_size < 512 * 1024 * 1024 else None
    if isinstance(data, dict) and "eval" in data and ("samples" in data or "version" in data):
        return "inspect"
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        return "llmrouterbench"
    return None


def _is_json_log(p: Path) -> bool:
    from ._inspect import _is_json_log as is_log

    return is_log(p)


def _file(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".eval"):
        return "inspect"
    if _LMEVAL.match(name):
        return "lm-eval"
    if _ROUTELLM_FILE.match(name) or path.parent.name == "responses" and name.startswith("mmlu_"):
        return "routellm"
    if name.endswith(".json"):
        return _json_kind(path) or "table"
    return "table"


def _directory(path: Path) -> str:
    found: list[str] = []
    if any((path / f"prompts{ext}").exists() for ext in (".parquet", ".jsonl", ".csv", ".json", ".tsv", ".pkl",
                                                         ".jsonl.gz", ".csv.gz")):
        found.append("directory")
    files = [f for f in path.rglob("*") if f.is_file()]
    if any(f.suffix == ".eval" for f in files) or any(f.suffix == ".json" and _is_json_log(f) for f in files):
        found.append("inspect")
    if any(_LMEVAL.match(f.name) for f in files):
        found.append("lm-eval")
    if any(f.suffix == ".json" and len(f.relative_to(path).parts) >= 4 and _json_kind(f) == "llmrouterbench"
           for f in files[:2000]):
        found.append("llmrouterbench")
    if any(_ROUTELLM_FILE.match(f.name) or f.name == "judgements.jsonl" or f.parent.name == "responses"
           for f in files):
        found.append("routellm")
    found = list(dict.fromkeys(found))
    if len(found) == 1:
        return found[0]
    if not found:
        raise DatasetError("cannot tell what this directory holds: no prompts.* file, no inspect-ai logs, no "
                           "lm-eval samples_*.jsonl, no LLMRouterBench <dataset>/<split>/<model>/*.json, no "
                           "RouteLLM *_responses.csv; pass format=...", path=str(path))
    raise DatasetError(f"this directory holds several formats ({', '.join(found)}): pass format=... to choose one",
                       path=str(path))


def detect(path: Path) -> str:
    """``directory``, ``inspect``, ``lm-eval``, ``llmrouterbench``, ``routellm``, or ``table`` (a long
    or wide table file: decided by whether it has a ``model`` column)."""
    return _directory(path) if path.is_dir() else _file(path)
