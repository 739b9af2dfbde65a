"""Routing tables from an experiment's results and from notebook routers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from ..runtime import FORMAT, SCHEMA_VERSION, validate
from ._document import _provenance, document, model_entry

__all__ = ["document_from_results", "document_from_router"]

_RETRY_STATUS = [429, 500, 502, 503, 504]


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
    if catalog is None:
        from ..catalog import Catalog

        catalog = Catalog.default()
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
        window = catalog[m].context_window
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
        "format": FORMAT, "version": SCHEMA_VERSION, "name": name or strategy, "router": "results",
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
    return validate(doc, source=f"table from results of {strategy!r}")


def _task_router_document(router: Any) -> dict[str, Any]:
    table = router.routing_table
    raw = dict(table.to_dict())
    patterns = router._patterns() if hasattr(router, "_patterns") else getattr(table, "patterns", {})
    # routerlab's TaskMatcher matches case-insensitively, first task (in order) with a hit wins
    raw["tasks"] = [{"task": t, "patterns": list(p), "flags": ["IGNORECASE"]} for t, p in patterns.items()]
    raw["default_task"] = getattr(router, "default_task", None)
    raw["router"] = "task"
    raw["name"] = getattr(router, "name", "task")
    task_field = getattr(router, "task_field", None)
    if task_field:
        prov = dict(raw.get("provenance") or {})
        prov["task_field"] = task_field
        prov["note"] = (f"the notebook router used the request's {task_field!r} label when present: pass it as "
                        "Router.route(prompt, task=...) (metadata.task for Portkey)")
        raw["provenance"] = prov
    return raw


def _cascade_document(router: Any) -> dict[str, Any]:
    """CascadeRouter: its stages (given or fitted) and signal; each task routes to its first-stage model
    and falls back along its later stages. Escalation itself needs the answers, so it stays with the
    caller: ``Router.cascade(task)`` gives the stages."""
    plan = getattr(router, "stages_", None) or (router._plan(router.stages) if router.stages is not None else None)
    if not plan:
        raise ConfigError("CascadeRouter has no stages to export: pass stages=[...] or fit it first")
    signal = router._signal()
    stages = {t: [{"models": list(group)} for group in groups] for t, groups in plan.items()}
    cascade: dict[str, Any] = {"signal": getattr(signal, "name", type(signal).__name__),
                               "stages": stages.get("*") or next(iter(stages.values()))}
    if getattr(signal, "min_votes", None) is not None:
        cascade["min_votes"] = int(signal.min_votes)
    judge = getattr(signal, "judge", None)
    if judge is not None:
        cascade["judge"] = str(getattr(judge, "model", None) or getattr(judge, "label", judge))
    per_task = {t: s for t, s in stages.items() if t != "*"}
    if per_task:
        cascade["per_task"] = per_task
    routes = {t: groups[0][0] for t, groups in plan.items() if t != "*"}
    default = plan["*"][0][0] if "*" in plan else next(iter(routes.values()))
    fallbacks: dict[str, list[str]] = {}
    for groups in plan.values():
        first, later = groups[0][0], [m for g in groups for m in g]
        chain = fallbacks.setdefault(first, [])
        chain += [m for m in later if m != first and m not in chain]
    return {"name": getattr(router, "name", "cascade"), "router": "cascade", "routes": routes, "default": default,
            "fallbacks": {m: c for m, c in fallbacks.items() if c}, "cascade": cascade}


def _inner_document(router: Any, data: Any) -> dict[str, Any]:
    if hasattr(router, "stages_for") and hasattr(router, "answer"):
        return _cascade_document(router)
    if hasattr(router, "routing_table") and hasattr(router, "detect_task"):
        return _task_router_document(router)
    model = getattr(router, "model", None)
    if isinstance(model, str) and model:
        return {"name": getattr(router, "name", "fixed"), "router": "fixed", "default": model}
    if hasattr(router, "lam_") or hasattr(router, "models_"):
        return _learned_document(router, data)
    for attr in ("to_document", "to_table"):
        make = getattr(router, attr, None)
        if callable(make):
            made = make()
            return dict(made) if isinstance(made, Mapping) else json.loads(json.dumps(made.to_dict()))
    table = getattr(router, "routing_table", None)
    if table is not None:
        return json.loads(json.dumps(table.to_dict()))
    raise ConfigError(f"{type(router).__name__} cannot be exported as a routing table: its decision is not a "
                      "table lookup (no routing_table, to_table() or fixed model)")


def _context_document(router: Any, data: Any) -> dict[str, Any]:
    """ContextWindowRouter: the inner table, plus for each model the candidates it would try when the
    prompt does not fit (the inner decision's ranked scores: the model's fallbacks, then the wrapper's
    ``fallbacks``) and ``output_reserve`` = its output budget."""
    raw = _inner_document(router.router, data)
    extra = list(getattr(router, "fallbacks", ()) or ())
    fallbacks = raw.get("fallbacks") or {}
    routed = list(dict.fromkeys([*(raw.get("routes") or {}).values(), raw["default"]]))
    ctx = {}
    for m in routed:
        chain = [x for x in dict.fromkeys([*fallbacks.get(m, ()), *extra]) if x != m]
        if chain:
            ctx[m] = chain
    raw["context_window_fallbacks"] = ctx
    raw["output_reserve"] = int(router.max_output_tokens)
    raw["name"] = getattr(router, "name", raw.get("name"))
    return raw


def _learned_document(router: Any, data: Any) -> dict[str, Any]:
    """A kNN-over-embeddings router is not exportable as a table: its decision needs the fitted train
    embeddings. What is exported: its thresholds (λ, k, prior, cost scale) and, given ``data``, the
    per-task decision table it reduces to on that data (per task, the model it picked most), with the
    share of prompts on which that table agrees with the router."""
    if not hasattr(router, "models_"):
        raise ConfigError(f"{type(router).__name__} is not fitted: fit it before exporting")
    if data is None:
        raise ConfigError(f"{type(router).__name__} (kNN over prompt embeddings) is not exportable as a table; "
                          "pass data=<Dataset> to export the per-task decision table it reduces to on that data")
    prompts = data.prompts
    picks = [str(m) for m in router.route_many(prompts)]
    counts: dict[str, dict[str, int]] = {}
    for task, model in zip(prompts["task"].astype(str), picks):
        counts.setdefault(task, {}).setdefault(model, 0)
        counts[task][model] += 1
    routes = {t: max(c, key=lambda m: (c[m], m)) for t, c in sorted(counts.items())}
    overall: dict[str, int] = {}
    for model in picks:
        overall[model] = overall.get(model, 0) + 1
    agree = sum(routes[t] == m for t, m in zip(prompts["task"].astype(str), picks)) / max(len(picks), 1)
    thresholds = {"lam": float(router.lam_), "k": float(router.k), "prior": float(router.prior),
                  "cost_scale": float(getattr(router, "cost_scale_", 1.0))}
    return {
        "name": getattr(router, "name", "learned"), "router": "learned", "routes": routes,
        "default": max(overall, key=lambda m: (overall[m], m)),
        "learned": {"kind": type(router).__name__, "exportable": False, "thresholds": thresholds,
                    "params": {"candidates": [str(m) for m in router.models_]},
                    "note": ("kNN over prompt embeddings: the exact decision needs the train embeddings, so the "
                             f"table holds the per-task decisions it reduces to on {getattr(data, 'name', 'the data')}"
                             f" (agreeing with the router on {agree:.1%} of those prompts); route with task=...")},
        "provenance": {"dataset": getattr(data, "name", None), "agreement": agree},
    }


def document_from_router(router: Any, *, data: Any = None, **kwargs: Any) -> dict[str, Any]:
    """A routing table from a notebook router, making the same decisions in :mod:`routerlab.runtime`.

    ``TaskRouter``: its (fitted or given) table, its patterns in priority order, its ``default_task``.
    ``ContextWindowRouter``: its inner router's table plus context-window fallbacks and output budget.
    ``FixedRouter``: one model. ``CascadeRouter``: per task its first stage (what ``route`` returns), the
    later stages as fallbacks, and every stage and the signal under ``cascade``. ``LearnedRouter`` (kNN over embeddings) is not exactly exportable: with
    ``data=`` its per-task decision table on that data and its thresholds (see ``learned.note``).
    Anything with ``to_document()`` / ``to_table()`` / ``routing_table``: that. ``kwargs`` go to
    :func:`document` (``catalog``, ``api_base``, ``balancer=``, ``retry=`` ...).
    """
    if hasattr(router, "router") and hasattr(router, "max_output_tokens"):
        raw = _context_document(router, data)
    else:
        raw = _inner_document(router, data)
    return document(raw, **kwargs)


