"""Token counts of outcome rows: recorded where the data has them, cl100k estimates counted on first use.

Counting every response of a large import up front (RouterBench: 36,000 prompts x 11 models) costs
tens of seconds, and most imports record cost, not tokens; so each row is counted only when a
replay, a price or a router first needs it, and kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..tokens import count_cached

if TYPE_CHECKING:
    from ._dataset import Dataset

__all__ = ["TokenCounts", "recorded_counts"]


def recorded_counts(column: pd.Series) -> np.ndarray:
    """A nullable token column as int64 with -1 where nothing was recorded."""
    return np.where(column.isna().to_numpy(), -1, column.fillna(0).to_numpy(dtype=np.int64))


class TokenCounts:
    """(input, output) counts per outcome row of one Dataset, filled lazily and memoised."""

    def __init__(self, dataset: Dataset) -> None:
        assert dataset.outcomes is not None
        df = dataset.outcomes.df
        self.n = len(df)
        self._in = recorded_counts(df["input_tokens"])
        self._out = recorded_counts(df["output_tokens"])
        self._dataset = dataset
        self._texts: tuple[np.ndarray, np.ndarray, dict[str, str]] | None = None
        self._complete = False  # every row counted: a look-up is two gathers (a replay of millions of calls)

    def _sources(self) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
        """(prompt id per row, response per row, prompt id -> text): built only when something is counted."""
        if self._texts is None:
            ds = self._dataset
            assert ds.outcomes is not None
            df = ds.outcomes.df
            prompts = ds.prompts
            text = prompts["prompt"].astype(str)
            if "system" in prompts.columns:
                system = prompts["system"].fillna("").astype(str)
                text = text.where(system == "", system + "\n" + text)
            self._texts = (df["prompt_id"].to_numpy(dtype=object), df["response"].to_numpy(dtype=object),
                           dict(zip(prompts["prompt_id"], text)))
        return self._texts

    def matches(self, n_rows: int) -> bool:
        return n_rows == self.n

    def one(self, i: int) -> tuple[int, int]:
        """Counts for the row at ``i`` (the per-call replay path: no arrays)."""
        n_in, n_out = int(self._in[i]), int(self._out[i])
        if n_in < 0 or n_out < 0:
            ids, responses, text = self._sources()
            if n_in < 0:
                n_in = self._in[i] = count_cached([text.get(ids[i], "")])[0]
            if n_out < 0:
                r = responses[i]
                n_out = self._out[i] = count_cached([r if isinstance(r, str) else ""])[0]
        return n_in, n_out

    def get(self, positions: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Counts for all rows, or for the rows at ``positions`` (int64 arrays)."""
        idx = np.arange(self.n) if positions is None else np.asarray(positions, dtype=np.int64)
        if not self._complete:
            self._complete = bool((self._in >= 0).all() and (self._out >= 0).all())
        if self._complete:
            return self._in[idx], self._out[idx]
        todo = idx[self._in[idx] < 0]
        if todo.size:
            ids, _, text = self._sources()
            unique = pd.unique(ids[todo])
            counted = dict(zip(unique, count_cached([text.get(p, "") for p in unique])))
            self._in[todo] = [counted[p] for p in ids[todo]]
        todo = idx[self._out[idx] < 0]
        if todo.size:
            _, responses, _ = self._sources()
            self._out[todo] = count_cached([r if isinstance(r, str) else "" for r in responses[todo]])
        return self._in[idx], self._out[idx]
