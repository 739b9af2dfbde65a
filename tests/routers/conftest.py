"""Fixtures for the router tests: the zeroeval split the harness uses, and small fakes."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def split(zeroeval):
    """The harness's held-out split: test_size 0.5, seed 0."""
    return zeroeval.split(test_size=0.5, seed=0)


@pytest.fixture(scope="session")
def small_split(zeroeval):
    """A stratified 300-prompt subset, split in two: quick to fit on."""
    ids = zeroeval.prompts.groupby("task", sort=True).head(100)["prompt_id"]
    return zeroeval.filter(prompt_ids=ids).split(test_size=0.5, seed=0)


