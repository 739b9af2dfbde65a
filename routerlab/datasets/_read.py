"""Reading tables from files (JSONL, JSON, CSV, Parquet, pickle; optionally gzipped) with the place
each row came from, so that every later error can name the file, the line (or row) and the field.

Decoding is strict UTF-8: an invalid byte is a :class:`~routerlab.errors.DatasetError` naming its
line. A UTF-8 byte-order mark at the start of a file is read as such (Excel writes one), never as
part of the first column's name. Empty cells of a CSV file are missing values (CSV cannot tell an
empty string from nothing); JSON ``null`` and Parquet nulls are missing, an empty JSON string is
an empty string.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DatasetError

__all__ = ["Located", "read_table", "check_text"]

_BOM = "\ufeff"


class Located:
    """A table plus where each row came from: ``path`` (one, or one per row) and ``where`` (the line,
    row or record of each row, in ``unit``s; None: row i is number i + 1)."""

    def __init__(self, df: pd.DataFrame, path: str | np.ndarray, where: Sequence[Any] | np.ndarray | None = None,
                 unit: str = "line") -> None:
        self.df = df.reset_index(drop=True)
        self.path = path
        self.where = None if where is None else np.asarray(where, dtype=object)
        self.unit = unit

    def __len__(self) -> int:
        return len(self.df)

    def path_of(self, i: int) -> str:
        return str(self.path[i]) if isinstance(self.path, np.ndarray) else str(self.path)

    def place(self, i: int) -> Any:
        return self.where[i] if self.where is not None else i + 1

    def describe(self, i: int) -> str:
        return f"file {self.path_of(i)}, {self.unit} {self.place(i)}"

    def fail(self, i: int, fieldname: str | None, message: str) -> DatasetError:
        place = self.place(i)
        kw: dict[str, Any] = {"line": int(place)} if self.unit == "line" else (
            {"row": int(place)} if self.unit == "row" else {"record": str(place)})
        return DatasetError(message, path=self.path_of(i), field=fieldname, **kw)

    def fail_file(self, fieldname: str | None, message: str) -> DatasetError:
        path = str(self.path[0]) if isinstance(self.path, np.ndarray) and len(self.path) else str(self.path)
        return DatasetError(message, path=path, field=fieldname)

    def take(self, rows: np.ndarray) -> Located:
        """The rows at integer positions ``rows`` (their places kept)."""
        rows = np.asarray(rows, dtype=np.int64)
        where = self.where[rows] if self.where is not None else rows + 1
        path = self.path[rows] if isinstance(self.path, np.ndarray) else self.path
        return Located(self.df.iloc[rows], path, where, self.unit)

    def with_df(self, df: pd.DataFrame) -> Located:
        return Located(df, self.path, self.where, self.unit)


def plain(value: Any) -> str:
    """A value as an error message shows it: Python's repr of the plain value (``0``, ``'a'``), never a
    numpy scalar's (``np.int64(0)``); whole floats as integers (a pandas column of ints with a gap)."""
    value = value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    return repr(value)


def check_text(value: Any) -> str | None:
    """None when ``value`` encodes as UTF-8, else what is wrong (a lone surrogate from a JSON ``\\ud800``)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"invalid text: {exc.reason} ({value[exc.start:exc.end]!r} at character {exc.start})"
    return None


def _raw_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DatasetError(f"cannot read the file: {exc}", path=str(path)) from None
    if not data.strip():
        raise DatasetError("the file is empty: it holds no header and no rows", path=str(path))
    return data


def _decode(data: bytes, path: Path) -> str:
    """Strict UTF-8 (a leading byte-order mark dropped); a bad byte names its line and column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DatasetError(f"not valid UTF-8: byte 0x{data[exc.start]:02x} at column {column} ({exc.reason}); "
                           "save the file as UTF-8", path=str(path), line=line) from None
    return text[1:] if text.startswith(_BOM) else text


def _no_rows(path: Path, unit: str = "rows") -> DatasetError:
    return DatasetError(f"the file has a header but no {unit}: nothing to load", path=str(path))


