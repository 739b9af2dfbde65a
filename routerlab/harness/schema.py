"""The results-row schema: the one definition of a result row's columns, their dtypes and their values
when nothing was answered, and of how rows are written to and read from a store or a file.

One row per unit (strategy × prompt × sample). Every path that writes or reads result rows goes
through this module:

- the per-prompt path builds each row with :func:`make_row` (a failure fills the answer columns with
  :data:`FILL`);
- the vectorised replay (:func:`~routerlab.harness.experiment.replay_rows`) builds its columns with
  :func:`frame` and fills missing outcomes from :data:`FILL`;
- the SQLite store serialises with :func:`to_records` and reads back with :func:`from_records`; the
  memory store keeps :func:`normalise`-d frames;
- :class:`~routerlab.harness.Results` normalises its table with :func:`normalise`, starts from
  :func:`empty_frame` and reads CSV files with :func:`read_csv`.

``docs/results-schema.md`` holds :func:`markdown_table`; a test checks that they agree.

Example::

    >>> from routerlab.harness import schema
    >>> schema.RESULT_COLUMNS[:4]
    ['strategy', 'prompt_id', 'task', 'sample']
    >>> row = schema.make_row({"strategy": "s", "prompt_id": "p1", "task": "gsm", "sample": 0, "split": "all"},
    ...                       error_type="Timeout", error="no answer in 30 s")
    >>> row["score"], row["cost"], row["answer"]
    (nan, 0.0, None)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError

__all__ = ["Column", "COLUMNS", "RESULT_COLUMNS", "KEYS", "FILL", "DTYPES", "empty_frame", "frame", "make_row",
           "normalise", "to_records", "from_records", "read_csv", "markdown_table"]

#: pandas dtype of each kind of column; "text" is pandas' string dtype, "answer" objects (``str`` or ``None``)
_PANDAS = {"text": "str", "int": "int64", "float": "float64", "bool": "bool", "answer": "object"}
#: how each kind reads in docs/results-schema.md
_DOC = {"text": "str", "int": "int", "float": "float", "bool": "bool", "answer": "str or null"}


@dataclass(frozen=True)
class Column:
    """One column of the results table.

    ``kind`` is ``text``, ``int``, ``float``, ``bool`` or ``answer`` (text that may be missing);
    ``fill`` is the value of a unit that produced no answer (a failed call, a missing outcome), ``None``
    for the key columns, which every row sets; ``meaning`` is the documentation (units included).
    """

    name: str
    kind: str
    fill: Any
    meaning: str

    @property
    def dtype(self) -> str:
        """The pandas dtype of the column."""
        return _PANDAS[self.kind]


COLUMNS: tuple[Column, ...] = (
    Column("strategy", "text", None, "strategy name given to the Experiment"),
    Column("prompt_id", "text", None, "prompt id from the Dataset"),
    Column("task", "text", None, "task label of the prompt (e.g. `gsm`, `crux`, `math-l5`)"),
    Column("sample", "int", None, "sample index (0 unless samples > 1)"),
    Column("split", "text", None, "`all`, `train` or `test`"),
    Column("models_called", "text", "", "models actually called, in order, joined by `|` (empty when none answered)"),
    Column("final_model", "text", "", "the model whose answer was returned (empty on failure)"),
    Column("answer", "answer", None, "the extracted answer that was scored (null when there is none)"),
    Column("score", "float", math.nan, "quality in [0, 1] (NaN when the call failed)"),
    Column("input_tokens", "int", 0, "input tokens summed over every call made"),
    Column("output_tokens", "int", 0, "output tokens summed over every call made"),
    Column("cost", "float", 0.0,
           "USD, summed over every call made (failed attempts that consumed tokens included)"),
    Column("latency", "float", math.nan, "seconds the user waited (NaN when unknown)"),
    Column("ttft", "float", math.nan, "seconds to the first token (NaN when unknown)"),
    Column("simulated_latency", "bool", False, "latency drawn from a catalog profile, not measured"),
    Column("cached", "bool", False, "answered from the response cache (excluded from latency statistics)"),
    Column("error_type", "text", "", "exception class name, empty when the call succeeded"),
    Column("error", "text", "", "error message, empty when the call succeeded"),
)

RESULT_COLUMNS: list[str] = [c.name for c in COLUMNS]
#: the columns that identify a unit (with the config hash, in the store)
KEYS: tuple[str, ...] = ("strategy", "prompt_id", "task", "sample", "split")
#: the value of every non-key column for a unit that produced no answer
FILL: dict[str, Any] = {c.name: c.fill for c in COLUMNS if c.name not in KEYS}
DTYPES: dict[str, str] = {c.name: c.dtype for c in COLUMNS}
_BY_KIND: dict[str, list[str]] = {k: [c.name for c in COLUMNS if c.kind == k] for k in _PANDAS}


def empty_frame() -> pd.DataFrame:
    """A results table with no rows, every column in its dtype."""
    return pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in COLUMNS})


def frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    """A DataFrame of the schema's columns, in the schema's order, from ``{column: values}``.

    Values keep their dtype (the vectorised replay passes categoricals). Raises
    :class:`~routerlab.errors.ConfigError` naming missing or unknown columns.
    """
    _check_names(columns.keys(), "result columns")
    return pd.DataFrame({name: columns[name] for name in RESULT_COLUMNS}, copy=False)  # copy-on-write: nothing shared is changed


def make_row(keys: Mapping[str, Any], **values: Any) -> dict[str, Any]:
    """One result row: the unit's ``keys`` (strategy, prompt_id, task, sample, split) and ``values``;
    columns not given take their :data:`FILL` value (a failed call names only ``error_type``,
    ``error`` and what it cost)."""
    row = {**keys, **FILL, **values}
    _check_names(row.keys(), "a result row")
    return {name: row[name] for name in RESULT_COLUMNS}


def _check_names(names: Iterable[str], what: str) -> None:
    given = list(names)
    missing = [c for c in RESULT_COLUMNS if c not in given]
    unknown = [c for c in given if c not in DTYPES]
    if missing or unknown:
        raise ConfigError(f"{what}: missing columns {missing}, unknown columns {unknown} "
                          "(see docs/results-schema.md)")


def normalise(df: pd.DataFrame, *, source: str = "the results table") -> pd.DataFrame:
    """The schema's columns of ``df`` in order and dtype: text as ``str`` (missing → ""), a missing
    answer as ``None``, numbers and flags in their dtypes. Extra columns are dropped.

    Raises :class:`~routerlab.errors.ConfigError` naming ``source`` and the missing columns.
    """
    missing = [c for c in RESULT_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(f"{source} is not a routerlab results table: missing columns {missing} "
                          "(see docs/results-schema.md)")
    out = df[RESULT_COLUMNS].copy()
    for kind in ("int", "float", "bool"):
        for c in _BY_KIND[kind]:
            out[c] = out[c].astype(_PANDAS[kind])
    for c in _BY_KIND["text"]:
        out[c] = out[c].fillna("").astype(str)
    answer = out["answer"].astype(object)
    out["answer"] = answer.where(answer.notna(), None)
    return out.reset_index(drop=True)


def to_records(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows (a DataFrame, or dicts such as :func:`make_row` builds) as plain JSON-able dicts: Python
    ints, floats, bools and str, a missing answer as ``None``. What the SQLite store writes.

    Raises :class:`~routerlab.errors.ConfigError` when a row lacks a column or has an unknown one.
    """
    if isinstance(rows, pd.DataFrame):
        recs = normalise(rows, source="result rows")[RESULT_COLUMNS].to_dict("records")
    else:
        recs = [dict(r) for r in rows]
        for r in recs:
            if len(r) != len(RESULT_COLUMNS) or r.keys() != DTYPES.keys():
                _check_names(r.keys(), "a result row")
    return [_plain(r) for r in recs]


