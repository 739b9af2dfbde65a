"""A local stand-in for real providers: the provider server plus a Gateway wired to it.

Every model of a data set gets one deployment on a :class:`~routerlab.server.ProviderServer` on
127.0.0.1, reached through its real SDK (OpenAI, Anthropic, Groq, or the OpenAI SDK for Gemini and
OpenAI-compatible hosts), so ``routerlab run --server`` and the notebooks exercise the live path
(HTTP, retries, breakers, usage accounting) with no key and no network.

Example::

    >>> from routerlab import datasets
    >>> from routerlab.local import local_gateway
    >>> gw, srv = local_gateway(datasets.load("zeroeval"), latency_scale=0)   # doctest: +SKIP
    >>> srv.close()                                                            # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..catalog import Catalog

__all__ = ["local_gateway", "LOCAL_KEY_ENV"]

LOCAL_KEY_ENV = "ROUTERLAB_LOCAL_KEY"


def local_gateway(dataset: Any, *, models: Sequence[str] | None = None, latency_scale: float = 0.0,
                  seed: int = 0, catalog: Catalog | None = None,
                  config: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
    """Start a local provider server answering from ``dataset`` and a Gateway over it.

    Returns ``(gateway, server)``; close the server when done. ``config`` entries (retry, breaker,
    strategy, fallbacks, ...) are merged into the generated Gateway config.
    """
    from ..live.gateway import Gateway
    from ..server.app import ProviderServer, answers_from_dataset

    catalog = catalog or getattr(dataset, "catalog", None) or Catalog.default()
    models = list(models or dataset.models)
    names = {m: re.sub(r"[^\w.\-]", "_", m) for m in models}
    server = ProviderServer(list(names.values()), answers=answers_from_dataset(dataset, catalog),
                            latency_scale=latency_scale, seed=seed, catalog=catalog).start()
    os.environ.setdefault(LOCAL_KEY_ENV, "local-server-needs-no-key")
    deployments = {}
    for m in models:
        spec = catalog[m]
        deployments[m] = {"deployments": [{
            "name": names[m], "provider": spec.provider, "model": m,
            "base_url": server.base_url(names[m], spec.provider), "api_key_env": LOCAL_KEY_ENV,
        }]}
    cfg: dict[str, Any] = {"models": deployments, "seed": seed, **dict(config or {})}
    try:
        gateway = Gateway.from_config(cfg, catalog=catalog)
    except Exception:
        server.close()
        raise
    return gateway, server
