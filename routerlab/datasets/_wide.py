"""The wide form: one row per prompt, columns per model (RouterBench's layout, RouteLLM's CSVs).

Reads:

- prompt columns: ``prompt`` (required), its id from ``prompt_id``, ``id`` or ``sample_id``
  (RouterBench; without one, ``<file stem>-#<row>`` counting rows from 0), its task from ``task`` or
  ``eval_name`` (RouterBench), ``reference``, ``system``; any other non-model column is kept as prompt
  metadata (RouterBench's ``oracle_model_to_route_to``, an index column written by pandas).
- per model ``M``: ``M`` (the score: a number in [0, 1] or true/false), and its companions
  ``M|model_response`` or ``M_response``, ``M|total_cost`` or ``M_cost`` (USD per call, used as
  recorded), ``M|input_tokens`` / ``M_input_tokens``, ``M|output_tokens`` / ``M_output_tokens``,
  ``M|prediction`` / ``M_prediction``.

Which columns are models: those with at least one companion column; a file with no companion at
all (RouteLLM's MMLU CSVs: ``prompt`` and one true/false column per model) takes every other column
whose cells are all scores. ``models=[...]`` names them explicitly. An empty score cell is a missing
score; a model with no score, response or cost for a prompt has no outcome for it (counted in
``Dataset.info["missing_outcomes"]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DatasetError
from ._read import Located
from ._validate import number_column, text_column

__all__ = ["wide_to_long", "COMPANIONS"]

COMPANIONS: dict[str, tuple[str, ...]] = {
    "response": ("|model_response", "_response"),
    "cost": ("|total_cost", "_cost"),
    "input_tokens": ("|input_tokens", "_input_tokens"),
    "output_tokens": ("|output_tokens", "_output_tokens"),
    "prediction": ("|prediction", "_prediction"),
}
_PROMPT_ALIASES = {"prompt_id": ("prompt_id", "id", "sample_id"), "task": ("task", "eval_name")}
_PROMPT_COLUMNS = {"prompt", "reference", "system"}


def _companion(columns: set[str], model: str, kind: str) -> str | None:
    return next((model + sfx for sfx in COMPANIONS[kind] if model + sfx in columns), None)


def _is_companion(column: str, columns: set[str]) -> bool:
    for suffixes in COMPANIONS.values():
        for sfx in suffixes:
            if column.endswith(sfx) and column[: -len(sfx)] in columns:
                return True
    return False


def _score_like(series: pd.Series) -> bool:
    """Every non-empty cell is true/false or a number in [0, 1]."""
    values = series.dropna()
    if values.dtype == bool or str(values.dtype) == "boolean":
        return True
    text = values.astype(str).str.strip().str.lower()
    text = text[text != ""]
    numbers = pd.to_numeric(text.replace({"true": "1", "false": "0"}), errors="coerce")
    return bool(len(text)) and bool(numbers.notna().all()) and bool(numbers.between(0, 1).all())


def _model_columns(loc: Located, models: Sequence[str] | None) -> list[str]:
    columns = set(map(str, loc.df.columns))
    if models is not None:
        missing = [m for m in models if m not in columns]
        if missing:
            raise loc.fail_file(missing[0], f"no score column for model {missing[0]!r}; the columns are "
                                            f"{sorted(columns)}")
        return list(models)
    reserved = _PROMPT_COLUMNS | {a for names in _PROMPT_ALIASES.values() for a in names}
    candidates = [str(c) for c in loc.df.columns if str(c) not in reserved and not _is_companion(str(c), columns)]
    paired = [c for c in candidates if any(_companion(columns, c, k) for k in COMPANIONS)]
    if paired:
        return paired
    return [c for c in candidates if _score_like(loc.df[c])]


def _prompt_frame(loc: Located, stem: str, model_cols: list[str]) -> Located:
    df = loc.df
    out: dict[str, Any] = {}
    for canonical, aliases in _PROMPT_ALIASES.items():
        found = next((a for a in aliases if a in df.columns), None)
        if found is not None:
            out[canonical] = df[found].to_numpy()
    if "prompt_id" not in out:  # RouteLLM's files have no ids: the row number is the id
        out["prompt_id"] = np.array([f"{stem}-#{i}" for i in range(len(df))], dtype=object)
    columns = set(map(str, df.columns))
    used = set(model_cols) | {c for c in columns if _is_companion(c, columns)}
    used |= {a for names in _PROMPT_ALIASES.values() for a in names}
    for col in df.columns:
        if str(col) not in used:
            out[str(col)] = df[col].to_numpy()
    return loc.with_df(pd.DataFrame(out))


def wide_to_long(loc: Located, stem: str, models: Sequence[str] | None = None) -> tuple[Located, Located, dict[str, Any]]:
    """(prompts table, long outcomes table, notes) from a wide table; numbers are checked here, on
    the wide columns, so errors name the column as the file spells it."""
    if "prompt" not in loc.df.columns:
        raise loc.fail_file("prompt", f"missing column 'prompt'; the columns are {list(loc.df.columns)}")
    model_cols = _model_columns(loc, models)
    if not model_cols:
        raise loc.fail_file(None, "no model columns found: a wide table has a score column per model, with "
                                  "companions such as '<model>|model_response' or '<model>|total_cost' "
                                  f"(columns: {list(loc.df.columns)}); name them with models=[...]")
    prompts = _prompt_frame(loc, stem, model_cols)
    ids = text_column(prompts, "prompt_id", required=True).to_numpy()
    columns = set(map(str, loc.df.columns))
    n = len(loc.df)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("prompt_id", "model", "score", *COMPANIONS, "_row")}
    for m in model_cols:
        cols = {"score": m, **{k: _companion(columns, m, k) for k in COMPANIONS}}
        parts["prompt_id"].append(ids)
        parts["model"].append(np.full(n, m, dtype=object))
        parts["_row"].append(np.arange(n))
        for kind, col in cols.items():
            if col is None:
                parts[kind].append(np.full(n, np.nan if kind not in ("response", "prediction") else None, dtype=object))
            elif kind in ("response", "prediction"):
                parts[kind].append(text_column(loc, col, required=False).to_numpy())
            else:
                parts[kind].append(number_column(_renamed(loc, col, kind), kind))
    long = pd.DataFrame({k: np.concatenate(v) for k, v in parts.items()})
    for kind in ("score", "cost", "input_tokens", "output_tokens"):
        long[kind] = long[kind].astype(float)
    recorded = (long["score"].notna() | long["response"].notna() | long["cost"].notna()).to_numpy()
    rows = long.pop("_row").to_numpy()[recorded]
    long = long[recorded].reset_index(drop=True)
    place = loc.where[rows] if loc.where is not None else rows + 1
    path = loc.path[rows] if isinstance(loc.path, np.ndarray) else loc.path
    notes = {"models": model_cols, "missing_outcomes": int((~recorded).sum())}
    return prompts, Located(long, path, place, loc.unit), notes


def _renamed(loc: Located, column: str, kind: str) -> Located:
    """``column`` checked by the rule for ``kind`` but named as the file names it."""
    return _Alias(loc, column, kind)


class _Alias(Located):
    """A view of one wide column under a canonical name, whose errors name the original column."""

    def __init__(self, loc: Located, column: str, kind: str) -> None:
        super().__init__(loc.df[[column]].rename(columns={column: kind}), loc.path, loc.where, loc.unit)
        self._column = column

    def fail(self, i: int, fieldname: str | None, message: str) -> DatasetError:
        return super().fail(i, self._column, message.replace(f"{fieldname!r}", repr(self._column), 1))
