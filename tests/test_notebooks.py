"""Every notebook under notebooks/ runs top to bottom (nbval, lax mode: outputs are not compared).

Each notebook runs in its own ``python -m pytest --nbval-lax`` subprocess, so CI's single
``python -m pytest`` covers them without collecting .ipynb files itself, and one notebook's kernel
state cannot leak into another's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BUDGET_S = 60  # each notebook must run offline in under a minute (kernel start excluded)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(notebook: Path, tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    report = tmp_path / "report.json"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
         "--durations=0", "--rootdir", str(tmp_path), "-o", "addopts=", str(notebook)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, f"{notebook.name} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    cell_time = _cell_seconds(proc.stdout)
    report.write_text(json.dumps({"wall_s": elapsed, "cells_s": cell_time}))
    assert cell_time < BUDGET_S, f"{notebook.name}: cells took {cell_time:.1f}s (budget {BUDGET_S}s)"


def _cell_seconds(stdout: str) -> float:
    """Sum of per-cell call durations from pytest's ``--durations=0`` table."""
    total = 0.0
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].endswith("s") and parts[1] == "call":
            try:
                total += float(parts[0][:-1])
            except ValueError:
                pass
    return total


def test_notebooks_are_stripped() -> None:
    assert NOTEBOOKS, "no notebooks found"
    for nb in NOTEBOOKS:
        doc = json.loads(nb.read_text())
        for cell in doc["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, \
                    f"{nb.name}: outputs not stripped"
