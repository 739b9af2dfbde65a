"""Routing-table documents with a Gateway's live settings merged in (deployments, balancer, retry)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..catalog import Catalog
from ..live.config import GatewayConfig
from ..routers import document as _routers_document
from ..routers.document import KEY_ENV, model_entry

__all__ = ["document", "from_gateway"]


def document(table: Any, *, catalog: Any = None, api_base: Mapping[str, str] | str | None = None,
             gateway: Any = None, **fields: Any) -> dict[str, Any]:
    """A validated routing-table document (see :func:`routerlab.routers.document.document`).

    ``gateway`` (a Gateway config, mapping or YAML/JSON path) supplies balancer, retry, deployments and
    the fallbacks the table lacks (see :func:`from_gateway`): the gateway's settings are the ones
    production runs.

    Example::

        >>> document({"routes": {"math": "gpt-4o-mini"}, "default": "gpt-4o"})["routes"]
        {'math': 'gpt-4o-mini'}
    """
    live = None
    if gateway is not None:
        base = _routers_document.as_dict(table)
        live, table = from_gateway(gateway, base.get("models") or {}, catalog), base
    return _routers_document.document(table, catalog=catalog, api_base=api_base, live=live, **fields)


def from_gateway(gateway: Any, models: Mapping[str, Any], catalog: Any = None) -> dict[str, Any]:
    """``balancer``, ``retry``, ``fallbacks`` and per-model ``deployments`` from a Gateway config
    (a :class:`~routerlab.live.config.GatewayConfig`, a mapping or a YAML/JSON path).

    Mapping: ``retry.attempts`` (total calls) → ``num_retries = attempts - 1``, ``retry.timeout`` →
    ``timeout``; ``strategy`` → ``balancer.strategy``; the breaker's ``open_duration`` → ``cooldown_time``
    and ``ceil(minimum_calls × failure_rate)`` → ``allowed_fails`` (LiteLLM counts failures, not a rate:
    an approximation); each deployment → ``{name, provider, api_name, api_base, api_key_env, weight, rpm, tpm}``.
    """
    cfg = GatewayConfig.load(gateway)
    catalog = catalog or Catalog.default()
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


