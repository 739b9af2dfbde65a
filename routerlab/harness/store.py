"""The results store: one SQLite file, one row per finished unit, never evicted.

A unit is (config hash, strategy, prompt id, sample). Its result row is its done-marker: the row is
written in one transaction, so after a crash (Ctrl-C, kernel restart, SIGKILL) a unit is either
entirely there or entirely absent, never half-written. WAL journaling keeps readers and the writer
apart; ``synchronous=FULL`` makes every committed unit survive a power cut as well as a kill.

**Leases** let several processes (or one driver feeding Ray workers) share a store without paying for
a unit twice: before calling a unit a worker :meth:`~ResultStore.claim` s it (owner, expiry) in one
transaction, which succeeds only for units with no row yet (or a failure the run means to retry) and
no live lease of another owner. Writing a unit's row drops its lease in the same transaction. A
worker renews its leases while it runs (:meth:`~ResultStore.renew`); the leases of a worker that died
expire and the units are claimed again, so only calls that were in flight when it died can be paid
twice. Rows carry the store's write sequence number: a run retries only failures written before it
looked (:meth:`~ResultStore.snapshot`), never one another worker has just retried.

Example::

    >>> store = ResultStore("runs/exp.sqlite")           # doctest: +SKIP
    >>> store.done("abc123", "gpt-4o")                   # doctest: +SKIP
    set()
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pandas as pd

from ..errors import StoreError
from . import schema

__all__ = ["ResultStore", "MemoryStore", "Snapshot", "Unit"]

Unit = tuple[str, int]  # (prompt id, sample)
P = ParamSpec("P")
R = TypeVar("R")


def _hint(exc: sqlite3.Error) -> str:
    """How to fix a store SQLite cannot read: a damaged or foreign file is left as it is (never repaired
    or overwritten: its rows may be all that is left of paid calls); a lock or I/O error needs no advice."""
    if isinstance(exc, sqlite3.OperationalError) or not isinstance(exc, sqlite3.DatabaseError):
        return ""
    return (". The file is damaged or not a routerlab results store and was left untouched: move it aside "
            "(or delete it) to start a new store there, or point the store at another file")


def _reads(method: Callable[P, R]) -> Callable[P, R]:
    """A read of the store whose SQLite error (a malformed page, a file that is no database) becomes a
    StoreError naming the file and the fix, not a bare ``sqlite3.DatabaseError``."""
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            store = args[0]
            raise StoreError(f"cannot read results store {getattr(store, 'path', None)}: {exc}{_hint(exc)}") from None
    return wrapper

_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    config TEXT NOT NULL,
    strategy TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    sample INTEGER NOT NULL,
    row TEXT NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (config, strategy, prompt_id, sample)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    config TEXT NOT NULL,
    strategy TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    sample INTEGER NOT NULL,
    owner TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (config, strategy, prompt_id, sample)
);
CREATE INDEX IF NOT EXISTS leases_by_owner ON leases (owner);
"""
# stores written before leases existed have no write sequence: their rows count as written at 0
_SEQ_COLUMN = "ALTER TABLE units ADD COLUMN seq INTEGER NOT NULL DEFAULT 0"


# A row without an error holds this exact text: rows are json.dumps of a dict with an "error_type" key,
# and inside a JSON string value a quote is escaped, so no other part of a row can contain it. (SQLite's
# json_extract cannot be used: rows keep NaN, which is not JSON.)
_OK = json.dumps({"error_type": ""})[1:-1]

# A finished unit is written once; only a stored failure is replaced (by the row of a retry, see
# Experiment(retry_failed=...)): a successful row is never overwritten.
_UPSERT = f"""
INSERT INTO units (config, strategy, prompt_id, sample, row, seq) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (config, strategy, prompt_id, sample) DO UPDATE SET row = excluded.row, seq = excluded.seq
WHERE instr(units.row, '{_OK}') = 0
"""
_UNLEASE = "DELETE FROM leases WHERE config=? AND strategy=? AND prompt_id=? AND sample=?"


