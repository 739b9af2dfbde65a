"""Experiment.run(workers=N): forked replay workers (ProcessPoolExecutor) that change no row, whose failure
changes nothing, and that Ctrl-C kills, in real processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import ConstantRouter, TwoStepStrategy

from routerlab.harness.executors.local import _shares
from routerlab.harness.experiment import Experiment
from routerlab.harness.store import ResultStore

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs the fork start method")


class DiesInWorker(TwoStepStrategy):
    """A per-prompt strategy that kills the process it runs in unless that is ``home`` (the parent)."""

    def __init__(self, cheap: str, strong: str, home: int) -> None:
        super().__init__(cheap, strong)
        self.home = home

    async def answer(self, request, caller):
        if os.getpid() != self.home:
            os._exit(3)  # a worker dying mid-share, as on an out-of-memory kill
        return await super().answer(request, caller)


def _strategies(extra: dict | None = None) -> dict:
    return {"two-a": TwoStepStrategy("gpt-4o-mini", "gpt-4o"), "mini": ConstantRouter("gpt-4o-mini"),
            "two-b": TwoStepStrategy("llama-3.1-8b", "gpt-4o"), "two-c": TwoStepStrategy("gemma-2-2b", "gpt-4o"),
            **(extra or {})}


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_give_the_rows_of_one_process(gsm_small, workers):
    one = Experiment(gsm_small, _strategies(), seed=2).run(progress=False)
    seen: list[str] = []
    many = Experiment(gsm_small, _strategies(), seed=2).run(
        progress=False, workers=workers, on_rows=lambda name, rows: seen.extend([name] * len(rows)))
    pd.testing.assert_frame_equal(one.df, many.df, check_exact=True)
    assert pd.Series(seen).value_counts().to_dict() == dict.fromkeys(_strategies(), len(gsm_small))


def test_a_worker_that_dies_changes_nothing(gsm_small, caplog):
    extra = {"dies": DiesInWorker("gpt-4o-mini", "gpt-4o", home=os.getpid())}
    one = Experiment(gsm_small, _strategies(extra), seed=2).run(progress=False)
    with caplog.at_level(logging.WARNING, logger="routerlab.harness"):
        two = Experiment(gsm_small, _strategies(extra), seed=2).run(progress=False, workers=2)
    pd.testing.assert_frame_equal(one.df, two.df, check_exact=True)
    assert "worker failed" in caplog.text and "run in this process" in caplog.text


def test_nothing_left_to_hand_out_runs_in_one_process(gsm_small):
    exp = Experiment(gsm_small, {"mini": ConstantRouter("gpt-4o-mini"),
                                 "two": TwoStepStrategy("gpt-4o-mini", "gpt-4o")})
    assert _shares(exp, exp._plans(), 2) == []  # one per-prompt strategy: it stays here, no process is forked
    exp.run(progress=False)
    assert _shares(exp, exp._plans(), 2) == []  # everything stored: nothing to hand out either


SCRIPT = textwrap.dedent("""
    import asyncio, os, sys, time
    sys.path.insert(0, {tests!r})
    from routerlab import datasets
    from routerlab.harness.experiment import Experiment
    from helpers import TwoStepStrategy

    class Here(TwoStepStrategy):
        async def answer(self, request, caller):
            await asyncio.sleep({here_sleep})
            return await super().answer(request, caller)

    class There(TwoStepStrategy):
        async def answer(self, request, caller):
            with open({pid_file!r}, "w") as fh:
                fh.write(str(os.getpid()))
            time.sleep(600)  # a worker busy for a long time

    ds = datasets.load("zeroeval")
    ds = ds.filter(prompt_ids=ds.prompts["prompt_id"][:40])
    exp = Experiment(ds, {{"here": Here("gpt-4o-mini", "gpt-4o"), "there": There("gpt-4o-mini", "gpt-4o")}},
                     store={store!r}, concurrency=4)
    try:
        exp.run(progress=False, workers=2)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
""")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("moment", ["while this process computes", "while it waits for the worker"])
def test_ctrl_c_kills_the_worker_and_keeps_finished_units(tmp_path, moment):
    pid_file, store = tmp_path / "worker.pid", tmp_path / "runs.sqlite"
    here_sleep = 0.5 if moment == "while this process computes" else 0.0
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(ROOT / "tests"), pid_file=str(pid_file), store=str(store),
                                    here_sleep=here_sleep))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker = None
    try:
        deadline = time.time() + 120
        while not (pid_file.exists() and pid_file.read_text()) and time.time() < deadline:
            time.sleep(0.05)
        worker = int(pid_file.read_text())
        if moment == "while it waits for the worker":
            while (not store.exists() or ResultStore(store).count() < 40) and time.time() < deadline:
                time.sleep(0.05)  # this process's own share is stored: it now waits for the worker
            time.sleep(0.5)
        else:
            assert proc.poll() is None
        proc.send_signal(signal.SIGINT)  # to the parent only, as Jupyter's interrupt does
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "interrupted" in out
        assert not _alive(worker), "the worker was left running"
        stored = ResultStore(store).rows()
        assert set(stored["strategy"]) <= {"here"}  # the worker's share was never handed over
        if moment == "while it waits for the worker":
            assert len(stored) == 40  # nothing computed here was lost
    finally:
        if proc.poll() is None:
            proc.kill()
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)
