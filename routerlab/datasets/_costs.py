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
    source = np.full(len(df), "unknown", dtype=object)
    cost = df["cost"].to_numpy(dtype=float, na_value=np.nan).copy()
    recorded = ~np.isnan(cost)
    if "cost_source" in df.columns:  # re-pricing: only costs the data itself recorded stay
        recorded &= df["cost_source"].to_numpy(dtype=object) == "recorded"
        cost[~recorded] = np.nan
    source[recorded] = "recorded"
    codes, models = pd.factorize(df["model"])
    n_in, n_out = (df[c].to_numpy(dtype=float, na_value=np.nan) for c in ("input_tokens", "output_tokens"))
    tokens_known = ~np.isnan(n_in) & ~np.isnan(n_out)
    # prompt-cache tokens, where recorded: counted inside input_tokens and priced as ModelSpec.cost says
    cached, written = (df[c].to_numpy(dtype=float, na_value=0.0) if c in df.columns else np.zeros(len(df))
                       for c in ("cached_tokens", "cache_write_tokens"))
    todo = ~recorded
    for k, model in enumerate(models):
        if model not in catalog:
            continue
        rows = np.flatnonzero(todo & (codes == k))
        if not rows.size:
            continue
        spec = catalog[str(model)]
        known = tokens_known[rows]
        if known.all():  # recorded counts: no counting, no lookup
            c_in, c_out = n_in[rows], n_out[rows]
        else:
            c_in, c_out = token_counts(rows)
        cost[rows] = spec.cost(c_in, c_out, cached_tokens=cached[rows], cache_write_tokens=written[rows])
        source[rows] = np.where(known, "catalog", "catalog, estimated tokens")
    return df.assign(cost=cost, cost_source=pd.Categorical(source, categories=list(COST_SOURCES)))
