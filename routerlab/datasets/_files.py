"""Reading users' prompt and outcome files (JSONL, CSV, Parquet; long and wide form) into the
canonical tables, with errors that name the file, the line and the field."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import DatasetError
from ..tokens import count_tokens

OUTCOME_COLUMNS = ("prompt_id", "model", "response", "input_tokens", "output_tokens", "score")
_RESERVED = {"prompt_id", "id", "task", "prompt", "reference", "system", "model", "response",
             "input_tokens", "output_tokens", "score", "answer", "generator"}


def _is_normalised(df: pd.DataFrame, catalog: Catalog) -> bool:
    """True for tables already in canonical form (as the build script writes them): skip the slow checks."""
    ok = (all(c in df.columns for c in OUTCOME_COLUMNS)
          and all(pd.api.types.is_integer_dtype(df[c]) for c in ("input_tokens", "output_tokens"))
          and pd.api.types.is_float_dtype(df["score"]))
    return ok and all(m in catalog.models for m in df["model"].unique())


def _one(directory: Path, stem: str, required: bool = True) -> Path | None:
    for ext in (".parquet", ".jsonl", ".csv", ".jsonl.gz", ".csv.gz"):
        if (directory / f"{stem}{ext}").exists():
            return directory / f"{stem}{ext}"
    if required:
        raise DatasetError(f"directory {directory} has no {stem}.parquet, {stem}.jsonl or {stem}.csv")
    return None


class _Rows:
    """A table read from a file plus the source line of each row, for error messages."""

    def __init__(self, df: pd.DataFrame, path: Path, lines: Sequence[int] | None, unit: str = "line"):
        self.df, self.path, self.lines, self.unit = df, path, lines, unit

    def where(self, i: int) -> int:
        return int(self.lines[i]) if self.lines is not None else i + 1

    def fail(self, i: int, fieldname: str, message: str) -> DatasetError:
        return DatasetError(message, path=str(self.path), line=self.where(i), field=fieldname)


def read_rows(path: Path) -> _Rows:
    """Read JSONL, CSV or Parquet, keeping each row's line number."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return _Rows(pd.read_parquet(path), path, None, "row")
    opener = gzip.open if name.endswith(".gz") else open
    if ".jsonl" in name or name.endswith(".json"):
        records, lines = [], []
        with opener(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"not valid JSON ({exc.msg} at column {exc.colno})", path=str(path),
                                       line=n) from None
                if not isinstance(obj, dict):
                    raise DatasetError("each line must be a JSON object", path=str(path), line=n)
                records.append(obj)
                lines.append(n)
        return _Rows(pd.DataFrame.from_records(records), path, lines)
    if ".csv" in name:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            records, lines = [], []
            start = 2
            for row in reader:
                if None in row:
                    raise DatasetError(f"row has more values than the header has columns ({len(reader.fieldnames or [])})",
                                       path=str(path), line=start)
                records.append(row)
                lines.append(start)
                start = reader.line_num + 1
        return _Rows(pd.DataFrame.from_records(records, columns=reader.fieldnames), path, lines)
    raise DatasetError("unsupported file type: use .jsonl, .csv or .parquet (optionally .gz)", path=str(path))


def _require(rows: _Rows, columns: Sequence[str]) -> None:
    for col in columns:
        if col not in rows.df.columns:
            raise DatasetError(f"missing column {col!r}; found {list(rows.df.columns)}", path=str(rows.path),
                               line=1 if rows.lines else None, field=col)
        bad = rows.df[col].isna() | (rows.df[col].astype(str).str.len() == 0)
        if col in ("prompt_id", "prompt", "model") and bad.any():
            raise rows.fail(int(np.flatnonzero(bad.to_numpy())[0]), col, f"empty {col!r}")


