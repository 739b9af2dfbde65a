"""The results store: one SQLite file, one row per finished unit, never evicted.

A unit is (config hash, strategy, prompt id, sample). Its result row is its done-marker: the row is
written in one transaction, so after a crash (Ctrl-C, kernel restart, SIGKILL) a unit is either
entirely there or entirely absent, never half-written. WAL journaling keeps readers and the writer
apart; ``synchronous=FULL`` makes every committed unit survive a power cut as well as a kill.

Example::

    >>> store = ResultStore("runs/exp.sqlite")           # doctest: +SKIP
    >>> store.done("abc123", "gpt-4o")                   # doctest: +SKIP
    set()
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import StoreError
from . import schema

__all__ = ["ResultStore", "MemoryStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    config TEXT NOT NULL,
    strategy TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    sample INTEGER NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (config, strategy, prompt_id, sample)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


# A row without an error holds this exact text: rows are json.dumps of a dict with an "error_type" key,
# and inside a JSON string value a quote is escaped, so no other part of a row can contain it. (SQLite's
# json_extract cannot be used: rows keep NaN, which is not JSON.)
_OK = json.dumps({"error_type": ""})[1:-1]

# A finished unit is written once; only a stored failure is replaced (by the row of a retry, see
# Experiment(retry_failed=...)): a successful row is never overwritten.
_UPSERT = f"""
INSERT INTO units VALUES (?, ?, ?, ?, ?)
ON CONFLICT (config, strategy, prompt_id, sample) DO UPDATE SET row = excluded.row
WHERE instr(units.row, '{_OK}') = 0
"""


class ResultStore:
    """Durable, append-only storage of finished units (``path=None`` keeps them in memory)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path),
                                       timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open results store {self.path}: {exc}. If the file is not a "
                             "routerlab store, pass another store= path") from None

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path) if self.path else ':memory:'!r})"

    def done(self, config: str, strategy: str) -> set[tuple[str, int]]:
        """The (prompt_id, sample) units already finished for this config and strategy."""
        with self._lock:
            cur = self._db.execute("SELECT prompt_id, sample FROM units WHERE config=? AND strategy=?",
                                   (config, strategy))
            return {(p, int(s)) for p, s in cur.fetchall()}

    def failures(self, config: str, strategy: str) -> dict[tuple[str, int], str]:
        """The stored units of this config and strategy that failed: (prompt_id, sample) → ``error_type``."""
        with self._lock:
            cur = self._db.execute(f"SELECT prompt_id, sample, row FROM units WHERE config=? AND strategy=? "
                                   f"AND instr(row, '{_OK}') = 0", (config, strategy))
            return {(p, int(s)): str(json.loads(r)["error_type"]) for p, s, r in cur.fetchall()}

    def put_many(self, config: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Write finished units atomically (all of them or none). Returns how many were written.

        A unit already stored is kept as it is, unless its stored row is a failure: then the new row
        replaces it (a retried unit).

        ``rows`` are result rows (:func:`routerlab.harness.schema.make_row`); each is stored as the JSON
        of :func:`routerlab.harness.schema.to_records`.
        """
        return self._write(config, schema.to_records(rows))

    def put_frame(self, config: str, frame: pd.DataFrame) -> int:
        """Write a DataFrame of finished units (one transaction)."""
        return self._write(config, schema.to_records(frame))

    def _write(self, config: str, records: list[dict[str, Any]]) -> int:
        payload = [(config, r["strategy"], r["prompt_id"], r["sample"], json.dumps(r, allow_nan=True))
                   for r in records]
        if not payload:
            return 0
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(_UPSERT, payload)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK") if self._db.in_transaction else None
                raise StoreError(f"could not write {len(payload)} result(s) to {self.path}: {exc}") from None
        return len(payload)

    def rows(self, config: str | None = None, strategies: Iterable[str] | None = None) -> pd.DataFrame:
        """Every stored row (optionally one config / some strategies) as a results table
        (:mod:`~routerlab.harness.schema`'s columns and dtypes)."""
        sql, args = "SELECT row FROM units", []
        clauses = []
        if config is not None:
            clauses.append("config=?")
            args.append(config)
        if strategies is not None:
            names = list(strategies)
            clauses.append(f"strategy IN ({','.join('?' * len(names))})")
            args.extend(names)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self._lock:
            data = [json.loads(r) for (r,) in self._db.execute(sql, args).fetchall()]
        return schema.from_records(data, source=f"results store {self.path or ':memory:'}")

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM units").fetchone()[0])

    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, default=str)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def integrity(self) -> str:
        """SQLite's own integrity check ('ok' when the file is sound)."""
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class MemoryStore:
    """The store of a run that need not survive the process (``Experiment(store=None)``).

    Same interface as :class:`ResultStore`; rows stay in memory as normalised frames (the schema's
    dtypes), so nothing is serialised.
    """

    path = None

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str], list[pd.DataFrame]] = {}
        self._done: dict[tuple[str, str], set[tuple[str, int]]] = {}
        self._failed: dict[tuple[str, str], dict[tuple[str, int], str]] = {}
        self._replaced: set[tuple[str, str]] = set()  # keys whose parts hold superseded failures
        self._meta: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "MemoryStore()"

    def done(self, config: str, strategy: str) -> set[tuple[str, int]]:
        with self._lock:
            return set(self._done.get((config, strategy), set()))

    def failures(self, config: str, strategy: str) -> dict[tuple[str, int], str]:
        with self._lock:
            return dict(self._failed.get((config, strategy), {}))

    def _add(self, config: str, frame: pd.DataFrame) -> int:
        frame = schema.normalise(frame, source="rows given to the memory store")
        with self._lock:
            for strategy, part in frame.groupby("strategy", sort=False):
                key = (config, str(strategy))
                done = self._done.setdefault(key, set())
                failed = self._failed.setdefault(key, {})
                units = list(zip(part["prompt_id"].astype(str), part["sample"].astype(int)))
                # as in the SQLite store: a stored success stays, a stored failure is replaced
                keep = [u not in done or u in failed for u in units]
                if not all(keep):
                    part = part[keep]
                    units = [u for u, k in zip(units, keep) if k]
                if any(u in failed for u in units):
                    self._replaced.add(key)
                for u, err in zip(units, part["error_type"].tolist()):
                    if err:
                        failed[u] = str(err)
                    else:
                        failed.pop(u, None)
                done.update(units)
                self._parts.setdefault(key, []).append(part)
        return len(frame)

    def put_many(self, config: str, rows: Iterable[Mapping[str, Any]]) -> int:
        rows = list(rows)
        return self._add(config, pd.DataFrame.from_records(rows, columns=schema.RESULT_COLUMNS)) if rows else 0

    def put_frame(self, config: str, frame: pd.DataFrame) -> int:
        return self._add(config, frame) if len(frame) else 0

    def rows(self, config: str | None = None, strategies: Iterable[str] | None = None) -> pd.DataFrame:
        names = None if strategies is None else set(strategies)
        with self._lock:
            parts = [self._rows_of(k) for k in self._parts
                     if (config is None or k[0] == config) and (names is None or k[1] in names)]
        return pd.concat(parts, ignore_index=True) if parts else schema.empty_frame()

    def _rows_of(self, key: tuple[str, str]) -> pd.DataFrame:
        """One (config, strategy)'s rows; where a failure was retried, only the latest row of the unit."""
        rows = pd.concat(self._parts[key], ignore_index=True) if len(self._parts[key]) > 1 else self._parts[key][0]
        if key in self._replaced:
            rows = rows.drop_duplicates(["prompt_id", "sample"], keep="last").reset_index(drop=True)
        return rows

    def count(self) -> int:
        with self._lock:
            return sum(len(d) for d in self._done.values())

    def set_meta(self, key: str, value: Any) -> None:
        self._meta[key] = value

    def get_meta(self, key: str, default: Any = None) -> Any:
        return self._meta.get(key, default)

    def integrity(self) -> str:
        return "ok"

    def close(self) -> None:
        pass
