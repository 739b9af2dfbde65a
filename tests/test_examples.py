"""Issue 16: the README is self-contained and every file of examples/ loads (fresh clone, no ../shared)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from routerlab import datasets
from routerlab.catalog import Catalog

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def test_example_gateway_config_covers_three_providers_with_fallbacks(monkeypatch):
    from routerlab.live.config import GatewayConfig
    from routerlab.live.gateway import Gateway

    cfg = GatewayConfig.from_file(EXAMPLES / "gateway.yaml")
    kinds = {d.provider_kind for deps in cfg.models.values() for d in deps}
    assert {"openai", "anthropic", "groq"} <= kinds
    assert cfg.fallbacks and all(m in cfg.models for chain in cfg.fallbacks.values() for m in chain)
    # every fallback chain crosses providers: one provider's outage is covered by another
    provider = {m: {d.provider_kind for d in deps} for m, deps in cfg.models.items()}
    assert all(provider[m] != provider[c[0]] for m, c in cfg.fallbacks.items())
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "GROQ_API_KEY_2"):
        monkeypatch.setenv(var, "sk-example-not-a-real-key-000")
    gw = Gateway.from_config(EXAMPLES / "gateway.yaml")
    assert "all available" in repr(gw)


def test_example_catalog_merges_into_the_packaged_one():
    custom = Catalog.from_file(EXAMPLES / "catalog.yaml")
    merged = Catalog.default().merge(custom)
    spec = merged["acme-support-7b"]
    assert spec.provider == "openai-compatible" and spec.context_window == 32768
    assert spec.cost(1_000_000, 1_000_000) == pytest.approx(0.40)
    assert "gpt-4o" in merged


def test_example_data_set_loads_and_runs(tmp_path):
    ds = datasets.load(EXAMPLES / "support_data")
    assert repr(ds) == "support_data: 24 prompts, 2 tasks, 3 models, 72 outcomes"
    proc = subprocess.run([sys.executable, "-m", "routerlab.cli", "run", "--no-progress", "--dataset",
                           str(EXAMPLES / "support_data"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "support_data, 12 held-out prompts of 24" in proc.stdout


def test_readme_is_self_contained():
    text = (ROOT / "README.md").read_text()
    assert "../shared" not in text and "/work/" not in text
    assert "pip install -e . && routerlab run" in text
    assert 'pip install -e ".[test]" && python -m pytest' in text
    for word in ("chromium", "redis-server", "examples/gateway.yaml", "examples/catalog.yaml",
                 "examples/support_data"):
        assert word in text, word
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra in extras:
        assert f"`{extra}`" in text, f"README does not describe the extra {extra!r}"
    for path in re.findall(r"`((?:examples|notebooks|docs|datasets|benchmarks)/[\w./-]*)`", text):
        assert (ROOT / path.rstrip("/")).exists(), path
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]" && python -m pytest' in ci and "chromium" in ci and "redis-server" in ci


@pytest.mark.slow
def test_readme_first_command_in_a_fresh_clone_without_shared(tmp_path):
    """`routerlab run` from a clone of the committed tree, with nothing beside it (no ../shared)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "isolated" / "routerlab"
    proc = subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0:
        pytest.skip(f"git clone failed: {proc.stderr[-300:]}")
    assert not (clone.parent / "shared").exists()
    env = {**os.environ, "PYTHONPATH": str(clone)}
    run = subprocess.run([sys.executable, "-m", "routerlab.cli", "run", "--no-progress"], cwd=clone, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "routerlab run: zeroeval, 1420 held-out prompts" in run.stdout
    shutil.rmtree(clone, ignore_errors=True)
