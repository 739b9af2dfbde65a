"""Routing tables to production configs: LiteLLM proxy, Portkey gateway, an env file, routerlab JSON.

A routing table (``routerlab/data/routing_table.schema.json``, version 1) is plain JSON: task patterns
in order, task → model, the default, per-model fallbacks, context-window fallbacks, cascade stages,
learned-router thresholds, balancer and retry settings, and provenance. Build one from an experiment
(:func:`document_from_results`) or a notebook router (:func:`document_from_router`), then export it:

============  =====================================================================================
``litellm``   LiteLLM proxy ``config.yaml``: one ``model_name`` per routed role (task) and per model,
              ``router_settings`` with fallbacks, context-window fallbacks, retries, cooldowns
``portkey``   Portkey gateway config: conditional routing on ``metadata.task`` into fallback chains
              of (load-balanced) targets
``env``       ``MATH_MODEL=gpt-4o-mini`` lines, one role per task, plus ``*_FALLBACKS``
``json``      routerlab's own table, what :class:`routerlab.runtime.Router` loads
============  =====================================================================================

Keys never appear in an export: a model names the environment variable that holds its key
(``api_key: os.environ/OPENAI_API_KEY`` for LiteLLM, a Portkey integration slug for Portkey), and
:func:`write` refuses to write a file that contains the value of any of those variables.

Example::

    >>> from routerlab import export
    >>> doc = export.document({"routes": {"math": "gpt-4o-mini"}, "default": "gpt-4o"})
    >>> cfg = export.to_litellm(doc)
    >>> [m["model_name"] for m in cfg["model_list"]]
    ['math', 'default', 'gpt-4o', 'gpt-4o-mini']
    >>> cfg["model_list"][0]["litellm_params"]["api_key"]
    'os.environ/OPENAI_API_KEY'
    >>> print(export.to_env(doc).splitlines()[-2])
    MATH_MODEL=gpt-4o-mini
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, RouterlabError
from .runtime import FORMAT, SCHEMA_VERSION, read_table, validate

__all__ = [
    "document", "document_from_results", "document_from_router", "model_entry",
    "to_litellm", "to_portkey", "to_env", "to_json", "write", "export_main", "FORMATS", "KEY_ENV",
]

#: Environment variable holding each provider's key (names only; never the key).
KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "groq": "GROQ_API_KEY",
           "gemini": "GEMINI_API_KEY", "openai-compatible": "OPENAI_COMPATIBLE_API_KEY"}
_LITELLM_PROVIDER = {"openai-compatible": "openai"}
_LITELLM_STRATEGY = {"weighted": "simple-shuffle", "simple-shuffle": "simple-shuffle", "best": "simple-shuffle",
                     "round-robin": "simple-shuffle", "least-latency": "latency-based-routing",
                     "least-busy": "least-busy"}
_RETRY_STATUS = [429, 500, 502, 503, 504]
FORMATS = {"litellm": "litellm_config.yaml", "portkey": "portkey_config.json", "env": "routing.env",
           "json": "routing_table.json"}


# --------------------------------------------------------------------------------------- documents
def model_entry(name: str, *, catalog: Any = None, api_key_env: str | None = None,
                api_base: str | None = None) -> dict[str, Any]:
    """A table's ``models`` entry for a catalog model: provider, API id, context window, price, key variable."""
    if catalog is None:
        from .catalog import Catalog

        catalog = Catalog.default()
    spec = catalog[name]
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
    from . import __version__

    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return {"routerlab_version": __version__, "created": now, **{k: v for k, v in extra.items() if v is not None}}