def _normalise_prompts(rows: _Rows, path: Path) -> pd.DataFrame:
    df = rows.df
    if "prompt_id" not in df.columns and "id" in df.columns:
        df = df.rename(columns={"id": "prompt_id"})
        rows.df = df
    _require(rows, ("prompt_id", "prompt"))
    out = pd.DataFrame({
        "prompt_id": df["prompt_id"].astype(str),
        "task": df["task"].astype(str) if "task" in df.columns else "default",
        "prompt": df["prompt"].astype(str),
        "reference": df["reference"].fillna("").astype(str) if "reference" in df.columns else "",
    })
    if "system" in df.columns:
        out["system"] = df["system"].fillna("").astype(str)
    dup = out["prompt_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise rows.fail(i, "prompt_id", f"prompt_id {out['prompt_id'].iloc[i]!r} appears twice")
    return out


def _numeric(rows: _Rows, col: str, *, integer: bool) -> pd.Series:
    raw = rows.df[col]
    if raw.dtype == bool or str(raw.dtype) == "boolean":
        return raw.astype(float)
    text = raw.astype(str).str.strip()
    lowered = text.str.lower()
    values = pd.to_numeric(text.where(~lowered.isin(["true", "false"]), (lowered == "true").astype(int).astype(str)),
                           errors="coerce")
    bad = values.isna() & raw.notna() & (text != "") & (lowered != "nan")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise rows.fail(i, col, f"{col!r} must be a number, got {text.iloc[i]!r}")
    if col == "score" and ((values < 0) | (values > 1)).any():
        i = int(np.flatnonzero(((values < 0) | (values > 1)).to_numpy())[0])
        raise rows.fail(i, col, f"score must be within [0, 1], got {values.iloc[i]} (rescale judge scores)")
    return values.astype("Int64") if integer else values.astype(float)


def _normalise_outcomes(rows: _Rows, path: Path, catalog: Catalog, prompts: pd.DataFrame) -> pd.DataFrame:
    _require(rows, ("prompt_id", "model"))
    df = rows.df
    models = df["model"].astype(str)
    canonical = {}
    for i, m in enumerate(models):
        if m not in canonical:
            if m not in catalog:
                raise rows.fail(i, "model", f"unknown model {m!r}; add it to your catalog "
                                f"(Catalog.from_file) or use one of {catalog.names}")
            canonical[m] = catalog.canonical(m)
    out = pd.DataFrame({"prompt_id": df["prompt_id"].astype(str), "model": models.map(canonical)})
    if "response" not in df.columns and "score" not in df.columns:
        raise DatasetError("outcomes need a 'response' column (to be scored) or a 'score' column",
                           path=str(path), field="response")
    out["response"] = df["response"].fillna("").astype(str) if "response" in df.columns else ""
    known = set(prompts["prompt_id"])
    missing = ~out["prompt_id"].isin(known)
    if missing.any():
        i = int(np.flatnonzero(missing.to_numpy())[0])
        raise rows.fail(i, "prompt_id", f"prompt_id {out['prompt_id'].iloc[i]!r} is not among the prompts")
    text = dict(zip(prompts["prompt_id"], prompts["prompt"]))
    for col in ("input_tokens", "output_tokens"):
        if col in df.columns:
            out[col] = _numeric(rows, col, integer=True)
        else:
            out[col] = pd.array([pd.NA] * len(out), dtype="Int64")
    todo_in = out["input_tokens"].isna().to_numpy()
    if todo_in.any():
        out.loc[todo_in, "input_tokens"] = count_tokens([text[p] for p in out.loc[todo_in, "prompt_id"]])
    todo_out = out["output_tokens"].isna().to_numpy()
    if todo_out.any():
        out.loc[todo_out, "output_tokens"] = count_tokens(out.loc[todo_out, "response"].tolist())
    out["input_tokens"] = out["input_tokens"].astype("int64")
    out["output_tokens"] = out["output_tokens"].astype("int64")
    out["score"] = _numeric(rows, "score", integer=False) if "score" in df.columns else np.nan
    return out


def _from_single_file(path: Path, catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    rows = read_rows(path)
    df = rows.df
    if "prompt_id" not in df.columns:
        if "id" in df.columns:
            df = rows.df = df.rename(columns={"id": "prompt_id"})
        else:  # RouterBench / RouteLLM style files have no ids: the row number is the id
            df = rows.df = df.assign(prompt_id=[f"{path.stem}-#{i}" for i in range(len(df))])
    if "model" in df.columns:  # long form
        _require(rows, ("prompt", "model"))
        first = df.drop_duplicates("prompt_id")
        prompts = _normalise_prompts(_Rows(first.reset_index(drop=True), path,
                                           [rows.where(i) for i in first.index]), path)
        return prompts, _normalise_outcomes(rows, path, catalog, prompts)
    # wide form: one score column per model, optional '<model>_response' columns
    _require(rows, ("prompt",))
    prompts = _normalise_prompts(rows, path)
    model_cols = [c for c in df.columns if c not in _RESERVED and not str(c).endswith("_response")]
    for c in model_cols:
        if c not in catalog:
            raise DatasetError(f"unknown model column {c!r}: in the wide form every other column is a model; "
                               f"known models: {catalog.names} (add yours with Catalog.from_file)",
                               path=str(path), line=1 if rows.lines else None, field=str(c))
    if not model_cols:
        return prompts, None
    long_rows = []
    for c in model_cols:
        part = pd.DataFrame({"prompt_id": prompts["prompt_id"], "model": c, "score": df[c]})
        if f"{c}_response" in df.columns:
            part["response"] = df[f"{c}_response"]
        long_rows.append(part)
    long = pd.concat(long_rows, ignore_index=True)
    n = len(df)
    lines = [rows.where(i % n) for i in range(len(long))]
    return prompts, _normalise_outcomes(_Rows(long, path, lines), path, catalog, prompts)
