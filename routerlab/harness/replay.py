"""The vectorised replay of prompt-only routers: decisions as integer codes, then gathers from the outcomes.

A replay of one router over a million prompts is: the router's decisions as a Categorical
(:meth:`~routerlab.routers.BaseRouter.route_codes`: codes into the few models it picks), the model codes
mapped once onto the outcomes' model index, one gather through the dense (prompt × model × sample)
position array, and gathers of each outcome row's tokens, cost, latency, score and answer
(:meth:`~routerlab.providers.replay.ReplayCaller.complete_many`). Strings are turned into integers once
per data set and batch, never per strategy, so a threshold sweep's dozens of replays over one
:class:`~routerlab.routers.Batch` cost a gather each.

Example::

    >>> from routerlab import datasets
    >>> from routerlab.providers.replay import ReplayCaller
    >>> from routerlab.routers import Batch, FixedRouter
    >>> ds = datasets.load("zeroeval")
    >>> batch = Batch.of(ds.prompts)                       # shared by every router replayed on it
    >>> rows = replay_rows("mini", FixedRouter("gpt-4o-mini"), ReplayCaller(ds), batch)
    >>> len(rows) == len(ds), float(rows["score"].mean()) > 0.5
    (True, True)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, RouterlabError
from ..providers.replay import ReplayCaller
from ..routers.base import Batch, decisions
from . import schema

__all__ = ["replay_rows", "replay_curve", "coded_decisions"]


def coded_decisions(router: Any, batch: Batch) -> pd.Categorical:
    """A prompt-only router's decisions over ``batch`` as a Categorical (``route_codes`` when it has one,
    else its ``route_many`` of the prompts DataFrame, factorised)."""
    codes = getattr(router, "route_codes", None)
    if callable(codes):
        return codes(batch)
    given = batch.frame if batch.frame is not None else batch.requests
    return pd.Categorical(np.asarray(router.route_many(given), dtype=object))


def replay_rows(name: str, router: Any, caller: ReplayCaller, prompts: pd.DataFrame | Batch,
                samples: np.ndarray | int = 0, split: str = "all", *,
                prompt_codes: np.ndarray | None = None) -> pd.DataFrame:
    """The rows of a prompt-only router replayed over ``prompts``, in one vectorised pass.

    ``prompts``: a prompts DataFrame (``prompt_id``, ``task``, ``prompt``, ...) or a
    :class:`~routerlab.routers.Batch` of one (pass the same Batch to replay many routers: what they derive
    from the prompts is computed once). ``samples``: the sample index per row (or one for all).
    ``prompt_codes``: the rows' codes in the outcomes' prompt index, when already known.

    Returns result rows (:mod:`~routerlab.harness.schema`'s columns; constant text columns and the model
    columns as categoricals) equal, once normalised, to what the per-prompt path records; a decision
    without a recorded outcome is a row with the error and the schema's fill values. Raises
    :class:`~routerlab.errors.ConfigError` when the router returns the wrong number of decisions.
    """
    batch = Batch.of(prompts)
    n = len(batch)
    samples = np.broadcast_to(np.asarray(samples, dtype=np.int64), (n,))
    decided = coded_decisions(router, batch)
    if len(decided) != n:
        raise ConfigError(f"{name}: route_many returned {len(decided)} decisions for {n} prompts")
    models = decisions(decided.codes, [caller.catalog.canonical(str(m), strict=False) for m in decided.categories])
    pc = caller.prompt_codes(batch) if prompt_codes is None else np.asarray(prompt_codes)
    pos = caller.positions(pc, models, samples)
    ok = pos >= 0
    every = bool(ok.all())
    got = caller.complete_many(positions=pos if every else pos[ok], samples=samples if every else samples[ok],
                               columns=())
    found = int(ok.sum())

    def full(column: str, values: np.ndarray | None = None) -> np.ndarray:
        """``values`` for the rows with an outcome, the schema's fill value for the others."""
        fill = schema.FILL[column]
        dtype = object if fill is None else schema.DTYPES[column]
        if values is None:
            values = np.full(found, fill, dtype=dtype)
        if every:
            return values
        out = np.full(n, fill, dtype=dtype)
        out[ok] = values
        return out

    def const(value: str) -> pd.Categorical:
        return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[value])

    frame = batch.frame
    out = schema.frame({
        "strategy": const(name), "sample": np.array(samples, dtype=np.int64), "split": const(split),
        "prompt_id": frame["prompt_id"].array if frame is not None else batch.prompt_ids,
        "task": frame["task"].array if frame is not None and "task" in frame.columns else batch.tasks,
        "models_called": models, "final_model": models,
        **{c: full(c, got.get(c)) for c in ("answer", "score", "input_tokens", "output_tokens", "cost", "latency",
                                            "ttft", "simulated_latency")},
        "cached": np.zeros(n, dtype=bool), "error_type": const(""), "error": const(""),
    })
    if not every:
        _explain_missing(out, caller, ~ok, decided, samples)
    return out


