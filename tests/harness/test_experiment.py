from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from routerlab.errors import ConfigError
from routerlab.harness.experiment import Experiment
from routerlab.providers.replay import ReplayCaller
from routerlab.harness.results import RESULT_COLUMNS, Results
from routerlab.harness.store import ResultStore

from helpers import ByLengthRouter, ConstantRouter, TwoStepStrategy

ROOT = Path(__file__).resolve().parents[2]


def _strategies():
    return {"gpt-4o": ConstantRouter("gpt-4o"), "mini": ConstantRouter("gpt-4o-mini"),
            "by-length": ByLengthRouter("llama-3.1-8b", "claude-3.5-sonnet")}


def test_fast_path_equals_per_prompt_path(zeroeval):
    ds = zeroeval.filter(prompt_ids=zeroeval.prompts["prompt_id"].iloc[::7])
    fast = Experiment(ds, _strategies(), seed=1, samples=2).run(progress=False)
    slow = Experiment(ds, _strategies(), seed=1, samples=2, fast_path=False).run(progress=False)
    assert len(fast.df) == len(ds) * 3 * 2
    pd.testing.assert_frame_equal(fast.df, slow.df, check_exact=True)
    # the two samples draw different latencies, the same answer
    s0 = fast.df[fast.df["sample"] == 0]["latency"].to_numpy()
    s1 = fast.df[fast.df["sample"] == 1]["latency"].to_numpy()
    assert not np.allclose(s0, s1)


def test_costs_and_tokens_add_up_per_call(gsm_small):
    res = Experiment(gsm_small, {"two": TwoStepStrategy("gpt-4o-mini", "gpt-4o")}).run(progress=False)
    caller = ReplayCaller(gsm_small)
    df = res.df.set_index("prompt_id")
    for pid in gsm_small.prompts["prompt_id"][:20]:
        cheap = caller.recorded(pid, "gpt-4o-mini")
        n = int(pid.rsplit("#", 1)[-1])
        expected_in = cheap["input_tokens"] + (0 if n % 2 else caller.recorded(pid, "gpt-4o")["input_tokens"])
        assert df.loc[pid, "input_tokens"] == expected_in
        assert df.loc[pid, "models_called"] == ("gpt-4o-mini" if n % 2 else "gpt-4o-mini|gpt-4o")


def test_failures_are_rows_not_dropped(gsm_small):
    res = Experiment(gsm_small, {"ghost": ConstantRouter("gpt-4-1106-preview")}).run(progress=False)
    assert len(res.df) == len(gsm_small)
    assert (res.df["error_type"] == "MissingOutcomeError").all()
    assert res.df["error"].str.contains("recorded models").all()
    slow = Experiment(gsm_small, {"ghost": ConstantRouter("gpt-4-1106-preview")}, fast_path=False).run(progress=False)
    pd.testing.assert_frame_equal(res.df, slow.df, check_exact=True)


def test_resume_computes_only_what_is_missing(tmp_path, gsm_small):
    store = tmp_path / "runs.sqlite"
    half = gsm_small.filter(prompt_ids=gsm_small.prompts["prompt_id"][:60])
    Experiment(half, _strategies(), store=store).run(progress=False)
    assert ResultStore(store).count() == 60 * 3
    calls = []

    class Counting(ReplayCaller):
        async def complete(self, request, model):
            calls.append(request.prompt_id)
            return await super().complete(request, model)

    res = Experiment(gsm_small, _strategies(), store=store, caller=Counting(gsm_small), fast_path=False).run(progress=False)
    assert len(calls) == 60 * 3  # only the 60 new prompts, for each strategy
    assert set(calls).isdisjoint(half.prompts["prompt_id"])
    assert len(res.df) == 120 * 3 and not res.df.duplicated(["strategy", "prompt_id", "sample"]).any()


def test_changed_config_recomputes(tmp_path, gsm_small):
    store = tmp_path / "runs.sqlite"
    a = Experiment(gsm_small, {"r": ByLengthRouter("gpt-4o-mini", "gpt-4o", limit=600)}, store=store)
    b = Experiment(gsm_small, {"r": ByLengthRouter("gpt-4o-mini", "gpt-4o", limit=10)}, store=store)
    assert a.config_hash("r") != b.config_hash("r")
    ra, rb = a.run(progress=False), b.run(progress=False)
    assert (rb.df["final_model"] == "gpt-4o").all() and (ra.df["final_model"] != rb.df["final_model"]).any()


