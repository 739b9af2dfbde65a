"""The Gateway's response caches as one object: lookups before a model is called, writes after it answered.

The exact cache (:class:`~routerlab.live.cache.ResponseCache`) keys an answer per deployment (provider,
API model name, endpoint, the request); the semantic cache (:class:`~routerlab.live.cache.SemanticCache`)
per model, within everything else the request says (see :func:`~routerlab.live.cache.context_key`), and
only for a prompt of the same meaning. A hit comes back with ``attempts = (("cache:exact", "hit"),)`` (or ``cache:semantic``).

Example::

    >>> caches = GatewayCaches(None, None, Catalog.default(), redact=str)
    >>> caches.enabled
    False
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from ..catalog import Catalog
from ..types import Completion, Request
from .cache import ResponseCache, SemanticCache, cache_key
from .config import Deployment

__all__ = ["GatewayCaches"]

log = logging.getLogger("routerlab.gateway")
_ENDPOINTS = {"anthropic": "messages"}  # every other kind speaks Chat Completions


class GatewayCaches:
    """The exact and semantic caches of one Gateway (either may be ``None``).

    ``redact`` scrubs key values from error messages before they are logged; ``write_errors`` counts
    exact-cache writes that failed (the answer was returned, not cached).
    """

    def __init__(self, exact: ResponseCache | None, semantic: SemanticCache | None, catalog: Catalog, *,
                 redact: Callable[[str], str]) -> None:
        self.exact = exact
        self.semantic = semantic
        self.catalog = catalog
        self._redact = redact
        self.write_errors = 0

    @property
    def enabled(self) -> bool:
        return self.exact is not None or self.semantic is not None

    def key(self, request: Request, dep: Deployment) -> str:
        """The exact-cache key of ``request`` sent to deployment ``dep`` (its provider, API model, endpoint)."""
        api = self.catalog[dep.model].api_name if dep.model in self.catalog else dep.model
        return cache_key(request, provider=dep.provider_kind, model=api,
                         endpoint=_ENDPOINTS.get(dep.provider_kind, "chat.completions"))

    async def lookup(self, request: Request, model: str, deps: Sequence[Deployment]) -> Completion | None:
        """A cached answer of ``model`` (any of its deployments ``deps``) to ``request``, or None."""
        if self.exact is not None:
            for key in dict.fromkeys(self.key(request, d) for d in deps):
                hit = self.exact.get(key)
                if hit is not None:
                    return replace(hit, attempts=(("cache:exact", "hit"),))
        if self.semantic is not None:  # it decides what it serves (scope, similarity, meaning)
            return self.semantic.get(request, model)
        return None

    async def store(self, request: Request, model: str, dep: Deployment, completion: Completion) -> None:
        """Keep ``completion`` (deployment ``dep``'s answer of ``model``); a failed write is logged, not raised."""
        if self.exact is not None:
            try:
                await asyncio.to_thread(self.exact.put, self.key(request, dep), replace(completion, attempts=()))
            except Exception as exc:  # noqa: BLE001 - the answer is already paid for: keep it, report loudly
                self.write_errors += 1
                log.error("response cache write failed (answer returned, not cached): %s", self._redact(str(exc)))
        if self.semantic is not None:  # it keeps only whole answers of requests that may be shared
            self.semantic.put(request, model, replace(completion, attempts=()))

    def close(self) -> None:
        if self.exact is not None:
            self.exact.close()
