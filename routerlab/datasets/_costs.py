"""Where each outcome's cost comes from: recorded cost wins, catalog list prices only fill gaps."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..catalog import Catalog

__all__ = ["COST_SOURCES", "resolve_costs"]

#: The values of the outcomes' ``cost_source`` column.
COST_SOURCES = ("recorded", "catalog", "catalog, estimated tokens", "unknown")


def resolve_costs(df: pd.DataFrame, catalog: Catalog,
                  token_counts: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """``df`` with ``cost`` (USD per call) and ``cost_source`` filled for every row.

    A recorded cost is kept as recorded. A row without one, of a model the catalog prices, costs
    list price × tokens (``ModelSpec.cost``; cached tokens at the cached price when the data records
    ``cached_tokens``): ``catalog`` when both token counts are recorded, ``catalog, estimated tokens``
    when cl100k had to count them (``token_counts(positions)``). Anything else stays NaN,
    ``unknown``: a model the catalog does not know, with no recorded cost.
    """
    out = df.copy()
    source = np.full(len(out), "unknown", dtype=object)
    recorded_src = out["cost_source"].to_numpy(dtype=object) if "cost_source" in out.columns else None
    cost = out["cost"].to_numpy(dtype=float, na_value=np.nan).copy()
    recorded = ~np.isnan(cost)
    if recorded_src is not None:  # re-pricing: only costs the data itself recorded stay
        recorded &= recorded_src == "recorded"
        cost[~recorded] = np.nan
    source[recorded] = "recorded"
    models = out["model"].to_numpy(dtype=object)
    tokens_known = (out["input_tokens"].notna() & out["output_tokens"].notna()).to_numpy()
    cached = (out["cached_tokens"].fillna(0).to_numpy(dtype=float) if "cached_tokens" in out.columns
              else np.zeros(len(out)))
    for model in pd.unique(models[~recorded]):
        if model not in catalog:
            continue
        rows = np.flatnonzero(~recorded & (models == model))
        n_in, n_out = token_counts(rows)
        cost[rows] = catalog[str(model)].cost(n_in, n_out, cached_tokens=cached[rows])
        source[rows] = np.where(tokens_known[rows], "catalog", "catalog, estimated tokens")
    out["cost"] = cost
    out["cost_source"] = pd.Categorical(source, categories=list(COST_SOURCES))
    return out
