"""Routing-table documents: the validated JSON a production router loads, built from a table or a router.

A document is what :mod:`routerlab.runtime` loads and what :mod:`routerlab.export` turns into LiteLLM,
Portkey and env configs: a :class:`~routerlab.routers.RoutingTable` plus a ``models`` block filled in
from the catalog (provider, API id, context window, prices, the *name* of the key's variable),
provenance, and any cascade or learned-router section. Validation is the runtime's own (standard
library only), re-raised as :class:`~routerlab.errors.ConfigError` naming the field path.

Example::

    >>> doc = document({"routes": {"math": "gpt-4o-mini"}, "default": "gpt-4o"})
    >>> sorted(doc["models"]), doc["models"]["gpt-4o"]["api_key_env"]
    (['gpt-4o', 'gpt-4o-mini'], 'OPENAI_API_KEY')
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from .. import runtime
from .._version import __version__
from ..catalog import Catalog
from ..errors import ConfigError

__all__ = ["document", "document_from_router", "as_dict", "model_entry", "validate_document", "read_document",
           "KEY_ENV"]


def validate_document(doc: Any, *, source: str = "<routing table>") -> dict[str, Any]:
    """:func:`routerlab.runtime.validate` with routerlab's :class:`~routerlab.errors.ConfigError`."""
    try:
        return runtime.validate(doc, source=source)
    except runtime.RoutingTableError as exc:
        raise ConfigError(str(exc)) from None


def read_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a routing-table JSON file (errors name the file and the field path)."""
    try:
        return runtime.read_table(path)
    except runtime.RoutingTableError as exc:
        raise ConfigError(str(exc)) from None


#: Environment variable holding each provider's key (names only; never the key).
KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "groq": "GROQ_API_KEY",
           "gemini": "GEMINI_API_KEY", "openai-compatible": "OPENAI_COMPATIBLE_API_KEY"}


def _env_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def model_entry(name: str, *, catalog: Any = None, api_key_env: str | None = None,
                api_base: str | None = None) -> dict[str, Any]:
    """A table's ``models`` entry for a catalog model: provider, API id, context window, price, key variable."""
    spec = (catalog or Catalog.default()).require(name, "provider", "exporting a routing table")
    entry: dict[str, Any] = {"provider": spec.provider, "api_name": spec.api_name,
                             "context_window": int(spec.context_window), "max_output": int(spec.max_output),
                             "api_key_env": api_key_env or KEY_ENV.get(spec.provider, _env_name(spec.provider) + "_API_KEY"),
                             "price": {"input": float(spec.price.input), "output": float(spec.price.output)}}
    if api_base:
        entry["api_base"] = api_base
    return entry


def _named_models(doc: Mapping[str, Any]) -> list[str]:
    names = [doc["default"], *(doc.get("routes") or {}).values()]
    for key in ("fallbacks", "context_window_fallbacks"):
        for model, chain in (doc.get(key) or {}).items():
            names += [model, *chain]
    cascade = doc.get("cascade") or {}
    for stages in [cascade.get("stages") or [], *(cascade.get("per_task") or {}).values()]:
        names += [m for stage in stages for m in stage["models"]]
    return list(dict.fromkeys(names))


def _provenance(**extra: Any) -> dict[str, Any]:
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return {"routerlab_version": __version__, "created": now, **{k: v for k, v in extra.items() if v is not None}}


def as_dict(table: Any) -> dict[str, Any]:
    """A JSON-clean copy of a routing table given as a RoutingTable, a mapping, or a JSON file path."""
    if isinstance(table, (str, os.PathLike)):
        return read_document(table)
    if hasattr(table, "to_dict") and not isinstance(table, Mapping):  # a RoutingTable
        return json.loads(json.dumps(table.to_dict()))
    if isinstance(table, Mapping):
        return json.loads(json.dumps(dict(table)))
    raise ConfigError(f"cannot export a {type(table).__name__}: pass a RoutingTable, a mapping or a JSON path")


def document(table: Any, *, catalog: Any = None, api_base: Mapping[str, str] | str | None = None,
             live: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A validated routing-table document from a RoutingTable, a mapping, or a JSON file path.

    A mapping may be partial: ``format``/``version`` are filled in, and models it names but does not
    define are looked up in the catalog. ``api_base`` (one URL, or model → URL) sets where each model
    is served (a gateway, a self-hosted endpoint, the local test server). ``live`` holds a Gateway's
    sections (``models`` with deployments, ``fallbacks``, ``balancer``, ``retry``; see
    :func:`routerlab.export.from_gateway`): its models and settings win, the table's fallbacks win.
    ``fields`` override top-level fields (``balancer=...``, ``retry=...``, ``name=...``). Raises
    :class:`~routerlab.errors.ConfigError` naming the field path when the result is not a valid table.
    """
    raw = as_dict(table)
    if live:
        raw["models"] = {**(raw.get("models") or {}), **(live.get("models") or {})}
        raw["fallbacks"] = {**(live.get("fallbacks") or {}), **(raw.get("fallbacks") or {})}
        raw.update({k: v for k, v in live.items() if k not in ("models", "fallbacks")})
    raw.update(fields)
    raw.setdefault("format", runtime.FORMAT)
    raw.setdefault("version", runtime.SCHEMA_VERSION)
    if "default" not in raw:
        raise ConfigError("default: is required (the model for prompts no task matches)")
    models = dict(raw.get("models") or {})
    for name in _named_models(raw):
        if name not in models:
            models[name] = model_entry(name, catalog=catalog)
    if api_base is not None:
        for name, entry in models.items():
            url = api_base if isinstance(api_base, str) else api_base.get(name)
            if url:
                models[name] = {**entry, "api_base": url}
    raw["models"] = models
    raw.setdefault("provenance", _provenance())
    return validate_document(raw)


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
    if hasattr(router, "acceptors_"):  # FrugalCascade
        raise ConfigError(f"{type(router).__name__} is not exportable: its acceptance model reads the cheap answers; "
                          "export its stages with CascadeRouter(cascade.stages_) (agreement acceptance) instead")
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
        raise ConfigError(f"{type(router).__name__} (a learned router) is not exportable as a table; "
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
    thresholds = {"lam": float(router.lam_), "cost_scale": float(getattr(router, "cost_scale_", 1.0))}
    thresholds.update({key: float(getattr(router, key)) for key in ("k", "prior") if hasattr(router, key)})
    what = "kNN over prompt embeddings" if hasattr(router, "k") else f"{type(router).__name__} over prompt features"
    return {
        "name": getattr(router, "name", "learned"), "router": "learned", "routes": routes,
        "default": max(overall, key=lambda m: (overall[m], m)),
        "learned": {"kind": type(router).__name__, "exportable": False, "thresholds": thresholds,
                    "params": {"candidates": [str(m) for m in router.models_]},
                    "note": (f"{what}: the exact decision needs the fitted model, so the "
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