def _read_json_array(path: Path, text: str) -> Located:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"not valid JSON ({exc.msg} at column {exc.colno})", path=str(path), line=exc.lineno) from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DatasetError("a .json data file must be a list of objects (one per row) or JSON lines",
                           path=str(path))
    if not data:
        raise DatasetError("the file holds an empty list: nothing to load", path=str(path))
    for k, obj in enumerate(data):
        for key, value in obj.items():
            problem = check_text(value) or check_text(key)
            if problem:
                raise DatasetError(problem, path=str(path), row=k + 1, field=str(key))
    return Located(pd.DataFrame.from_records(data), str(path), None, "row")


def _read_jsonl(path: Path) -> Located:
    text = _decode(_raw_bytes(path), path)
    if text.lstrip().startswith("["):
        return _read_json_array(path, text)
    records, lines = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"not valid JSON ({exc.msg} at column {exc.colno})", path=str(path), line=n) from None
        except RecursionError:
            raise DatasetError("JSON nested too deeply", path=str(path), line=n) from None
        if not isinstance(obj, dict):
            raise DatasetError(f"each line must be a JSON object, got {type(obj).__name__}", path=str(path), line=n)
        if "\\u" in line:  # only escapes can smuggle in a lone surrogate
            for key, value in obj.items():
                problem = check_text(value) or check_text(key)
                if problem:
                    raise DatasetError(problem, path=str(path), line=n, field=str(key))
        records.append(obj)
        lines.append(n)
    if not records:
        raise DatasetError("the file holds no JSON objects: nothing to load", path=str(path))
    return Located(pd.DataFrame.from_records(records), str(path), lines, "line")


def _read_csv(path: Path, delimiter: str = ",") -> Located:
    text = _decode(_raw_bytes(path), path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise DatasetError(f"cannot read the CSV header: {exc}", path=str(path), line=1) from None
    header = [h.strip() for h in header]
    seen: dict[str, int] = {}
    for k, name in enumerate(header):
        if name in seen and name:
            raise DatasetError(f"column {name!r} appears twice in the header (columns {seen[name] + 1} and {k + 1})",
                               path=str(path), line=1, field=name)
        seen[name] = k
    rows: list[list[str | None]] = []
    lines: list[int] = []
    start = 2
    try:
        for values in reader:
            if values:
                if len(values) != len(header):
                    raise DatasetError(f"row has {len(values)} values but the header has {len(header)} columns",
                                       path=str(path), line=start)
                rows.append([v if v != "" else None for v in values])
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DatasetError(f"malformed CSV: {exc}", path=str(path), line=start) from None
    if not rows:
        raise _no_rows(path)
    columns = [h if h else f"<unnamed column {k + 1}>" for k, h in enumerate(header)]
    return Located(pd.DataFrame(rows, columns=columns, dtype=object), str(path), lines, "line")


def _read_parquet(path: Path) -> Located:
    if path.stat().st_size == 0:
        raise DatasetError("the file is empty (0 bytes): nothing to load", path=str(path))
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds; all mean "not readable"
        raise DatasetError(f"not a readable Parquet file: {exc}", path=str(path)) from None
    if not len(df):
        raise _no_rows(path)
    return Located(df, str(path), None, "row")


def _read_pickle(path: Path) -> Located:
    if path.stat().st_size == 0:
        raise DatasetError("the file is empty (0 bytes): nothing to load", path=str(path))
    try:
        df = pd.read_pickle(path)  # noqa: S301 - the user's own file, as RouterBench ships its data
    except Exception as exc:  # noqa: BLE001
        raise DatasetError(f"not a readable pickle: {exc}", path=str(path)) from None
    if not isinstance(df, pd.DataFrame):
        raise DatasetError(f"the pickle holds a {type(df).__name__}, not a pandas DataFrame", path=str(path))
    if not len(df):
        raise _no_rows(path)
    return Located(df, str(path), None, "row")


def read_table(path: str | Path) -> Located:
    """Read one table file, keeping each row's line (text formats) or row number (binary formats)."""
    p = Path(path)
    name = p.name.lower().removesuffix(".gz")
    if name.endswith(".parquet"):
        return _read_parquet(p)
    if name.endswith((".pkl", ".pickle")):
        return _read_pickle(p)
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return _read_jsonl(p)
    if name.endswith(".csv"):
        return _read_csv(p)
    if name.endswith(".tsv"):
        return _read_csv(p, "\t")
    raise DatasetError("unsupported file type: use .jsonl, .json, .csv, .tsv, .parquet or .pkl (optionally .gz)",
                       path=str(p))
