"""Fixtures of the harness tests: one local Ray cluster for the whole session (started on first use)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from routerlab.harness.local import LOCAL_KEY_ENV

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster (2 CPUs, no dashboard, its files under a short /tmp directory), shared by every
    test that asks for it and shut down at the end of the session. Skips when Ray is not installed."""
    try:
        import ray
    except ImportError:
        pytest.skip('Ray is not installed: pip install "routerlab[ray]" (the test extra brings it)')
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local test cluster: no token files in the home directory
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    path = os.pathsep.join(p for p in (str(ROOT), str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    # workers read a Gateway's keys from their own environment: the local provider server's placeholder key
    env = {"PYTHONPATH": path, "RAY_AUTH_MODE": "disabled", LOCAL_KEY_ENV: "local-server-needs-no-key"}
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": env})
    try:
        yield ray
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
