"""Issue 15, part 1: units leased in the results store before they are called, so processes sharing a store
call each unit once, and a killed worker's units are finished by the others."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from routerlab.catalog import Catalog
from routerlab.harness import schema
from routerlab.harness.executors import UnitFeed
from routerlab.harness.store import MemoryStore, ResultStore
from routerlab.server import ProviderServer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
U = [("p1", 0), ("p2", 0), ("p3", 0), ("p4", 0)]


def _row(pid, error_type=""):
    return schema.make_row({"strategy": "s", "prompt_id": pid, "task": "t", "sample": 0, "split": "all"},
                           error_type=error_type, error="boom" if error_type else "")


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture(params=["sqlite", "memory"])
def two_stores(request, tmp_path):
    """Two handles on one store, as two processes see it (SQLite: two connections to one file)."""
    clock = Clock()
    if request.param == "sqlite":
        a, b = ResultStore(tmp_path / "s.sqlite", clock=clock), ResultStore(tmp_path / "s.sqlite", clock=clock)
    else:
        a = b = MemoryStore(clock=clock)
    return a, b, clock


def test_a_claimed_unit_is_not_claimed_by_another_owner_until_its_lease_expires(two_stores):
    a, b, clock = two_stores
    assert a.claim("c", "s", U[:2], "A", ttl=10) == (U[:2], [])
    assert b.claim("c", "s", U, "B", ttl=10) == (U[2:], [])  # A's two are held, not settled
    assert b.claim("c", "s", U, "B", ttl=10) == (U[2:], [])  # B's own claims are claimable again by B
    clock.t += 9.9
    assert a.renew("A", 10) == 2  # A is alive: its leases move on
    clock.t += 5
    assert b.claim("c", "s", U[:2], "B", ttl=10) == ([], [])
    clock.t += 10.1  # A stopped renewing: its units are taken over
    assert b.claim("c", "s", U[:2], "B", ttl=10) == (U[:2], [])
    leases = a.leases()
    assert set(leases["owner"]) == {"B"} and len(leases) == 4
    assert leases.set_index("prompt_id")["expired"].to_dict() == {"p1": False, "p2": False, "p3": True, "p4": True}


def test_writing_a_row_drops_its_lease_and_settles_the_unit(two_stores):
    a, b, _ = two_stores
    a.claim("c", "s", U, "A", ttl=10)
    a.put_many("c", [_row("p1"), _row("p2", "Timeout")])
    assert set(zip(a.leases()["prompt_id"], a.leases()["owner"])) == {("p3", "A"), ("p4", "A")}
    # a success is never called again; a failure written after this run looked is not either
    assert b.claim("c", "s", U[:2], "B", ttl=10, retry_through=0) == ([], U[:2])
    assert a.release("A") == 2
    assert b.claim("c", "s", U[2:], "B", ttl=10) == (U[2:], [])


def test_a_failure_is_retried_once_however_many_runs_planned_to_retry_it(two_stores):
    a, b, _ = two_stores
    a.put_many("c", [_row("p1", "Timeout")])
    plan_a, plan_b = a.snapshot("c", "s"), b.snapshot("c", "s")  # two runs both plan to retry p1
    assert plan_a.failures == {("p1", 0): "Timeout"} and plan_a.seq == plan_b.seq
    assert a.claim("c", "s", [("p1", 0)], "A", ttl=10, retry_through=plan_a.seq) == ([("p1", 0)], [])
    a.put_many("c", [_row("p1", "Timeout")])  # A's retry failed again
    assert b.claim("c", "s", [("p1", 0)], "B", ttl=10, retry_through=plan_b.seq) == ([], [("p1", 0)])
    later = b.snapshot("c", "s")  # a run planned after A's retry may retry it again
    assert later.seq > plan_b.seq
    assert b.claim("c", "s", [("p1", 0)], "B", ttl=10, retry_through=later.seq) == ([("p1", 0)], [])
    # without retry_through, a stored failure is settled
    assert a.claim("c", "s", [("p1", 0)], "A", ttl=10) == ([], [("p1", 0)])


def test_an_older_store_without_leases_opens_and_its_rows_count_as_written_before(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE units (config TEXT NOT NULL, strategy TEXT NOT NULL, prompt_id TEXT NOT NULL, "
                     "sample INTEGER NOT NULL, row TEXT NOT NULL, PRIMARY KEY (config, strategy, prompt_id, sample));"
                     "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
    db.execute("INSERT INTO units VALUES ('c', 's', 'p1', 0, ?)", (json.dumps(schema.to_records([_row("p1", "Timeout")])[0]),))
    db.commit()
    db.close()
    store = ResultStore(path)
    snap = store.snapshot("c", "s")
    assert snap.failures == {("p1", 0): "Timeout"} and snap.seq == 0
    assert store.claim("c", "s", [("p1", 0)], "A", ttl=10, retry_through=snap.seq) == ([("p1", 0)], [])


def test_a_feed_waits_for_units_held_elsewhere_and_takes_them_when_the_lease_expires(tmp_path):
    clock = Clock()
    store = ResultStore(tmp_path / "s.sqlite", clock=clock)
    store.claim("c", "s", U[:2], "dead-worker", ttl=5)

    async def drain():
        got = []
        async with UnitFeed(store, "c", "s", U, owner="me", batch=2, lease_seconds=5, poll=0.01) as feed:
            while (unit := await feed.next()) is not None:
                got.append(unit)
                store.put_many("c", [_row(unit[0])])
                if len(got) == 2:
                    clock.t += 6  # the dead worker's leases run out
        return got, feed.by_others

    got, others = asyncio.run(drain())
    assert got == U[2:] + U[:2] and others == 0
    assert store.count() == 4 and store.leases().empty


def test_a_feed_drops_units_another_worker_finished_and_gives_back_what_it_did_not_call(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    store.put_many("c", [_row("p2")])

    async def first_only():
        async with UnitFeed(store, "c", "s", U, owner="me", batch=4) as feed:
            unit = await feed.next()
            return unit, feed.by_others, len(store.leases())

    unit, others, held = asyncio.run(first_only())
    assert unit == ("p1", 0) and others == 1 and held == 3
    assert store.leases().empty  # leaving the feed released p1, p3, p4


# ------------------------------------------------------------------------------------------------------
# real processes, one local provider server, one store

MODELS = {"gpt-4o-mini": "mini", "claude-3-haiku": "haiku"}  # two providers (OpenAI and Anthropic SDKs)


@pytest.fixture
def server(zeroeval):
    from routerlab.server import answers_from_dataset

    srv = ProviderServer(list(MODELS.values()), answers=answers_from_dataset(zeroeval), latency_scale=0).start()
    for dep in MODELS.values():
        srv.set_faults(dep, delay=0.05)  # calls overlap across processes
    yield srv
    srv.close()


def _spawn(tmp_path, server, n, *, prompts, concurrency, lease_seconds):
    catalog = Catalog.default()
    procs, outs = [], []
    go = tmp_path / "go"
    for k in range(n):
        spec = {"store": str(tmp_path / "runs.sqlite"), "prompts": prompts, "concurrency": concurrency,
                "lease_seconds": lease_seconds, "go": str(go), "done": str(tmp_path / f"done{k}"),
                "out": str(tmp_path / f"out{k}.json"),
                "models": {m: {"name": d, "base_url": server.base_url(d, catalog[m].provider)} for m, d in MODELS.items()}}
        path = tmp_path / f"spec{k}.json"
        path.write_text(json.dumps(spec))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        procs.append(subprocess.Popen([sys.executable, str(HERE / "lease_worker.py"), str(path)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs.append(tmp_path / f"out{k}.json")
    return procs, outs, go


def _calls(server):
    """(deployment, prompt) -> how many requests reached the server."""
    return Counter((dep, r["prompt_hash"]) for dep in MODELS.values() for r in server.log(dep))


def _finish(procs, timeout=180):
    for p in procs:
        _, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 4])
def test_processes_sharing_a_store_call_each_unit_once(tmp_path, server, n):
    prompts = 60
    procs, outs, go = _spawn(tmp_path, server, n, prompts=prompts, concurrency=2, lease_seconds=30)
    try:
        time.sleep(0.5)
        go.write_text("go")
        _finish(procs)
    finally:
        for p in procs:
            p.kill() if p.poll() is None else None
    calls = _calls(server)
    assert len(calls) == prompts * len(MODELS)  # every unit was called ...
    assert set(calls.values()) == {1}  # ... exactly once
    results = [json.loads(o.read_text()) for o in outs]
    assert all(r["rows"] == prompts * len(MODELS) and r["errors"] == 0 for r in results)  # each sees every row
    assert sum(r["computed"] for r in results) == prompts * len(MODELS)
    assert sum(r["computed"] > 0 for r in results) >= 2  # the work was shared
    store = ResultStore(tmp_path / "runs.sqlite")
    assert store.count() == prompts * len(MODELS) and store.leases().empty


@pytest.mark.slow
def test_a_killed_worker_leaves_its_units_to_the_others_and_only_its_in_flight_calls_repeat(tmp_path, server):
    prompts, concurrency = 60, 2
    for dep in MODELS.values():
        server.set_faults(dep, delay=0.1)
    procs, outs, go = _spawn(tmp_path, server, 3, prompts=prompts, concurrency=concurrency, lease_seconds=2)
    victim = procs[0]
    try:
        time.sleep(0.5)
        go.write_text("go")
        done = tmp_path / "done0"
        deadline = time.time() + 120
        while time.time() < deadline and (not done.exists() or len(done.read_text().split()) < 6):
            time.sleep(0.02)
        assert victim.poll() is None, "the victim finished before it could be killed"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        _finish(procs[1:])
    finally:
        for p in procs:
            p.kill() if p.poll() is None else None
    calls = _calls(server)
    assert len(calls) == prompts * len(MODELS)  # nothing lost: every unit was called
    repeated = [k for k, v in calls.items() if v > 1]
    assert all(v <= 2 for v in calls.values())
    assert len(repeated) <= concurrency, repeated  # only what the victim had in flight was called again
    store = ResultStore(tmp_path / "runs.sqlite")
    rows = store.rows()
    assert len(rows) == prompts * len(MODELS) and (rows["error_type"] == "").all()
    assert store.leases().empty
    survivors = [json.loads(o.read_text()) for o in outs[1:]]
    assert all(r["rows"] == prompts * len(MODELS) for r in survivors)
