"""inspect-ai eval logs (``.eval`` and ``.json``; one log, or a directory of them) as outcomes.

One log holds one model's answers to one task, possibly over several epochs. Read per sample
(through ``inspect_ai.log.read_eval_log``):

- ``prompt_id``: ``<task>/<sample id>``; ``sample``: ``epoch - 1``; ``task``: the log's task name.
- ``prompt``: ``sample.input`` (a string; or the text of its user messages, joined by a blank line,
  with its system messages as ``system``); ``reference``: ``sample.target`` (several targets: a
  JSON list).
- ``model``: the log's model without inspect's provider prefix (``openai/gpt-4o`` → ``gpt-4o``,
  ``openai-api/<service>/m`` → ``m``), as the catalog spells it when the catalog knows it.
- ``response``: ``sample.output.completion``; ``prediction``: ``scores[<scorer>].answer``.
- ``score``: ``scores[<scorer>].value`` mapped to [0, 1] by inspect's own ``value_to_float``:
  ``C`` (correct) → 1, ``I`` (incorrect) → 0, ``P`` (partial) → 0.5, ``N`` (no answer) → 0,
  ``yes``/``true`` → 1, ``no``/``false`` → 0, numbers as they are (they must lie in [0, 1]).
  ``<scorer>``: ``scorer_name=``, else the log's first scorer. A sample without that score, or one
  that ended in an error, has a missing score (never 0).
- ``input_tokens``, ``output_tokens``, ``cached_tokens`` (``input_tokens_cache_read``) and ``cost``
  (``total_cost``, when inspect recorded one) from ``sample.model_usage[<the log's model>]``;
  ``latency``: ``sample.working_time`` in seconds (generation plus any tool time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import DatasetError
from ._read import Located

__all__ = ["read_inspect", "inspect_model_name"]

_STRINGS = {"c": 1.0, "i": 0.0, "p": 0.5, "n": 0.0, "yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0}


def inspect_model_name(model: str) -> str:
    """inspect's model string without its provider prefix (``openai-api/<service>/m`` → ``m``).

    Example::

        >>> inspect_model_name("openai/gpt-4o"), inspect_model_name("openai-api/local/acme-1")
        ('gpt-4o', 'acme-1')
        >>> inspect_model_name("together/meta-llama/Llama-3-8b")
        'meta-llama/Llama-3-8b'
    """
    api, _, rest = str(model).partition("/")
    if not rest:
        return api
    if api == "openai-api":  # openai-api/<service>/<model>: the service names a base URL, not the model
        return rest.partition("/")[2] or rest
    return rest


def _logs(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = sorted(p for p in path.rglob("*") if p.suffix in (".eval", ".json") and p.is_file())
    logs = [p for p in found if p.suffix == ".eval" or _is_json_log(p)]
    if not logs:
        raise DatasetError("no inspect-ai logs (.eval, or .json eval logs) in this directory", path=str(path))
    return logs


def _is_json_log(p: Path) -> bool:
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b'"eval"' in head and (b'"version"' in head or b'"samples"' in head)


def _score_value(value: Any, where: str, path: str) -> float:
    from inspect_ai.scorer import value_to_float

    if isinstance(value, str) and value.strip().lower() not in _STRINGS:
        try:
            float(value)
        except ValueError:
            raise DatasetError(f"score value {value!r} has no defined value in [0, 1] (inspect's C/I/P/N, "
                               "yes/no, true/false or a number)", path=path, record=where,
                               field="scores.value") from None
    if isinstance(value, (dict, list)):
        raise DatasetError(f"score value {value!r} holds several values: pick one scorer metric "
                           "(scorer_name=) that gives a single value", path=path, record=where, field="scores.value")
    number = float(value_to_float()(value))
    if not 0.0 <= number <= 1.0:
        raise DatasetError(f"score value {value!r} is outside [0, 1]", path=path, record=where, field="scores.value")
    return number


def _prompt(sample_input: Any) -> tuple[str, str]:
    if isinstance(sample_input, str):
        return sample_input, ""
    users = [m.text for m in sample_input if getattr(m, "role", "") == "user"]
    systems = [m.text for m in sample_input if getattr(m, "role", "") == "system"]
    return "\n\n".join(users), "\n\n".join(systems)


def _reference(target: Any) -> str:
    if isinstance(target, list):
        return str(target[0]) if len(target) == 1 else json.dumps([str(t) for t in target])
    return "" if target is None else str(target)


def _usage(sample: Any, model: str) -> Any:
    usage = getattr(sample, "model_usage", None) or {}
    if model in usage:
        return usage[model]
    return next(iter(usage.values())) if len(usage) == 1 else None


def _rows(log: Any, path: str, scorer_name: str | None) -> list[dict[str, Any]]:
    spec = log.eval
    model = inspect_model_name(spec.model)
    names = [s.name for s in (log.results.scores if log.results else [])]
    chosen = scorer_name or (names[0] if names else None)
    rows = []
    for sample in log.samples or []:
        where = f"sample {sample.id!r}, epoch {sample.epoch}"
        prompt, system = _prompt(sample.input)
        score = (sample.scores or {}).get(chosen) if chosen else None
        usage = _usage(sample, spec.model)
        output = getattr(sample.output, "completion", None) if sample.output is not None else None
        value = np.nan if score is None or sample.error else _score_value(score.value, where, path)
        rows.append({
            "prompt_id": f"{spec.task}/{sample.id}", "task": spec.task, "prompt": prompt, "system": system,
            "reference": _reference(sample.target), "model": model, "sample": int(sample.epoch) - 1,
            "response": output if isinstance(output, str) and not sample.error else None,
            "prediction": getattr(score, "answer", None) if score is not None else None,
            "score": value,
            "input_tokens": getattr(usage, "input_tokens", None), "output_tokens": getattr(usage, "output_tokens", None),
            "cached_tokens": getattr(usage, "input_tokens_cache_read", None),
            "cost": getattr(usage, "total_cost", None),
            "latency": sample.working_time if sample.working_time is not None else sample.total_time,
            "_where": where,
        })
    return rows


def read_inspect(path: Path, *, catalog: Catalog | None = None, scorer_name: str | None = None
                 ) -> tuple[Located, dict[str, Any]]:
    """The long-form table of one inspect-ai log or a directory of them (see the module docstring)."""
    from inspect_ai.log import read_eval_log

    rows: list[dict[str, Any]] = []
    paths: list[str] = []
    notes: dict[str, Any] = {"logs": [], "score_mapping": "inspect value_to_float: C=1, I=0, P=0.5, N=0"}
    for f in _logs(path):
        try:
            log = read_eval_log(str(f))
        except Exception as exc:  # noqa: BLE001 - any failure to parse means "not a readable log"
            raise DatasetError(f"not a readable inspect-ai log: {exc}", path=str(f)) from None
        got = _rows(log, str(f), scorer_name)
        notes["logs"].append({"file": str(f), "model": log.eval.model, "task": log.eval.task,
                              "status": log.status, "samples": len(got)})
        rows += got
        paths += [str(f)] * len(got)
    if not rows:
        raise DatasetError("the logs hold no samples", path=str(path))
    df = pd.DataFrame(rows)
    where = df.pop("_where").to_numpy(dtype=object)
    if not (df["system"] != "").any():
        df = df.drop(columns="system")
    return Located(df, np.array(paths, dtype=object), where, "record"), notes
