"""`routerlab run` end to end, checked against a hand computation from the raw data and prices."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from routerlab import datasets
from routerlab.scoring import scorer_for_task

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "routerlab.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    proc = run_cli("run", "--no-progress", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return proc, out


def test_default_run_prints_every_strategy_sorted_with_pareto(default_run):
    proc, out = default_run
    text = proc.stdout
    for name in ("gpt-4o", "gpt-4o-mini", "oracle", "random", "task", "learned", "cascade-agreement",
                 "consensus", "best-of-n", "capability"):
        assert f" {name} " in text
    summary = pd.read_csv(out / "summary.csv")
    assert summary["quality"].is_monotonic_decreasing
    assert (out / "results.parquet").exists() and (out / "summary.md").exists() and (out / "frontier.png").exists()


def test_cli_table_summary_and_plot_share_one_frontier_without_the_oracle(default_run):
    """Issue 16: the CLI table and summary.csv used to put the oracle on the frontier (pushing gpt-4o,
    cascade-agreement and consensus off it) while the plot and dashboard did not."""
    from routerlab import viz
    from routerlab.harness.results import Results

    proc, out = default_run
    summary = pd.read_csv(out / "summary.csv").set_index("strategy")
    assert summary.loc["oracle", "oracle"] and not summary.loc["oracle", "pareto"]
    assert not summary.drop(index="oracle")["oracle"].any()
    front = set(summary.index[summary["pareto"]])
    real = summary.drop(index="oracle")
    assert real["quality"].idxmax() in front  # the oracle, better and cheaper, no longer hides it
    marks = {line.split()[1]: line.split()[0] for line in proc.stdout.splitlines()
             if line[:1] in ("*", "^") and line.split()[1] != "="}  # table rows, not the legend
    assert marks.pop("oracle") == "^"
    assert set(marks) == front and set(marks.values()) == {"*"}
    res = Results.load(out / "results.parquet")  # what frontier.png is drawn from
    assert res.oracles == ["oracle"]
    ax = viz.frontier(res, pyplot=False).axes[0]
    step = [line for line in ax.get_lines() if line.get_gid() == "pareto-frontier"][0]
    xs, ys = step.get_data()
    assert set(zip(xs, ys)) == set(zip(summary.loc[list(front), "cost_per_1k"], summary.loc[list(front), "quality"]))


def test_gpt4o_and_mini_rows_match_hand_computation(default_run):
    _, out = default_run
    summary = pd.read_csv(out / "summary.csv").set_index("strategy")
    # by hand: the raw bundled files, the catalog's YAML prices, one score call per response
    prompts = pd.read_parquet(ROOT / "datasets" / "zeroeval" / "prompts.parquet")
    outcomes = pd.read_parquet(ROOT / "datasets" / "zeroeval" / "outcomes.parquet")
    prices = yaml.safe_load((ROOT / "routerlab" / "data" / "catalog.yaml").read_text())["models"]
    _, test = datasets.load("zeroeval", score=False).split(0.5, seed=0)
    test_ids = set(test.prompts["prompt_id"])
    ref = dict(zip(prompts["prompt_id"], prompts["reference"]))
    task = dict(zip(prompts["prompt_id"], prompts["task"]))
    for model in ("gpt-4o", "gpt-4o-mini"):
        rows = outcomes[(outcomes["model"] == model) & outcomes["prompt_id"].isin(test_ids)]
        assert len(rows) == len(test_ids) == 1420
        p = prices[model]["price"]
        cost = float((rows["input_tokens"] * p["input"] + rows["output_tokens"] * p["output"]).sum() / 1e6)
        quality = np.mean([scorer_for_task(task[i]).score(r, ref[i], model=g).value
                           for i, r, g in zip(rows["prompt_id"], rows["response"], rows["generator"])])
        assert summary.loc[model, "cost"] == pytest.approx(cost, rel=1e-12)
        assert summary.loc[model, "quality"] == pytest.approx(quality, abs=1e-12)
        correct = quality * len(rows)
        assert summary.loc[model, "cost_per_correct"] == pytest.approx(cost / correct, rel=1e-9)


def test_unknown_strategy_is_a_usage_error():
    proc = run_cli("run", "--no-progress", "--strategies", "gpt-4o,nonsense")
    assert proc.returncode == 2
    assert "nonsense" in proc.stderr and "available" in proc.stderr


def test_bad_dataset_is_a_data_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt_id": "a", "prompt": "x", "model": "gpt-4o", "response": "1"}\n{oops\n')
    proc = run_cli("run", "--no-progress", "--dataset", str(bad))
    assert proc.returncode == 3
    assert "line 2" in proc.stderr and str(bad) in proc.stderr


def test_help_documents_flags():
    proc = run_cli("run", "--help")
    assert proc.returncode == 0
    for flag in ("--dataset", "--strategies", "--tasks", "--live", "--config", "--server", "--out", "--store"):
        assert flag in proc.stdout
