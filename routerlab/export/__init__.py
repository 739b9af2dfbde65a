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
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._args import ArgumentParser, fail, http_url, positive_int, writable_dir
from ..errors import ConfigError, RouterlabError, kind_for_status, statuses
from ..harness.tables import document_from_results
from ..routers.document import KEY_ENV, _env_name, document_from_router, model_entry
from ..runtime import FORMAT
from ._document import document, from_gateway

__all__ = [
    "document", "document_from_results", "document_from_router", "from_gateway", "model_entry",
    "to_litellm", "to_portkey", "to_env", "to_json", "write", "export_main", "FORMATS", "KEY_ENV",
]

_LITELLM_PROVIDER = {"openai-compatible": "openai"}
_LITELLM_STRATEGY = {"weighted": "simple-shuffle", "simple-shuffle": "simple-shuffle", "best": "simple-shuffle",
                     "round-robin": "simple-shuffle", "least-latency": "latency-based-routing",
                     "least-busy": "least-busy"}
# Retry and failover status codes come from the live path's table of error kinds (routerlab.errors):
# an export fails over and retries on exactly what the Gateway does.
_RETRY_STATUS = statuses(lambda kind: kind.retry_same)
_FALLBACK_STATUS = statuses(lambda kind: kind.fallback_model)
# LiteLLM's retry policy is per exception class (litellm.types.router.RetryPolicy); each class stands
# for the HTTP status LiteLLM raises it for, whose kind says whether a retry helps.
_LITELLM_ERRORS = {"BadRequestError": 400, "AuthenticationError": 401, "NotFoundError": 404, "TimeoutError": 408,
                   "RateLimitError": 429, "ContentPolicyViolationError": 400, "InternalServerError": 500,
                   "ServiceUnavailableError": 503}
FORMATS = {"litellm": "litellm_config.yaml", "portkey": "portkey_config.json", "env": "routing.env",
           "json": "routing_table.json"}


# --------------------------------------------------------------------------------------- exporters
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
    """Each deployment with the model's provider, API id, base URL and key variable filled in."""
    base = {"name": None, "provider": spec["provider"], "api_name": spec["api_name"], "api_base": spec.get("api_base"),
            "api_key_env": spec.get("api_key_env"), "weight": None, "rpm": None, "tpm": None}
    return [{**base, **{k: v for k, v in d.items() if v is not None}} for d in spec.get("deployments") or [{}]]


def _litellm_params(dep: Mapping[str, Any]) -> dict[str, Any]:
    provider = _LITELLM_PROVIDER.get(dep["provider"], dep["provider"])
    params: dict[str, Any] = {"model": f"{provider}/{dep['api_name']}"}
    key_env = dep.get("api_key_env") or KEY_ENV.get(dep["provider"])
    if key_env:
        params["api_key"] = f"os.environ/{key_env}"
    for key in ("api_base", "weight", "rpm", "tpm"):
        if dep.get(key) is not None:
            params[key] = dep[key]
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
            model_list.append({"model_name": alias, "litellm_params": _litellm_params(dep), "model_info": info})

    def chains(key: str) -> list[dict[str, list[str]]]:
        table_chains = doc.get(key) or {}
        out = [{alias: list(table_chains[m])} for alias, m in roles.items() if table_chains.get(m)]
        return out + [{m: list(c)} for m, c in table_chains.items() if c]

    balancer, retry = doc.get("balancer") or {}, doc.get("retry") or {}
    retries = int(retry.get("num_retries", 2))
    settings: dict[str, Any] = {
        "routing_strategy": _LITELLM_STRATEGY[balancer.get("strategy", "weighted")],
        "num_retries": retries,
        "retry_policy": {f"{name}Retries": retries if kind_for_status(status).retry_same else 0
                         for name, status in _LITELLM_ERRORS.items()},
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
        t: dict[str, Any] = {"provider": f"@{dep['name'] or dep['provider']}",
                             "override_params": {"model": dep["api_name"]}}
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
    equivalent and are left to the runtime. The fallback chains move on at the statuses where the
    Gateway tries the next model, retries happen at those where it retries (the table's
    ``retry.on_status_codes`` when it sets them): both from :data:`routerlab.errors.ERROR_KINDS`.
    """
    doc = document(table, **kwargs)
    roles = _roles(doc)
    models = doc["models"]
    retry = doc.get("retry") or {}
    codes = list(retry.get("on_status_codes") or _RETRY_STATUS)
    targets = []
    for alias, model in roles.items():
        chain = [model, *(doc.get("fallbacks") or {}).get(model, ())]
        targets.append({"name": alias, "strategy": {"mode": "fallback", "on_status_codes": list(_FALLBACK_STATUS)},
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
def _export_parser() -> ArgumentParser:
    head, _, examples = (export_main.__doc__ or "").partition("Examples::")
    parser = ArgumentParser(prog="routerlab export", description=head.strip(),
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            epilog="formats: " + ", ".join(f"{k} -> {v}" for k, v in FORMATS.items()) + "\n\nexamples:\n"
                                   + "\n".join("  " + line.strip() for line in examples.strip().splitlines()))
    parser.add_argument("table", nargs="?", help="a routing-table JSON file")
    parser.add_argument("--results", help="build the table from a results file instead: the results.parquet (or a "
                        "results CSV) that 'routerlab run --out DIR' or Results.to_parquet writes")
    parser.add_argument("--strategy", help="with --results: the strategy whose decisions to export")
    parser.add_argument("--to", action="append", choices=[*FORMATS, "all"], help="format(s); default: all")
    parser.add_argument("-o", "--out", type=writable_dir, default=".", help="output directory (default: .)")
    parser.add_argument("--api-base", type=http_url, help="serve every model from this base URL (e.g. a local server)")
    parser.add_argument("--fallbacks", type=positive_int, default=2, help="with --results: fallbacks per model (default: 2)")
    parser.add_argument("--dataset", help="with --results: the data set the results were computed on (bundled name or "
                        "path), whose prompts teach the table to detect tasks; default: the bundled set the results name")
    parser.add_argument("--labels-only", action="store_true",
                        help="with --results: export routes without task detection (requests must carry their task)")
    return parser


def export_main(argv: Sequence[str] | None = None) -> int:
    """``routerlab export``: a routing table (JSON) or an experiment's results to production configs.

    Examples::

        routerlab export routing_table.json --to litellm --to env -o deploy/
        routerlab export --results runs/zeroeval.parquet --strategy task-router -o deploy/
    """
    parser = _export_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    formats = list(FORMATS) if not args.to or "all" in args.to else list(dict.fromkeys(args.to))
    try:
        if args.results:
            if not args.strategy:
                raise ConfigError("--results needs --strategy NAME (the strategy to export)")
            from ..harness.results import Results

            prompts = None
            if args.dataset:
                from .. import datasets

                prompts = datasets.load(args.dataset, score=False)
            table: Any = document_from_results(Results.load(args.results), args.strategy, n_fallbacks=args.fallbacks,
                                               prompts=prompts, detection="labels" if args.labels_only else "auto")
        elif args.table:
            table = args.table
        else:
            raise ConfigError("give a routing-table JSON file, or --results FILE --strategy NAME")
        paths = write(table, args.out, formats, api_base=args.api_base)
    except (RouterlabError, OSError) as exc:
        return fail("routerlab export", str(exc) if isinstance(exc, RouterlabError) else
                    f"cannot read {exc.filename or args.results or args.table}: {exc.strerror or exc}")
    for fmt, path in paths.items():
        print(f"{fmt:8s} {path}")
    return 0