def document(table: Any, *, catalog: Any = None, api_base: Mapping[str, str] | str | None = None,
             **fields: Any) -> dict[str, Any]:
    """A validated routing-table document from a RoutingTable, a mapping, or a JSON file path.

    A mapping may be partial: ``format``/``version`` are filled in, and models it names but does not
    define are looked up in the catalog. ``api_base`` (one URL, or model → URL) sets where each model
    is served (a gateway, a self-hosted endpoint, the local test server). ``fields`` override top-level
    fields (``balancer=...``, ``retry=...``, ``name=...``).
    """
    if isinstance(table, (str, os.PathLike)):
        raw: dict[str, Any] = read_table(table)
    elif hasattr(table, "to_document"):
        raw = dict(table.to_document())
    elif hasattr(table, "to_dict") and not isinstance(table, Mapping):  # a RoutingTable
        raw = json.loads(json.dumps(table.to_dict()))
    elif isinstance(table, Mapping):
        raw = json.loads(json.dumps(dict(table)))  # a deep, JSON-clean copy
    else:
        raise ConfigError(f"cannot export a {type(table).__name__}: pass a RoutingTable, a mapping or a JSON path")
    raw.update(fields)
    raw.setdefault("format", FORMAT)
    raw.setdefault("version", SCHEMA_VERSION)
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
    return validate(raw)


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
        from .catalog import Catalog

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


# --------------------------------------------------------------------------------------- exporters
def _env_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def _roles(doc: Mapping[str, Any]) -> dict[str, str]:
    """role alias → model: one per routed task, in table order, then ``default``."""
    order = [t["task"] for t in doc.get("tasks") or ()]
    routes = doc.get("routes") or {}
    roles = {t: routes[t] for t in [*order, *routes] if t in routes}
    roles["default"] = doc["default"]
    clash = sorted(set(roles) & set(doc["models"]))
    if clash:
        raise ConfigError(f"routes: task name(s) {clash} are also model names; rename the task(s) so the "
                          "exported aliases are unambiguous")
    return roles