def _plain(r: dict[str, Any]) -> dict[str, Any]:
    for c in _BY_KIND["int"]:
        r[c] = int(r[c])
    for c in _BY_KIND["float"]:
        r[c] = math.nan if r[c] is None else float(r[c])
    for c in _BY_KIND["bool"]:
        r[c] = bool(r[c])
    for c in _BY_KIND["text"]:
        r[c] = "" if r[c] is None or r[c] != r[c] else str(r[c])
    if r["answer"] is not None and r["answer"] != r["answer"]:  # NaN: no answer
        r["answer"] = None
    return {c: r[c] for c in RESULT_COLUMNS}


def from_records(records: Iterable[Mapping[str, Any]], *, source: str = "the results store") -> pd.DataFrame:
    """The normalised table of rows read back from a store (the inverse of :func:`to_records`)."""
    rows = list(records)
    if not rows:
        return empty_frame()
    return normalise(pd.DataFrame.from_records(rows), source=source)


def read_csv(path: str | Path) -> pd.DataFrame:
    """A results table written with ``DataFrame.to_csv``: an empty number is NaN, an empty answer
    ``None``, an empty text column "" (never NaN)."""
    numbers = {c: [""] for c in _BY_KIND["float"]}
    df = pd.read_csv(path, keep_default_na=False, na_values=numbers, dtype={"answer": object})
    if "answer" in df.columns:
        df["answer"] = df["answer"].where(df["answer"] != "", None)
    return normalise(df, source=str(path))


def markdown_table() -> str:
    """The column table of ``docs/results-schema.md``."""
    lines = ["| column | dtype | meaning |", "|---|---|---|"]
    # a bare "|" inside a cell would end it
    lines += [f"| {c.name} | {_DOC[c.kind]} | {c.meaning.replace('|', chr(92) + '|')} |" for c in COLUMNS]
    return "\n".join(lines)

