"""Routing-table documents: validated JSON in the packaged schema, models filled in from the catalog."""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..runtime import FORMAT, SCHEMA_VERSION, read_table, validate

__all__ = ["document", "model_entry", "from_gateway", "KEY_ENV"]

#: Environment variable holding each provider's key (names only; never the key).
KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "groq": "GROQ_API_KEY",
           "gemini": "GEMINI_API_KEY", "openai-compatible": "OPENAI_COMPATIBLE_API_KEY"}


def _env_name(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def model_entry(name: str, *, catalog: Any = None, api_key_env: str | None = None,
                api_base: str | None = None) -> dict[str, Any]:
    """A table's ``models`` entry for a catalog model: provider, API id, context window, price, key variable."""
    if catalog is None:
        from ..catalog import Catalog

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
    from .. import __version__

    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return {"routerlab_version": __version__, "created": now, **{k: v for k, v in extra.items() if v is not None}}


def from_gateway(gateway: Any, models: Mapping[str, Any], catalog: Any = None) -> dict[str, Any]:
    """``balancer``, ``retry``, ``fallbacks`` and per-model ``deployments`` from a Gateway config
    (a :class:`~routerlab.gateway_config.GatewayConfig`, a mapping or a YAML/JSON path).

    Mapping: ``retry.attempts`` (total calls) → ``num_retries = attempts - 1``, ``retry.timeout`` →
    ``timeout``; ``strategy`` → ``balancer.strategy``; the breaker's ``open_duration`` → ``cooldown_time``
    and ``ceil(minimum_calls × failure_rate)`` → ``allowed_fails`` (LiteLLM counts failures, not a rate:
    an approximation); each deployment → ``{name, provider, api_name, api_base, api_key_env, weight, rpm, tpm}``.
    """
    import math

    from ..gateway_config import GatewayConfig

    cfg = GatewayConfig.load(gateway)
    if catalog is None:
        from ..catalog import Catalog

        catalog = Catalog.default()
    out: dict[str, Any] = {
        "balancer": {"strategy": cfg.strategy, "cooldown_time": float(cfg.breaker.open_duration),
                     "allowed_fails": int(math.ceil(cfg.breaker.minimum_calls * cfg.breaker.failure_rate))},
        "retry": {"num_retries": max(int(cfg.retry.attempts) - 1, 0), "timeout": float(cfg.retry.timeout)},
        "fallbacks": {m: list(c) for m, c in cfg.fallbacks.items()},
        "models": {},
    }
    for name, deps in cfg.models.items():
        entry = dict(models.get(name) or (model_entry(name, catalog=catalog) if name in catalog else {}))
        if not entry:
            first = deps[0]
            entry = {"provider": first.provider_kind, "api_name": first.model}
        entry["deployments"] = [{k: v for k, v in {
            "name": d.name, "provider": d.provider_kind,
            "api_name": catalog[d.model].api_name if d.model in catalog else d.model,
            "api_base": d.base_url, "api_key_env": d.api_key_env or KEY_ENV.get(d.provider_kind),
            "weight": d.weight, "rpm": d.rpm, "tpm": d.tpm}.items() if v is not None} for d in deps]
        out["models"][name] = entry
    return out


def document(table: Any, *, catalog: Any = None, api_base: Mapping[str, str] | str | None = None,
             gateway: Any = None, **fields: Any) -> dict[str, Any]:
    """A validated routing-table document from a RoutingTable, a mapping, or a JSON file path.

    A mapping may be partial: ``format``/``version`` are filled in, and models it names but does not
    define are looked up in the catalog. ``api_base`` (one URL, or model → URL) sets where each model
    is served (a gateway, a self-hosted endpoint, the local test server). ``gateway`` (a Gateway config)
    supplies balancer, retry, deployments and the fallbacks the table lacks (see :func:`from_gateway`).
    ``fields`` override top-level fields (``balancer=...``, ``retry=...``, ``name=...``).
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
    if gateway is not None:
        live = from_gateway(gateway, raw.get("models") or {}, catalog)
        raw["models"] = {**(raw.get("models") or {}), **live.pop("models")}
        raw["fallbacks"] = {**live.pop("fallbacks"), **(raw.get("fallbacks") or {})}
        raw.update(live)  # the gateway's balancer and retry settings are the ones production runs
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


