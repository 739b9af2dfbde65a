"""The public API: every exported name resolves, and importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import routerlab


def test_every_public_name_resolves():
    missing = [n for n in routerlab.__all__ if not hasattr(routerlab, n)]
    assert not missing


def test_import_is_lazy_and_fast():
    code = "import sys, routerlab; print(sorted(m for m in ('pandas', 'numpy', 'openai', 'IPython') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
