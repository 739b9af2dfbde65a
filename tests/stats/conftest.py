"""Fixtures for the routerlab.stats tests: small long-form Results tables built in memory."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest


def _frame(arms: dict[str, np.ndarray], column: str = "score", *, task: np.ndarray | None = None,
           extra: dict[str, dict[str, np.ndarray]] | None = None) -> pd.DataFrame:
    """One row per strategy x prompt, in the results-schema column layout."""
    parts = []
    for name, values in arms.items():
        n = len(values)
        part = pd.DataFrame({
            "strategy": name,
            "prompt_id": [f"p{i:05d}" for i in range(n)],
            "task": task if task is not None else np.array(["gsm", "crux", "math-l5"])[np.arange(n) % 3],
            "sample": 0,
            "score": np.nan,
            "cost": 0.001,
            "latency": 1.0,
            "cached": False,
            "error_type": "",
            "error": "",
        })
        part[column] = np.asarray(values, dtype=float)
        for col, per_arm in (extra or {}).items():
            if name in per_arm:
                part[col] = per_arm[name]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def make_frame() -> Callable[..., pd.DataFrame]:
    return _frame


class FakeResults:
    """Anything with a ``.df`` is accepted by compare()."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df


@pytest.fixture
def fake_results() -> type[FakeResults]:
    return FakeResults
