"""`routerlab run` end to end, checked against a hand computation from the raw data and prices."""

from __future__ import annotations

import json

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from routerlab import datasets
from routerlab.scoring import TaskScorers

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
    for name in ("gpt-4o", "gpt-4o-mini", "oracle", "random", "task", "cascade-agreement",
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
    # the data set names its scorers (ZeroEval's rules) beside its files
    scorers = TaskScorers(json.loads((ROOT / "datasets" / "zeroeval" / "scorers.json").read_text()))
    for model in ("gpt-4o", "gpt-4o-mini"):
        rows = outcomes[(outcomes["model"] == model) & outcomes["prompt_id"].isin(test_ids)]
        assert len(rows) == len(test_ids) == 1420
        p = prices[model]["price"]
        cost = float((rows["input_tokens"] * p["input"] + rows["output_tokens"] * p["output"]).sum() / 1e6)
        quality = np.mean([scorers.for_task(task[i]).score(r, ref[i], model=g).value
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


def test_learners_group_prints_whole_curves(tmp_path):
    proc = run_cli("run", "--no-progress", "--tasks", "crux", "--strategies", "learners,gpt-4o,gpt-4o-mini",
                   "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for name in ("learned", "mf", "cluster", "classifier", "capability-fit", "cascade-frugal", "gpt-4o-mini"):
        assert f" {name} " in proc.stdout or proc.stdout.splitlines().count(name)
    assert "whole cost-quality curves" in proc.stdout and "CPT(50%)" in proc.stdout
    metrics = pd.read_csv(tmp_path / "curve_metrics.csv", index_col="strategy")
    assert set(metrics.index) == {"learned", "mf", "cluster", "classifier", "capability-fit", "cascade-frugal"}
    assert metrics["aiq"].between(0, 1).all()
    assert "oracle" not in pd.read_csv(tmp_path / "summary.csv")["strategy"].tolist()  # only what was asked


# ------------------------------------------------------------------------ issue 16: mistakes are one line, exit 2
def _one_line_usage_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2, one line on stderr naming what is wrong, no traceback, nothing on stdout."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "usage:" not in proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize("args, words", [
    (("run", "--test-size", "1.5"), ("--test-size", "between 0 and 1")),
    (("run", "--test-size", "0"), ("--test-size", "between 0 and 1")),
    (("run", "--test-size", "half"), ("--test-size", "not a number")),
    (("run", "--concurrency", "0"), ("--concurrency", ">= 1")),
    (("run", "--seed", "x"), ("--seed",)),
    (("run", "--tasks", "gsm,poetry"), ("--tasks", "poetry", "gsm")),
    (("run", "--strategies", "gpt-4o,nonsense"), ("nonsense", "available")),
    (("run", "--live"), ("--live needs --config",)),
    (("run", "--live", "--config", "no/such/gateway.yaml"), ("no/such/gateway.yaml", "no such file")),
    (("run", "--live", "--server"), ("exclusive",)),
    (("run", "--frobnicate"), ("unrecognized arguments: --frobnicate", "routerlab run --help")),
    (("bogus",), ("invalid choice", "routerlab --help")),
    (("serve", "--port", "abc"), ("--port", "not a port")),
    (("serve", "--port", "70000"), ("--port", "0-65535")),
    (("serve", "--dataset", "no-such-set"), ("--dataset", "no-such-set")),
    (("export",), ("routing-table JSON file",)),
    (("export", "missing_table.json"), ("missing_table.json",)),
    (("export", "--results", "no/such/results.parquet", "--strategy", "task"), ("no/such/results.parquet",)),
    (("export", "--results", "x.parquet"), ("--strategy",)),
])
def test_every_user_mistake_is_one_line_and_exit_2(args, words):
    """Issue 16: `run --test-size 1.5` or `0` raised a raw ValueError (exit 1); argparse errors printed a
    usage block; a missing results file was a pyarrow traceback."""
    _one_line_usage_error(run_cli(*args, timeout=120), *words)


def test_exporting_the_summary_names_the_results_file(default_run):
    """Issue 16: `routerlab export --results summary.csv` (the file next to the results) gave a raw
    KeyError: 'answer'. Now: one line saying it is a summary and which file to pass."""
    _, out = default_run
    proc = run_cli("export", "--results", str(out / "summary.csv"), "--strategy", "task", "-o", str(out / "x"))
    _one_line_usage_error(proc, "summary.csv", "is a summary", "results.parquet")
    ok = run_cli("export", "--results", str(out / "results.parquet"), "--strategy", "task", "-o", str(out / "x"))
    assert ok.returncode == 0, ok.stderr


def test_help_texts_are_complete():
    """Issue 16: serve --help omitted the default port and P1/P2/P3; --seed had no help; the top-level
    help said 'The ``routerlab`` command.'."""
    top = run_cli("--help")
    assert top.returncode == 0
    assert "which LLM should answer which prompt" in top.stdout and "``" not in top.stdout
    for cmd in ("run", "serve", "export"):
        assert f"routerlab {cmd}" in top.stdout
    assert "Exit codes" in top.stdout
    serve = run_cli("serve", "--help")
    assert serve.returncode == 0
    assert "default: 8000" in serve.stdout and "P1, P2, P3" in serve.stdout
    assert "deployment" in serve.stdout.split("P1, P2, P3")[1][:200]
    run = run_cli("run", "--help")
    seed = run.stdout.split("\n  --seed SEED")[1].split("\n  --store")[0]
    assert "split" in seed and "default: 0" in seed
    assert "--retry-failed" in run.stdout and "--no-retry-failed" in run.stdout
    export = run_cli("export", "--help")
    assert export.returncode == 0 and "results.parquet" in export.stdout


def test_version():
    from routerlab import __version__

    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"routerlab {__version__}"


def test_no_command_prints_help_and_exits_2():
    proc = run_cli()
    assert proc.returncode == 2 and "routerlab run" in proc.stdout


def test_summary_md_is_a_markdown_table(default_run):
    """Issue 16: summary.md silently fell back to plain text without tabulate; now tabulate is a
    dependency and the file is a Markdown document with a pipe table, every strategy a row."""
    _, out = default_run
    text = (out / "summary.md").read_text()
    summary = pd.read_csv(out / "summary.csv")
    assert text.startswith("# routerlab results: zeroeval")
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows[0].split("|")[2].strip() == "strategy" and set(rows[1]) <= set("|:- ")
    assert len(rows) == 2 + len(summary)
    assert "e-0" not in text and "e+0" not in text
    gpt = next(r for r in rows if r.split("|")[2].strip() == "gpt-4o")
    q = summary.set_index("strategy").loc["gpt-4o"]
    assert f"{q['quality']:.3f} [{q['quality_lo']:.3f}, {q['quality_hi']:.3f}]" in gpt


# ------------------------------------------------------------------------ issue 16: stored failures retried
EXAMPLE_DATA = ROOT / "examples" / "support_data"


@pytest.fixture()
def keyed_server():
    """The local provider server answering the example data set, requiring a key on P1."""
    from routerlab.server import ProviderServer
    from routerlab.server.app import answers_from_dataset

    ds = datasets.load(EXAMPLE_DATA)
    srv = ProviderServer(["P1", "P2"], answers=answers_from_dataset(ds), latency_scale=0).start()
    srv.set_api_key("P1", "sk-face-test-0123456789")
    try:
        yield srv
    finally:
        srv.close()


def _live_config(tmp_path: Path, srv, deployment: str = "P1") -> Path:
    cfg = {"models": {"gpt-4o-mini": {"deployments": [
        {"name": deployment, "provider": "openai", "model": "gpt-4o-mini",
         "base_url": srv.base_url(deployment, "openai"), "api_key_env": "FACE_TEST_KEY"}]}},
        "retry": {"attempts": 1, "timeout": 5.0, "backoff_base": 0.01, "backoff_cap": 0.02}}
    path = tmp_path / f"gateway-{deployment}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run_live(config: Path, cwd: Path, key: str | None, *extra: str) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k != "FACE_TEST_KEY"}
    if key is not None:
        env["FACE_TEST_KEY"] = key
    return subprocess.run([sys.executable, "-m", "routerlab.cli", "run", "--no-progress", "--live", "--config",
                           str(config), "--dataset", str(EXAMPLE_DATA), "--strategies", "gpt-4o-mini", *extra],
                          capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_live_failures_are_retried_once_the_key_is_set(tmp_path, keyed_server):
    """Issue 16: after a run without keys, the same command with the keys set replayed the stored
    failures (nan quality, 100 % errors, exit 4, no message). Now: the first run says why it failed; the
    next one retries the failed units and says so; --no-retry-failed reproduces the stored rows."""
    config = _live_config(tmp_path, keyed_server)
    first = _run_live(config, tmp_path, None)
    assert first.returncode == 4, first.stderr
    assert "every call failed" in first.stderr and "retried" in first.stderr
    stores = list((tmp_path / "routerlab-runs").glob("*.sqlite"))
    assert len(stores) == 1 and "-live-" in stores[0].name

    again = _run_live(config, tmp_path, "sk-face-test-0123456789", "--no-retry-failed")
    assert again.returncode == 4  # reproduce exactly: the stored failures as they are
    assert "reused 12 stored rows, retried 0" in again.stdout

    fixed = _run_live(config, tmp_path, "sk-face-test-0123456789")
    assert fixed.returncode == 0, fixed.stderr
    assert "reused 0 stored rows, retried 12 failed units" in fixed.stdout
    row = next(line for line in fixed.stdout.splitlines() if " gpt-4o-mini " in line)
    assert "nan" not in row and row.rstrip().endswith("0.0%")
    assert len(keyed_server.log("P1")) == 12  # without a key nothing was sent; now each unit once

    done = _run_live(config, tmp_path, "sk-face-test-0123456789")
    assert done.returncode == 0 and "reused 12 stored rows, retried 0" in done.stdout
    assert len(keyed_server.log("P1")) == 12  # nothing called twice once it succeeded


def test_another_live_config_never_reads_these_rows(tmp_path, keyed_server):
    """The implicit store is named by the live configuration's hash: pointing the same command at
    another deployment starts a store of its own instead of replaying the first one's rows."""
    one = _run_live(_live_config(tmp_path, keyed_server, "P1"), tmp_path, "sk-face-test-0123456789")
    two = _run_live(_live_config(tmp_path, keyed_server, "P2"), tmp_path, "sk-face-test-0123456789")
    assert one.returncode == two.returncode == 0, (one.stderr, two.stderr)
    assert "reused" not in two.stdout
    assert len(list((tmp_path / "routerlab-runs").glob("*.sqlite"))) == 2
    assert len(keyed_server.log("P2")) == 12