KILL_SCRIPT = textwrap.dedent("""
    import sys, asyncio
    sys.path.insert(0, {tests!r})
    from routerlab import datasets
    from routerlab.harness.executors import LocalExecutor
    from routerlab.harness.experiment import Experiment
    from routerlab.providers.replay import ReplayCaller
    from helpers import TwoStepStrategy
    ds = datasets.load("zeroeval")
    ds = ds.filter(prompt_ids=ds.prompts["prompt_id"][:200])

    class Slow(ReplayCaller):
        # a caller that is not replay to the harness: every unit is committed on its own, as live calls are
        async def complete(self, request, model):
            with open({log!r}, "a") as fh:
                fh.write(request.prompt_id + " " + model + "\\n")
            await asyncio.sleep(0.002)
            return await super().complete(request, model)

    class Live:
        def __init__(self, inner): self.inner = inner
        async def complete(self, request, model): return await self.inner.complete(request, model)

    Experiment(ds, {{"two": TwoStepStrategy("gpt-4o-mini", "gpt-4o")}}, caller=Live(Slow(ds)),
               store={store!r}, concurrency=4).run(progress=False, executor=LocalExecutor(lease_seconds=3))
    print("finished")  # the killed run's leases expire after 3 s (not the default 60 s), then the rerun takes them
""")


def test_sigkill_mid_run_loses_and_repeats_nothing(tmp_path):
    store, log = tmp_path / "runs.sqlite", tmp_path / "calls.log"
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(ROOT / "tests"), log=str(log), store=str(store)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:  # kill once some units are stored, mid-run
        time.sleep(0.05)
        if store.exists() and ResultStore(store).count() >= 40:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    st = ResultStore(store)
    assert st.integrity() == "ok"
    done_before = {r for r in st.rows()["prompt_id"]}
    assert 40 <= len(done_before) < 200, "the kill must land mid-run"
    calls_before = log.read_text().split("\n")
    log.write_text("")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = ResultStore(store).rows()
    assert len(rows) == 200 and not rows.duplicated(["prompt_id", "sample"]).any()  # 0 lost, 0 duplicated
    repeated = {line.split()[0] for line in log.read_text().splitlines()} & done_before
    assert not repeated, f"finished units called again: {sorted(repeated)[:5]}"  # 0 repeated
    assert all(json.loads(json.dumps(r)) for r in rows.to_dict("records"))  # 0 corrupt
    assert len(calls_before) > 40


def test_results_round_trip_exactly(tmp_path, gsm_small):
    res = Experiment(gsm_small, _strategies(), meta={"note": "x"}).run(progress=False)
    for path in (tmp_path / "r.parquet", tmp_path / "r.csv"):
        (res.to_parquet if path.suffix == ".parquet" else res.to_csv)(path)
        back = Results.load(path)
        pd.testing.assert_frame_equal(back.df, res.df)
        assert back.meta["note"] == "x"


def test_summary_numbers_by_hand(gsm_small):
    res = Experiment(gsm_small, _strategies()).run(progress=False)
    s = res.summary()
    rows = res.df[res.df["strategy"] == "gpt-4o"]
    assert s.loc["gpt-4o", "n"] == len(gsm_small)
    assert s.loc["gpt-4o", "quality"] == pytest.approx(rows["score"].mean())
    assert s.loc["gpt-4o", "cost"] == pytest.approx(rows["cost"].sum())
    assert s.loc["gpt-4o", "cost_per_correct"] == pytest.approx(rows["cost"].sum() / rows["score"].sum())
    assert s.loc["gpt-4o", "latency_p95"] == pytest.approx(np.percentile(rows["latency"], 95))
    assert s.loc["gpt-4o", "quality_lo"] < s.loc["gpt-4o", "quality"] < s.loc["gpt-4o", "quality_hi"]
    assert list(res.summary(by="task").index.names) == ["strategy", "task"]
    assert set(res.df.columns) == set(RESULT_COLUMNS)


def test_no_strategies_is_a_clear_error(gsm_small):
    with pytest.raises(ConfigError, match="no strategies"):
        Experiment(gsm_small, {})


def test_forked_worker_gives_the_same_results(gsm_small):
    """workers=2 hands every other per-prompt strategy to a forked process: same rows as one process."""
    def strategies():
        return {"two-a": TwoStepStrategy("gpt-4o-mini", "gpt-4o"), "two-b": TwoStepStrategy("llama-3.1-8b", "gpt-4o"),
                "mini": ConstantRouter("gpt-4o-mini")}

    one = Experiment(gsm_small, strategies(), seed=2).run(progress=False)
    two = Experiment(gsm_small, strategies(), seed=2).run(progress=False, workers=2)
    pd.testing.assert_frame_equal(one.df, two.df, check_exact=True)


def test_a_csv_round_trip_keeps_answers_and_errors_with_line_breaks_quotes_and_commas(tmp_path, gsm_small):
    res = Experiment(gsm_small, _strategies()).run(progress=False)
    df = res.df.copy()
    texts = ["a\rb", "a\nb", "a\r\nb", 'say "hi", then\r', " padded ", "\r", "x,y"]
    df.loc[: len(texts) - 1, "answer"] = texts  # lone CR was written unquoted and split the row on reading
    df.loc[: len(texts) - 1, "error"] = texts
    edited = Results(df, dict(res.meta))
    edited.to_csv(tmp_path / "r.csv")
    back = Results.load(tmp_path / "r.csv")
    pd.testing.assert_frame_equal(back.df, edited.df)
