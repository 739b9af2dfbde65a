"""The one validation path: every input (files of every format, directories, importers, DataFrames)
becomes canonical prompts and outcomes tables here, or a DatasetError naming the file, the line (or
row, or record) and the field.

Loading never silently changes data: no dropped or merged rows, no renumbered ids, no empty cell
turned into a 0. The rules:

- ``prompt_id``, ``prompt`` and ``model`` must be non-empty text; ids are kept as written.
- a prompt id appears once among the prompts; in long form (one row per outcome) every row of a
  prompt id must carry the same ``prompt``, ``task``, ``reference`` and ``system``.
- a (prompt_id, model, sample) triple appears once; every outcome's prompt id is among the prompts.
- ``score`` is a number in [0, 1] (or true/false); token counts are whole numbers from 0 to
  1,000,000,000; ``cost`` (USD per call) and ``latency`` (seconds) are finite and >= 0; ``sample`` is
  a whole number >= 0. Empty cells are missing (NaN / NA), never 0.
- text must be valid Unicode (a lone surrogate from a JSON escape is an error, not a crash later).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import DatasetError
from ._read import Located, check_text, plain

__all__ = ["PROMPT_FIELDS", "OUTCOME_FIELDS", "validate_prompts", "prompts_from_long", "validate_outcomes",
           "MAX_TOKENS"]

PROMPT_FIELDS = ("prompt_id", "task", "prompt", "reference", "system")
OUTCOME_FIELDS = ("prompt_id", "model", "sample", "response", "prediction", "score", "input_tokens",
                  "output_tokens", "cached_tokens", "cost", "latency")
MAX_TOKENS = 1_000_000_000  # far beyond any context window: a larger count is a unit or parsing mistake
_ALIASES = {"id": "prompt_id"}
_NUMBERS = {  # column: (integer?, lower bound, upper bound, what it is)
    "score": (False, 0.0, 1.0, "a score in [0, 1] (rescale grades, e.g. 1-10 judge scores / 10)"),
    "input_tokens": (True, 0, MAX_TOKENS, f"a whole number of tokens from 0 to {MAX_TOKENS:,}"),
    "output_tokens": (True, 0, MAX_TOKENS, f"a whole number of tokens from 0 to {MAX_TOKENS:,}"),
    "cached_tokens": (True, 0, MAX_TOKENS, f"a whole number of tokens from 0 to {MAX_TOKENS:,}"),
    "cost": (False, 0.0, np.inf, "a cost in USD per call, >= 0"),
    "latency": (False, 0.0, np.inf, "a latency in seconds, >= 0"),
    "sample": (True, 0, 1_000_000, "a sample (epoch) index, a whole number >= 0"),
}


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def renamed(loc: Located) -> Located:
    """``id`` read as ``prompt_id`` (when there is no ``prompt_id`` column)."""
    cols = {a: c for a, c in _ALIASES.items() if a in loc.df.columns and c not in loc.df.columns}
    return loc.with_df(loc.df.rename(columns=cols)) if cols else loc


def require(loc: Located, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in loc.df.columns]
    if missing:
        raise loc.fail_file(missing[0], f"missing column {missing[0]!r}; the columns are {list(loc.df.columns)}")


def text_column(loc: Located, col: str, *, required: bool) -> pd.Series:
    """A column as text (object dtype; missing cells None). Non-text values (ids written as numbers)
    become their ``str``; a required column may hold no missing or blank cell."""
    raw = loc.df[col]
    missing = pd.isna(raw).to_numpy()
    if pd.api.types.is_string_dtype(raw.dtype) and raw.dtype != object:  # Arrow strings: valid UTF-8 already
        out = raw.to_numpy(dtype=object, na_value=None)
    else:
        out = np.empty(len(raw), dtype=object)
        for i, v in enumerate(raw.to_numpy(dtype=object)):
            if missing[i]:
                out[i] = None
            elif isinstance(v, str):
                problem = check_text(v)  # DataFrames, pickles and JSON can hold what Arrow would refuse
                if problem:
                    raise loc.fail(i, col, problem)
                out[i] = v
            elif isinstance(v, (bytes, bytearray)):
                try:
                    out[i] = bytes(v).decode("utf-8")
                except UnicodeDecodeError:
                    raise loc.fail(i, col, "not valid UTF-8 text") from None
            else:
                out[i] = str(v)
    series = pd.Series(out, dtype=object)
    if required:
        blank = missing | series.fillna("").astype(str).str.strip().eq("").to_numpy()
        if blank.any():
            raise loc.fail(_first(blank), col, f"empty {col!r}: every row needs one")
    return series


def number_column(loc: Located, col: str) -> np.ndarray:
    """A numeric column as float64 (NaN: missing), checked against its rule in ``_NUMBERS``."""
    integer, lo, hi, what = _NUMBERS[col]
    raw = loc.df[col]
    if raw.dtype == bool or str(raw.dtype) == "boolean":
        if col != "score" and raw.notna().any():  # true/false is a correctness, never a count or an amount
            i = _first(raw.notna().to_numpy())
            raise loc.fail(i, col, f"{col!r} must be {what}, got {plain(raw.iloc[i])} (a boolean)")
        values = raw.astype("float64").to_numpy(dtype=float, na_value=np.nan)
    elif pd.api.types.is_numeric_dtype(raw):
        values = raw.to_numpy(dtype=float, na_value=np.nan)
    else:
        values = _parse_numbers(loc, col, raw)
    bad = ~np.isnan(values) & (~np.isfinite(values) | (values < lo) | (values > hi))
    if integer:
        bad |= ~np.isnan(values) & np.isfinite(values) & (values != np.round(values))
    if bad.any():
        i = _first(bad)
        raise loc.fail(i, col, f"{col!r} must be {what}, got {plain(raw.iloc[i])}")
    return values


def _parse_numbers(loc: Located, col: str, raw: pd.Series) -> np.ndarray:
    text = raw.astype(object).where(raw.notna(), None)
    lowered = np.array([v.strip().lower() if isinstance(v, str) else v for v in text], dtype=object)
    if col == "score":  # recorded correctness: true/false
        lowered = np.where(lowered == "true", 1.0, np.where(lowered == "false", 0.0, lowered))
    elif any(isinstance(v, bool) for v in lowered):
        i = next(k for k, v in enumerate(lowered) if isinstance(v, bool))
        raise loc.fail(i, col, f"{col!r} must be {_NUMBERS[col][3]}, got {plain(lowered[i])} (a boolean)")
    blank = np.array([v is None or v == "" or v == "nan" for v in lowered], dtype=bool)
    cells = pd.Series(lowered, dtype=object).where(~blank, None)
    values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.isnan(values) & ~blank
    if bad.any():
        i = _first(bad)
        raise loc.fail(i, col, f"{col!r} must be a number, got {plain(raw.iloc[i])}")
    return values


def _duplicate_error(loc: Located, keys: pd.DataFrame, what: str) -> DatasetError | None:
    dup = keys.duplicated(keep=False).to_numpy()
    if not dup.any():
        return None
    second = _first(keys.duplicated().to_numpy())
    first = _first(dup & (keys == keys.iloc[second]).all(axis=1).to_numpy())
    label = ", ".join(f"{c} {plain(keys.iloc[second][c])}" for c in keys.columns)
    return loc.fail(second, str(keys.columns[0]),
                    f"{what} appears twice ({label}): also at {loc.describe(first)}; remove one or give "
                    "repeated answers a 'sample' column")


def validate_prompts(loc: Located) -> pd.DataFrame:
    """Canonical prompts (``prompt_id, task, prompt, reference`` [, ``system``] + metadata columns)."""
    loc = renamed(loc)
    require(loc, ("prompt_id", "prompt"))
    df = loc.df
    out = pd.DataFrame({"prompt_id": text_column(loc, "prompt_id", required=True)})
    task = text_column(loc, "task", required=False) if "task" in df.columns else pd.Series(["default"] * len(df))
    out["task"] = task.where(task.notna() & (task.astype(str).str.strip() != ""), "default")
    out["prompt"] = text_column(loc, "prompt", required=True)
    ref = text_column(loc, "reference", required=False) if "reference" in df.columns else None
    out["reference"] = "" if ref is None else ref.where(ref.notna(), "")
    if "system" in df.columns:
        system = text_column(loc, "system", required=False)
        out["system"] = system.where(system.notna(), "")
    for col in df.columns:  # metadata (difficulty, source, ...) is kept for routers to read
        if col not in out.columns and col not in PROMPT_FIELDS:
            out[col] = df[col].to_numpy()
    err = _duplicate_error(loc, out[["prompt_id"]], "prompt id")
    if err is not None:
        raise err
    for col in ("prompt_id", "task", "prompt", "reference"):
        out[col] = out[col].astype(str)
    return out


def prompts_from_long(loc: Located, extra: Sequence[str] = ()) -> pd.DataFrame:
    """The prompts of a long-form table (one row per outcome): one row per prompt id, in order of
    first appearance, after checking that every row of an id carries the same prompt fields (and
    the same ``extra`` metadata columns, which go with the prompts)."""
    loc = renamed(loc)
    require(loc, ("prompt_id", "prompt"))
    df = loc.df
    ids = text_column(loc, "prompt_id", required=True)
    first = ~ids.duplicated().to_numpy()
    for col in [c for c in ("prompt", "task", "reference", "system", *extra) if c in df.columns]:
        text = text_column(loc, col, required=col == "prompt").fillna("")
        by_id = pd.Series(text.to_numpy()[first], index=ids.to_numpy()[first])
        expected = by_id.reindex(ids.to_numpy()).to_numpy()
        differ = text.to_numpy() != expected
        if differ.any():
            i = _first(differ)
            j = _first(first & (ids.to_numpy() == ids.iloc[i]))
            raise loc.fail(i, col, f"prompt id {plain(ids.iloc[i])} has a different {col} here than at "
                                   f"{loc.describe(j)}: one id must name one prompt (give the other its own id)")
    keep = [c for c in df.columns if c in PROMPT_FIELDS or c in extra]
    return validate_prompts(loc.take(np.flatnonzero(first)).with_df(
        df.iloc[np.flatnonzero(first)][keep].assign(prompt_id=ids.to_numpy()[first])))


def validate_outcomes(loc: Located, prompts: pd.DataFrame, catalog: Catalog) -> tuple[pd.DataFrame, dict[str, str]]:
    """Canonical outcomes and the model names the catalog spelled differently (alias -> catalog name)."""
    loc = renamed(loc)
    require(loc, ("prompt_id", "model"))
    df = loc.df
    if "response" not in df.columns and "score" not in df.columns:
        raise loc.fail_file("response", "outcomes need a 'response' column (to be scored) or a 'score' column")
    raw_models = text_column(loc, "model", required=True)
    names = {m: catalog.canonical(m, strict=False) for m in pd.unique(raw_models)}
    out = pd.DataFrame({"prompt_id": text_column(loc, "prompt_id", required=True),
                        "model": raw_models.map(names)})
    known = pd.Index(prompts["prompt_id"])
    unknown = known.get_indexer(pd.Index(out["prompt_id"])) < 0
    if unknown.any():
        i = _first(unknown)
        raise loc.fail(i, "prompt_id", f"prompt id {plain(out['prompt_id'].iloc[i])} is not among the prompts")
    if "prompt" in df.columns:  # outcomes that repeat the prompt text must repeat it exactly
        text = dict(zip(prompts["prompt_id"], prompts["prompt"]))
        given = text_column(loc, "prompt", required=False)
        differ = given.notna().to_numpy() & (given.to_numpy() != out["prompt_id"].map(text).to_numpy())
        if differ.any():
            i = _first(differ)
            raise loc.fail(i, "prompt", f"prompt id {plain(out['prompt_id'].iloc[i])} names a different prompt text "
                                        "here than in the prompts")
    out["sample"] = (number_column(loc, "sample") if "sample" in df.columns else np.zeros(len(df)))
    if np.isnan(out["sample"]).any():
        raise loc.fail(_first(np.isnan(out["sample"].to_numpy())), "sample", "empty 'sample'")
    out["sample"] = out["sample"].astype(np.int64)
    for col in ("response", "prediction"):
        if col in df.columns:
            out[col] = text_column(loc, col, required=False)
    if "response" not in out.columns:
        out["response"] = pd.Series([None] * len(out), dtype=object)
    for col in ("score", "cost", "latency"):
        out[col] = number_column(loc, col) if col in df.columns else np.nan
    for col in ("input_tokens", "output_tokens", "cached_tokens"):
        if col in df.columns or col != "cached_tokens":
            values = number_column(loc, col) if col in df.columns else np.full(len(out), np.nan)
            out[col] = pd.array(np.where(np.isnan(values), 0, values).astype(np.int64), dtype="Int64")
            out.loc[np.isnan(values), col] = pd.NA
    for col in df.columns:  # anything else the data records about an outcome is kept as is
        if col not in out.columns and col not in OUTCOME_FIELDS and col not in prompts.columns:
            out[col] = df[col].to_numpy()
    err = _duplicate_error(loc, out[["prompt_id", "model", "sample"]], "the outcome of one prompt and model")
    if err is not None:
        raise err
    return out, {a: c for a, c in names.items() if a != c}
