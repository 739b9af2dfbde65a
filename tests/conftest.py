"""Shared fixtures: the bundled data set is loaded once per session (it is read-only)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# shared test helpers (helpers.py, fakes.py) are importable from every test folder
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def zeroeval():
    from routerlab import datasets

    return datasets.load("zeroeval")


@pytest.fixture(scope="session")
def gsm_small(zeroeval):
    """120 GSM8K prompts: enough for behaviour, small enough to be quick."""
    ids = zeroeval.prompts.loc[zeroeval.prompts["task"] == "gsm", "prompt_id"].iloc[:120]
    return zeroeval.filter(prompt_ids=ids)