def _explain_missing(out: pd.DataFrame, caller: ReplayCaller, missing: np.ndarray, decided: pd.Categorical,
                     samples: np.ndarray) -> None:
    """Each decision without a recorded outcome becomes a row that says what is missing (as on the
    per-prompt path)."""
    blank = ["final_model", "models_called"]
    for col in ("error_type", "error", *blank):
        out[col] = out[col].astype(object)
    names = np.asarray(decided, dtype=object)
    for i in np.flatnonzero(missing):
        model = out.at[i, "final_model"]
        try:
            caller.outcomes.record(str(out.at[i, "prompt_id"]), str(model if isinstance(model, str) else names[i]),
                                   int(samples[i]))
        except RouterlabError as exc:
            out.loc[i, ["error_type", "error", *blank]] = [type(exc).__name__, str(exc),
                                                           *(schema.FILL[c] for c in blank)]


def replay_curve(router: Any, param: str, values: Sequence[Any], caller: ReplayCaller, prompts: Any, *,
                 samples: np.ndarray | int = 0) -> pd.DataFrame:
    """A sweep of one parameter of a prompt-only router (a threshold, a weight): one operating point per value.

    Each value is a replay of a copy of ``router`` with ``param`` set to it (``set_params``, else the
    attribute; the router itself is left unchanged) over ``prompts`` (a Dataset, a prompts DataFrame or a
    :class:`~routerlab.routers.Batch`), aggregated without building result rows, so a curve of dozens of
    points over a million prompts takes seconds.

    Returns one row per value: ``<param>``, ``quality`` (mean recorded score of the calls with an outcome),
    ``cost`` (USD summed over them), ``cost_per_prompt`` (USD), ``answered`` (calls with a recorded
    outcome), ``n`` (calls), ``top_model`` and ``top_share`` (the model picked most and its share).

    Example::

        >>> from routerlab import datasets
        >>> from routerlab.providers.replay import ReplayCaller
        >>> from routerlab.routers import RandomRouter
        >>> ds = datasets.load("zeroeval")
        >>> mix = RandomRouter(["gpt-4o-mini", "gpt-4o"], weights=[1.0, 0.0])
        >>> curve = replay_curve(mix, "weights", [[1, 0], [0.8, 0.2], [0, 1]], ReplayCaller(ds), ds)
        >>> curve["top_model"].tolist()
        ['gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o']
    """
    batch = Batch.of(prompts)
    n = len(batch)
    samples = np.broadcast_to(np.asarray(samples, dtype=np.int64), (n,))
    pc = caller.prompt_codes(batch)
    rows = []
    for value in values:
        point = copy.copy(router)
        if callable(getattr(point, "set_params", None)):
            point.set_params(**{param: value})
        else:
            setattr(point, param, value)
        decided = coded_decisions(point, batch)
        models = decisions(decided.codes, [caller.catalog.canonical(str(m), strict=False) for m in decided.categories])
        pos = caller.positions(pc, models, samples)
        pos = pos[pos >= 0]
        score, cost = caller.values("score", pos), caller.values("cost", pos)
        counts = np.bincount(np.asarray(models.codes[models.codes >= 0], dtype=np.int64),
                             minlength=len(models.categories))
        top = int(np.argmax(counts)) if len(counts) else -1
        rows.append({param: value, "quality": float(np.nanmean(score)) if len(pos) else np.nan,
                     "cost": float(np.nansum(cost)), "cost_per_prompt": float(np.nansum(cost)) / max(n, 1),
                     "answered": int(len(pos)), "n": n, "top_model": str(models.categories[top]) if top >= 0 else None,
                     "top_share": float(counts[top] / max(n, 1)) if top >= 0 else np.nan})
    return pd.DataFrame(rows)
