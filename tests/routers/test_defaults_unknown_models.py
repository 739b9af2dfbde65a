"""The default strategy set on data whose models the catalog does not know (issue 13, QA item 2).

A model unknown to the catalog must not stop the whole default run: strategies that need a catalog field of
one of the data's models are left out, with one line saying which and why; a strategy the user names still
raises a clear error.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from routerlab import datasets
from routerlab.errors import UnknownModelError
from routerlab.routers.defaults import builtin_strategies


def _write(path: Path, unknown: str = "acme-1", n: int = 12) -> Path:
    """``n`` prompts answered by gpt-4o (catalog-priced) and ``unknown`` (recorded cost, no catalog entry)."""
    rows = []
    for i in range(n):
        ref = str(i % 7)
        rows.append({"prompt_id": f"q{i}", "prompt": f"what is {i} mod 7?", "model": unknown,
                     "response": ref if i % 3 else "x", "reference": ref, "input_tokens": 100, "output_tokens": 10,
                     "cost": 0.5})
        rows.append({"prompt_id": f"q{i}", "prompt": f"what is {i} mod 7?", "model": "gpt-4o", "response": ref,
                     "reference": ref, "input_tokens": 100, "output_tokens": 10})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "routerlab.cli", "run", "--no-progress", *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize("unknown", ["acme-1", "my-finetune-v2"])
def test_default_set_leaves_out_strategies_needing_catalog_fields(tmp_path: Path, unknown: str,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    train, test = datasets.load(_write(tmp_path / "own.jsonl", unknown)).split(0.5, seed=0)
    left: dict[str, str] = {}
    with caplog.at_level(logging.WARNING, logger="routerlab.routers"):
        built = builtin_strategies(train, evaluation=test, left_out=left)
    assert "capability" not in built and {"oracle", "random", "task", "cascade-agreement"} <= set(built)
    assert left == {"capability": f"needs catalog capabilities of {unknown}"}
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("left out:")]
    assert lines == [f"left out: capability (needs catalog capabilities of {unknown}); name them with "
                     "--strategies after adding the models to a catalog"]


def test_a_named_strategy_still_raises_naming_model_field_and_flag(tmp_path: Path) -> None:
    train, test = datasets.load(_write(tmp_path / "own.jsonl")).split(0.5, seed=0)
    with pytest.raises(UnknownModelError) as err:
        builtin_strategies(train, evaluation=test, explicit=["capability"])
    assert (err.value.model, err.value.field) == ("acme-1", "capabilities")
    assert "--strategies" in str(err.value)


def test_catalog_models_keep_every_default_strategy(small_split) -> None:
    train, test = small_split
    left: dict[str, str] = {}
    built = builtin_strategies(train, evaluation=test, left_out=left)
    assert left == {} and "capability" in built


def test_cli_default_run_with_an_unknown_model(tmp_path: Path) -> None:
    data = _write(tmp_path / "own.jsonl")
    done = _cli("--dataset", str(data), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "left out: capability (needs catalog capabilities of acme-1)" in done.stderr
    header = next(line for line in done.stdout.splitlines() if line.startswith("routerlab run:"))
    assert "latency unknown for acme-1" in header  # its p50/p95 are NaN: the header must not claim simulated only
    named = _cli("--dataset", str(data), "--strategies", "capability", cwd=tmp_path)
    assert named.returncode == 2 and "acme-1" in named.stderr and "--strategies" in named.stderr
    # a group names its members: those left out (capability; consensus needs 3 models) are not "unknown"
    grouped = _cli("--dataset", str(data), "--strategies", "default", cwd=tmp_path)
    assert grouped.returncode == 0, grouped.stderr[-2000:]