def _deployments(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    deps = spec.get("deployments")
    if not deps:
        return [{"name": None, "api_base": spec.get("api_base"), "api_key_env": spec.get("api_key_env"), "weight": None}]
    return [{"name": d["name"], "api_base": d.get("api_base", spec.get("api_base")),
             "api_key_env": d.get("api_key_env", spec.get("api_key_env")), "weight": d.get("weight")} for d in deps]


def _litellm_params(spec: Mapping[str, Any], dep: Mapping[str, Any]) -> dict[str, Any]:
    provider = _LITELLM_PROVIDER.get(spec["provider"], spec["provider"])
    params: dict[str, Any] = {"model": f"{provider}/{spec['api_name']}"}
    key_env = dep.get("api_key_env") or KEY_ENV.get(spec["provider"])
    if key_env:
        params["api_key"] = f"os.environ/{key_env}"
    if dep.get("api_base"):
        params["api_base"] = dep["api_base"]
    if dep.get("weight") is not None:
        params["weight"] = dep["weight"]
    return params


def to_litellm(table: Any, **kwargs: Any) -> dict[str, Any]:
    """A LiteLLM proxy config (a dict; :func:`write` renders it as ``config.yaml``).

    ``model_list`` holds one entry per routed role (the task names and ``default``) and one per model
    (so fallback targets resolve), several per model when it has several deployments (LiteLLM
    balances entries that share a ``model_name``). ``router_settings`` carries ``fallbacks`` and
    ``context_window_fallbacks`` (for roles and models), ``num_retries``, ``timeout``, ``allowed_fails``,
    ``cooldown_time`` and ``routing_strategy``; ``litellm.Router(model_list=..., **router_settings)``
    accepts it as is.
    """
    doc = document(table, **kwargs)
    roles = _roles(doc)
    models = doc["models"]
    model_list: list[dict[str, Any]] = []
    for alias, model in [*roles.items(), *((m, m) for m in models)]:
        spec = models[model]
        for dep in _deployments(spec):
            info: dict[str, Any] = {"routerlab_model": model}
            if alias != model:
                info["routerlab_role"] = alias
            if dep["name"]:
                info["deployment"] = dep["name"]
            model_list.append({"model_name": alias, "litellm_params": _litellm_params(spec, dep), "model_info": info})

    def chains(key: str) -> list[dict[str, list[str]]]:
        table_chains = doc.get(key) or {}
        out = [{alias: list(table_chains[m])} for alias, m in roles.items() if table_chains.get(m)]
        return out + [{m: list(c)} for m, c in table_chains.items() if c]

    balancer, retry = doc.get("balancer") or {}, doc.get("retry") or {}
    settings: dict[str, Any] = {
        "routing_strategy": _LITELLM_STRATEGY[balancer.get("strategy", "weighted")],
        "num_retries": int(retry.get("num_retries", 2)),
        "timeout": float(retry.get("timeout", 60.0)),
        "allowed_fails": int(balancer.get("allowed_fails", 3)),
        "cooldown_time": float(balancer.get("cooldown_time", 30.0)),
        "fallbacks": chains("fallbacks"),
        "context_window_fallbacks": chains("context_window_fallbacks"),
    }
    return {"model_list": model_list, "router_settings": settings, "litellm_settings": {"drop_params": True}}


def _portkey_target(spec: Mapping[str, Any]) -> dict[str, Any]:
    deps = _deployments(spec)

    def one(dep: Mapping[str, Any]) -> dict[str, Any]:
        # an "@slug" names a Portkey integration that holds the key; the key itself is never exported
        t: dict[str, Any] = {"provider": f"@{dep['name'] or spec['provider']}",
                             "override_params": {"model": spec["api_name"]}}
        if dep.get("api_base"):
            t["custom_host"] = dep["api_base"]
        if dep.get("weight") is not None:
            t["weight"] = dep["weight"]
        return t

    if len(deps) == 1:
        return one(deps[0])
    return {"strategy": {"mode": "loadbalance"}, "targets": [{**one(d), "weight": d.get("weight") or 1} for d in deps]}


def to_portkey(table: Any, **kwargs: Any) -> dict[str, Any]:
    """A Portkey gateway config: ``conditional`` on ``metadata.task`` → one named target per role, each
    a ``fallback`` chain (the routed model, then its fallbacks) whose members are ``loadbalance`` groups
    when a model has several deployments. Send ``metadata: {"task": router.detect_task(prompt)}`` with
    each request (Portkey cannot run the table's regexes). Context-window fallbacks have no Portkey
    equivalent and are left to the runtime.
    """
    doc = document(table, **kwargs)
    roles = _roles(doc)
    models = doc["models"]
    retry = doc.get("retry") or {}
    codes = list(retry.get("on_status_codes") or _RETRY_STATUS)
    targets = []
    for alias, model in roles.items():
        chain = [model, *(doc.get("fallbacks") or {}).get(model, ())]
        targets.append({"name": alias, "strategy": {"mode": "fallback", "on_status_codes": codes},
                        "targets": [_portkey_target(models[m]) for m in chain]})
    conditions = [{"query": {"metadata.task": {"$eq": alias}}, "then": alias} for alias in roles if alias != "default"]
    cfg: dict[str, Any] = {"strategy": {"mode": "conditional", "conditions": conditions, "default": "default"},
                           "targets": targets}
    if retry.get("num_retries"):
        cfg["retry"] = {"attempts": min(int(retry["num_retries"]), 5), "on_status_codes": codes}  # Portkey's cap
    if retry.get("timeout"):
        cfg["request_timeout"] = int(float(retry["timeout"]) * 1000)
    return cfg


def to_env(table: Any, **kwargs: Any) -> str:
    """An env file: ``<TASK>_MODEL=<model>`` per routed task and ``DEFAULT_MODEL``, ``<TASK>_FALLBACKS``
    (comma-separated), and a header naming the key variables to set (never their values)."""
    doc = document(table, **kwargs)
    prov = doc.get("provenance") or {}
    keys = sorted({d["api_key_env"] for s in doc["models"].values() for d in _deployments(s) if d["api_key_env"]})
    lines = [f"# routerlab routing table {doc.get('name') or ''!s} (format {FORMAT} v{doc['version']})".replace("  ", " "),
             f"# data set: {prov.get('dataset') or '-'}, split: {prov.get('split') or '-'}, "
             f"created: {prov.get('created') or '-'}, routerlab {prov.get('routerlab_version') or '-'}",
             f"# keys are not here: set {', '.join(keys) or 'your provider keys'} in the environment"]
    fallbacks = doc.get("fallbacks") or {}
    for alias, model in _roles(doc).items():
        if fallbacks.get(model):
            lines.append(f"{_env_name(alias)}_FALLBACKS={','.join(fallbacks[model])}")
        lines.append(f"{_env_name(alias)}_MODEL={model}")
    return "\n".join(lines) + "\n"


def to_json(table: Any, **kwargs: Any) -> str:
    """routerlab's own JSON (validated; what :class:`routerlab.runtime.Router` loads)."""
    return json.dumps(document(table, **kwargs), indent=2) + "\n"


def _render(fmt: str, doc: Mapping[str, Any]) -> str:
    if fmt == "litellm":
        import yaml

        prov = doc.get("provenance") or {}
        head = (f"# LiteLLM proxy config exported by routerlab {prov.get('routerlab_version', '')} on "
                f"{prov.get('created', '')}\n# from routing table {doc.get('name') or '-'!s}; data set "
                f"{prov.get('dataset') or '-'}, split {prov.get('split') or '-'}. Keys: os.environ/ references only.\n")
        return head + yaml.safe_dump(to_litellm(doc), sort_keys=False, width=120)
    if fmt == "portkey":
        return json.dumps(to_portkey(doc), indent=2) + "\n"
    if fmt == "env":
        return to_env(doc)
    if fmt == "json":
        return to_json(doc)
    raise ConfigError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")


def _secret_values(doc: Mapping[str, Any]) -> dict[str, str]:
    names = {d["api_key_env"] for s in doc["models"].values() for d in _deployments(s) if d["api_key_env"]}
    names |= set(KEY_ENV.values())
    return {n: os.environ[n] for n in names if len(os.environ.get(n, "")) >= 8}


def write(table: Any, out: str | os.PathLike[str], formats: Iterable[str] = tuple(FORMATS),
          **kwargs: Any) -> dict[str, Path]:
    """Write the exports into directory ``out`` (file names in :data:`FORMATS`); returns format → path.

    Before writing, every file is checked for the value of each key variable the table names (and the
    usual provider variables): a file that would contain a key is not written (ConfigError).
    """
    doc = document(table, **kwargs)
    secrets = _secret_values(doc)
    texts = {}
    for fmt in formats:
        text = _render(fmt, doc)
        leaked = [n for n, v in secrets.items() if v in text]
        if leaked:
            raise ConfigError(f"refusing to write the {fmt} export: it would contain the value of {leaked}")
        texts[fmt] = text
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fmt, text in texts.items():
        path = directory / FORMATS[fmt]
        path.write_text(text, encoding="utf-8")
        paths[fmt] = path
    return paths


# --------------------------------------------------------------------------------------- CLI
def export_main(argv: Sequence[str] | None = None) -> int:
    """``routerlab export``: a routing table (JSON) or an experiment's results to production configs.

    Examples::

        routerlab export routing_table.json --to litellm --to env -o deploy/
        routerlab export --results runs/zeroeval.parquet --strategy task-router -o deploy/
    """
    parser = argparse.ArgumentParser(prog="routerlab export", description=export_main.__doc__.split("\n\n")[0])
    parser.add_argument("table", nargs="?", help="a routing-table JSON file")
    parser.add_argument("--results", help="build the table from a results file (parquet or csv) instead")
    parser.add_argument("--strategy", help="with --results: the strategy whose decisions to export")
    parser.add_argument("--to", action="append", choices=[*FORMATS, "all"], help="format(s); default: all")
    parser.add_argument("-o", "--out", default=".", help="output directory (default: .)")
    parser.add_argument("--api-base", help="serve every model from this base URL (e.g. a local server)")
    parser.add_argument("--fallbacks", type=int, default=2, help="with --results: fallbacks per model (2)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    formats = list(FORMATS) if not args.to or "all" in args.to else list(dict.fromkeys(args.to))
    try:
        if args.results:
            if not args.strategy:
                raise ConfigError("--results needs --strategy NAME (the strategy to export)")
            from .results import Results

            table: Any = document_from_results(Results.load(args.results), args.strategy, n_fallbacks=args.fallbacks)
        elif args.table:
            table = args.table
        else:
            raise ConfigError("give a routing-table JSON file, or --results FILE --strategy NAME")
        paths = write(table, args.out, formats, api_base=args.api_base)
    except RouterlabError as exc:
        print(f"routerlab export: {exc}", file=sys.stderr)
        return 2
    for fmt, path in paths.items():
        print(f"{fmt:8s} {path}")
    return 0