@dataclass(frozen=True)
class Snapshot:
    """What one strategy's units look like in the store at one moment (read in one transaction).

    ``done``: the units with a row; ``failures``: those whose row is a failure, unit → ``error_type``;
    ``seq``: the store's write sequence number then. A run claims the failures it retries with
    ``retry_through=seq``, so a failure written after this moment (another worker's retry) is not
    called again.
    """

    done: set[Unit]
    failures: dict[Unit, str]
    seq: int


class ResultStore:
    """Durable, append-only storage of finished units (``path=None`` keeps them in memory), with unit leases.

    ``clock``: wall-clock seconds (``time.time``) for lease expiry; leases are compared across processes,
    so it must be a clock they share. Raises :class:`~routerlab.errors.StoreError` naming the file when it
    cannot be opened (not a database, damaged) or written.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path),
                                       timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._create()
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise StoreError(f"cannot open results store {self.path}: {exc}{_hint(exc)}") from None

    def _create(self) -> None:
        """The tables, created (or an older store's brought up to date) in one transaction: processes
        opening one new store at the same moment do not race."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            if "seq" not in {r[1] for r in self._db.execute("PRAGMA table_info(units)")}:
                self._db.execute(_SEQ_COLUMN)
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path) if self.path else ':memory:'!r})"

    @_reads
    def done(self, config: str, strategy: str) -> set[Unit]:
        """The (prompt_id, sample) units already finished for this config and strategy."""
        with self._lock:
            cur = self._db.execute("SELECT prompt_id, sample FROM units WHERE config=? AND strategy=?",
                                   (config, strategy))
            return {(p, int(s)) for p, s in cur.fetchall()}

    @_reads
    def failures(self, config: str, strategy: str) -> dict[Unit, str]:
        """The stored units of this config and strategy that failed: (prompt_id, sample) → ``error_type``."""
        with self._lock:
            return self._failures(config, strategy)

    def _failures(self, config: str, strategy: str) -> dict[Unit, str]:
        cur = self._db.execute(f"SELECT prompt_id, sample, row FROM units WHERE config=? AND strategy=? "
                               f"AND instr(row, '{_OK}') = 0", (config, strategy))
        return {(p, int(s)): str(json.loads(r)["error_type"]) for p, s, r in cur.fetchall()}

    @_reads
    def snapshot(self, config: str, strategy: str) -> Snapshot:
        """The finished units, the failures among them and the write sequence number, read at one moment."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                rows = self._db.execute("SELECT prompt_id, sample, instr(row, ?) > 0 FROM units "
                                        "WHERE config=? AND strategy=?", (_OK, config, strategy)).fetchall()
                failed = self._failures(config, strategy) if not all(ok for _, _, ok in rows) else {}
                seq = self._seq()
            finally:
                self._db.execute("COMMIT")
        return Snapshot({(p, int(s)) for p, s, _ in rows}, failed, seq)

    def _seq(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
        return 0 if row is None else int(json.loads(row[0]))

    # leases ----------------------------------------------------------------------------------
    def claim(self, config: str, strategy: str, units: Iterable[Unit], owner: str, *, ttl: float,
              retry_through: int | None = None) -> tuple[list[Unit], list[Unit]]:
        """Lease those of ``units`` that ``owner`` may call now, for ``ttl`` seconds.

        A unit is claimed when it has no row (or a failure written at or before the write sequence
        number ``retry_through``, for a run that retries it: see :meth:`snapshot`) and no lease of
        another owner that is still running (a lease past its expiry, a crashed worker's, is taken
        over). One transaction: two processes never both claim a unit.

        Returns ``(claimed, settled)``, both in the order given: the units now leased to ``owner``, and
        those that have a row this run does not call again (finished, or failed after ``retry_through``).
        The others are held by a live lease elsewhere.
        """
        now = self.clock()
        through = -1 if retry_through is None else int(retry_through)
        claimed: list[Unit] = []
        settled: list[Unit] = []
        with self._lock, self._leasing():
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for pid, sample in units:
                    key = (config, strategy, pid, int(sample))
                    row = self._db.execute(f"SELECT instr(row, '{_OK}') > 0, seq FROM units WHERE config=? AND "
                                           "strategy=? AND prompt_id=? AND sample=?", key).fetchone()
                    if row is not None and (row[0] or row[1] > through):
                        settled.append((pid, int(sample)))
                        continue
                    held = self._db.execute("SELECT owner, expires FROM leases WHERE config=? AND strategy=? AND "
                                            "prompt_id=? AND sample=?", key).fetchone()
                    if held is not None and held[0] != owner and held[1] > now:
                        continue
                    self._db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?, ?)", (*key, owner, now + ttl))
                    claimed.append((pid, int(sample)))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"could not lease units in {self.path}: {exc}{_hint(exc)}") from None
        return claimed, settled

    def renew(self, owner: str, ttl: float) -> int:
        """Push the expiry of every lease ``owner`` holds to now + ``ttl`` seconds; returns how many it holds."""
        with self._lock, self._leasing():
            try:
                cur = self._db.execute("UPDATE leases SET expires=? WHERE owner=?", (self.clock() + ttl, owner))
            except sqlite3.Error as exc:
                raise StoreError(f"could not renew the leases of {owner} in {self.path}: {exc}{_hint(exc)}") from None
            return int(cur.rowcount)

    def release(self, owner: str, config: str | None = None, strategy: str | None = None,
                units: Iterable[Unit] | None = None) -> int:
        """Drop ``owner``'s leases (all of them, or those of ``units`` of one config and strategy) without
        writing rows: the units are free for others at once. Returns how many were dropped."""
        with self._lock, self._leasing():
            try:
                if units is None:
                    return int(self._db.execute("DELETE FROM leases WHERE owner=?", (owner,)).rowcount)
                self._db.execute("BEGIN IMMEDIATE")
                n = 0
                for pid, sample in units:
                    n += self._db.execute(_UNLEASE + " AND owner=?", (config, strategy, pid, int(sample), owner)).rowcount
                self._db.execute("COMMIT")
                return n
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"could not release the leases of {owner} in {self.path}: {exc}{_hint(exc)}") from None

    @_reads
    def leases(self) -> pd.DataFrame:
        """The leases held now: ``config, strategy, prompt_id, sample, owner, expires`` (clock seconds) and
        ``expired`` (True for a lease whose worker stopped renewing it: it will be claimed again)."""
        with self._lock:
            rows = self._db.execute("SELECT config, strategy, prompt_id, sample, owner, expires FROM leases").fetchall()
        df = pd.DataFrame(rows, columns=["config", "strategy", "prompt_id", "sample", "owner", "expires"])
        return df.assign(expired=df["expires"].astype(float) <= self.clock())

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    @contextmanager
    def _leasing(self) -> Iterator[None]:
        """Lease changes are committed without waiting for the disk: they survive a killed process (WAL), and
        after a power cut a lost lease only makes a unit claimable again, its worker gone too. Rows keep
        ``synchronous=FULL``."""
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            self._db.execute("PRAGMA synchronous=FULL")

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
        if not records:
            return 0
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                seq = self._seq() + 1
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('seq', ?)", (json.dumps(seq),))
                self._db.executemany(_UPSERT, [(config, r["strategy"], r["prompt_id"], r["sample"],
                                                json.dumps(r, allow_nan=True), seq) for r in records])
                # a unit's row is its done-marker: its lease goes in the same transaction
                self._db.executemany(_UNLEASE, [(config, r["strategy"], r["prompt_id"], r["sample"]) for r in records])
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"could not write {len(records)} result(s) to {self.path}: {exc}{_hint(exc)}") from None
        return len(records)

    @_reads
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

    @_reads
    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM units").fetchone()[0])

    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, default=str)))

    @_reads
    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    @_reads
    def integrity(self) -> str:
        """SQLite's own integrity check ('ok' when the file is sound)."""
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _close_quietly(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass


class MemoryStore:
    """The store of a run that need not survive the process (``Experiment(store=None)``).

    Same interface as :class:`ResultStore` (leases included, for the workers of one process); rows stay
    in memory as normalised frames (the schema's dtypes), so nothing is serialised.
    """

    path = None

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._parts: dict[tuple[str, str], list[pd.DataFrame]] = {}
        self._done: dict[tuple[str, str], set[tuple[str, int]]] = {}
        self._failed: dict[tuple[str, str], dict[tuple[str, int], str]] = {}
        self._written: dict[tuple[str, str, str, int], int] = {}  # a failure's write sequence number
        self._leases: dict[tuple[str, str, str, int], tuple[str, float]] = {}
        self._seq = 0
        self._replaced: set[tuple[str, str]] = set()  # keys whose parts hold superseded failures
        self._meta: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "MemoryStore()"

    def __getstate__(self) -> dict[str, Any]:  # a copy travels (e.g. to a Ray worker) without its lock
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def done(self, config: str, strategy: str) -> set[tuple[str, int]]:
        with self._lock:
            return set(self._done.get((config, strategy), set()))

    def failures(self, config: str, strategy: str) -> dict[tuple[str, int], str]:
        with self._lock:
            return dict(self._failed.get((config, strategy), {}))

    def snapshot(self, config: str, strategy: str) -> Snapshot:
        with self._lock:
            key = (config, strategy)
            return Snapshot(set(self._done.get(key, set())), dict(self._failed.get(key, {})), self._seq)

    def claim(self, config: str, strategy: str, units: Iterable[Unit], owner: str, *, ttl: float,
              retry_through: int | None = None) -> tuple[list[Unit], list[Unit]]:
        now, through = self.clock(), -1 if retry_through is None else int(retry_through)
        claimed: list[Unit] = []
        settled: list[Unit] = []
        with self._lock:
            done, failed = self._done.get((config, strategy), set()), self._failed.get((config, strategy), {})
            for pid, sample in units:
                key = (config, strategy, pid, int(sample))
                if (pid, sample) in done and ((pid, sample) not in failed or self._written.get(key, 0) > through):
                    settled.append((pid, int(sample)))
                    continue
                held = self._leases.get(key)
                if held is not None and held[0] != owner and held[1] > now:
                    continue
                self._leases[key] = (owner, now + ttl)
                claimed.append((pid, int(sample)))
        return claimed, settled

    def renew(self, owner: str, ttl: float) -> int:
        with self._lock:
            mine = [k for k, (o, _) in self._leases.items() if o == owner]
            for k in mine:
                self._leases[k] = (owner, self.clock() + ttl)
        return len(mine)

    def release(self, owner: str, config: str | None = None, strategy: str | None = None,
                units: Iterable[Unit] | None = None) -> int:
        with self._lock:
            keys = ([k for k, (o, _) in self._leases.items() if o == owner] if units is None else
                    [k for p, s in units if self._leases.get(k := (str(config), str(strategy), p, int(s)),
                                                                 ("", 0.0))[0] == owner])
            for k in keys:
                del self._leases[k]
        return len(keys)

    def leases(self) -> pd.DataFrame:
        with self._lock:
            rows = [(*k, o, e) for k, (o, e) in self._leases.items()]
        df = pd.DataFrame(rows, columns=["config", "strategy", "prompt_id", "sample", "owner", "expires"])
        return df.assign(expired=df["expires"].astype(float) <= self.clock())

    def _add(self, config: str, frame: pd.DataFrame) -> int:
        frame = schema.normalise(frame, source="rows given to the memory store")
        with self._lock:
            self._seq += 1
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
                        self._written[(*key, *u)] = self._seq
                    else:
                        failed.pop(u, None)
                    self._leases.pop((*key, *u), None)
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
