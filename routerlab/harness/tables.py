"""Routing tables from an experiment's results: the decisions a strategy made, as a production table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import runtime
from ..catalog import Catalog
from ..errors import ConfigError, statuses
from ..routers.document import _provenance, model_entry, validate_document

__all__ = ["document_from_results"]

# the statuses after which the live path retries (routerlab.errors.ERROR_KINDS), so exports agree with it
_RETRY_STATUS = statuses(lambda kind: kind.retry_same)


def _rank_models(results: Any) -> list[str]:
    """Models by quality (desc), then cost per answer (asc), from the rows each model answered alone."""
    df = results.df
    single = df[(df["error_type"] == "") & (df["models_called"] == df["final_model"]) & (df["final_model"] != "")]
    stats = single.groupby("final_model").agg(quality=("score", "mean"), cost=("cost", "mean"))
    stats = stats.sort_values(["quality", "cost"], ascending=[False, True], kind="stable")
    return [str(m) for m in stats.index]


def _clean(value: Any) -> Any:
    """A JSON-safe scalar: numpy scalars unwrapped, NaN/inf as None."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()  # numpy scalar -> Python scalar
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    return str(value)


_METRICS = ("n", "quality", "quality_lo", "quality_hi", "cost", "cost_per_1k", "cost_per_correct", "latency_p50",
            "latency_p95", "latency_p99", "error_rate", "calls_per_prompt", "simulated_latency")


def document_from_results(results: Any, strategy: str, *, n_fallbacks: int = 2, catalog: Any = None,
                          tasks: Sequence[Mapping[str, Any]] | None = None, balancer: Mapping[str, Any] | None = None,
                          retry: Mapping[str, Any] | None = None, output_reserve: int = 0,
                          name: str | None = None) -> dict[str, Any]:
    """A routing table that reproduces what ``strategy`` did in ``results``.

    Per task: the model the strategy's answers came from most often. Per routed model: fallbacks are
    the ``n_fallbacks`` best other models of the results, ranked by quality then cost (from the rows each
    model answered alone); context-window fallbacks are the results' models with a larger window,
    smallest first. The default is the strategy's most used model overall. Provenance holds the data set,
    split, the strategy's ``summary()`` metrics with their confidence interval, and the same per task.
    ``tasks`` (detector patterns in order, as in the schema) lets the runtime detect tasks itself;
    without them, callers pass ``task=`` (or ``metadata.task`` for Portkey).
    """
    catalog = catalog or Catalog.default()
    if strategy not in results.strategies:
        raise ConfigError(f"unknown strategy {strategy!r}; available: {results.strategies}")
    df = results.df
    rows = df[(df["strategy"] == strategy) & (df["error_type"] == "") & (df["final_model"] != "")]
    if rows.empty:
        raise ConfigError(f"strategy {strategy!r} has no successful answers to build a table from")
    routes = {str(t): str(g["final_model"].value_counts().index[0]) for t, g in rows.groupby("task", sort=True)}
    default = str(rows["final_model"].value_counts().index[0])
    ranking = [m for m in _rank_models(results) if m in catalog] or list(dict.fromkeys([default, *routes.values()]))
    routed = list(dict.fromkeys([*routes.values(), default]))
    fallbacks = {m: [x for x in ranking if x != m][:n_fallbacks] for m in routed}
    fallbacks = {m: c for m, c in fallbacks.items() if c}
    ctx: dict[str, list[str]] = {}
    for m in routed:
        window = catalog.require(m, "context", "exporting a routing table").context_window
        bigger = sorted((x for x in ranking if x != m and catalog[x].context_window > window),
                        key=lambda x: (catalog[x].context_window, ranking.index(x)))
        if bigger:
            ctx[m] = bigger[:n_fallbacks]
    summary = results.summary()
    metrics = {k: _clean(summary.loc[strategy, k]) for k in _METRICS if k in summary.columns}
    per_task: dict[str, Any] = {}
    by_task = results.select([strategy]).summary(by="task")
    for (_, task), row in by_task.iterrows():
        per_task[str(task)] = {k: _clean(row[k]) for k in ("n", "quality", "quality_lo", "quality_hi", "cost")}
    doc: dict[str, Any] = {
        "format": runtime.FORMAT, "version": runtime.SCHEMA_VERSION, "name": name or strategy, "router": "results",
        "tasks": [dict(t) for t in tasks or ()], "routes": routes, "default": default,
        "models": {m: model_entry(m, catalog=catalog) for m in dict.fromkeys(
            [*routed, *(x for c in fallbacks.values() for x in c), *(x for c in ctx.values() for x in c)])},
        "fallbacks": fallbacks, "context_window_fallbacks": ctx, "output_reserve": int(output_reserve),
        "balancer": dict(balancer or {"strategy": "weighted", "allowed_fails": 3, "cooldown_time": 30.0}),
        "retry": dict(retry or {"num_retries": 2, "timeout": 60.0, "on_status_codes": _RETRY_STATUS}),
        "provenance": _provenance(dataset=results.meta.get("dataset"), split=results.meta.get("split", "all"),
                                  strategy=strategy, metrics=metrics, per_task=per_task,
                                  confidence_level=0.95, selection="per task, the model the strategy used most"),
    }
    return validate_document(doc, source=f"table from results of {strategy!r}")


