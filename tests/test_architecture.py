"""The architecture is checked, not described: dependency rules, types, complexity and module size.

These run the real tools the project configures in ``pyproject.toml`` (import-linter, mypy, ruff), as
a new contributor would before sending a change.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "routerlab"
pytestmark = pytest.mark.timeout(300)


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(path).exists():
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return path


def test_dependency_rules_hold():
    """DESIGN.md's layers, a stdlib-only runtime, no cycles (the contracts in pyproject.toml)."""
    out = _run(_tool("lint-imports"), "--no-cache")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_the_package_type_checks():
    out = _run(sys.executable, "-m", "mypy", "--no-incremental", "routerlab")
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def test_the_live_path_keeps_functions_simple():
    """Each function of the live path has a McCabe complexity of at most 10 (ruff C901)."""
    out = _run(sys.executable, "-m", "ruff", "check", "--select", "C901", "routerlab/live")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_no_module_is_past_the_size_where_it_is_split():
    """DESIGN.md: a module that grows past ~600 lines is split."""
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > 650} == {}


def test_public_names_are_declared_once_and_importable():
    """The package root's names come from its stub, and each one imports."""
    import routerlab

    assert 30 <= len(routerlab.__all__) <= 80
    for name in routerlab.__all__:
        assert getattr(routerlab, name) is not None, name
