"""The Gateway's helpers beside the request loop (a mixin): cache lookups and writes, the Unavailable
report, warm-up and fallback-chain checks.

Example::

    >>> await gw.warmup()              # doctest: +SKIP
    >>> await gw.check_fallbacks()     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .cache import cache_key
from ..errors import ProviderError, Unavailable
from .config import Deployment
from .quota import BudgetExceeded
from ..types import Completion, Request

__all__ = ["GatewayOps"]

log = logging.getLogger("routerlab.gateway")
_ENDPOINTS = {"anthropic": "messages"}  # every other kind speaks Chat Completions


class GatewayOps:
    """Caches, the Unavailable report, warm-up and fallback checks; relies on the Gateway's state."""

    _providers: dict[str, Any]
    _deps: dict[str, Any]
    balancer: Any
    config: Any
    _redact: Callable[[str], str]
    _run: Callable[..., Any]
    _fail: Callable[..., ProviderError]
    _groups: dict[str, tuple[str, ...]]
    catalog: Any
    cache: Any
    semantic_cache: Any
    clock: Callable[[], float]
    cache_write_errors: int

    async def warmup(self, timeout: float = 5.0) -> Any:
        """Open a connection to every deployment at once; a DataFrame of who answered.

        401/403 here take the deployment out of rotation before any user request meets it.

        Example::

            >>> await gw.warmup()   # doctest: +SKIP
        """
        import pandas as pd

        async def one(name: str) -> dict[str, Any]:
            provider = self._providers.get(name)
            t0 = time.perf_counter()
            if provider is None:
                return {"deployment": name, "ok": False, "seconds": 0.0,
                        "detail": self.balancer.misconfigured().get(name, "no provider")}
            ok, detail = True, "connected"
            try:
                if hasattr(provider, "warmup"):
                    await asyncio.wait_for(provider.warmup(), timeout)
                elif hasattr(provider, "_client"):
                    await asyncio.wait_for(provider._client().models.list(), timeout)
            except Exception as exc:  # noqa: BLE001 - any HTTP reply means the connection is open
                status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
                if status in (401, 403):
                    ok, detail = False, f"HTTP {status}: misconfigured"
                    self.balancer.mark_misconfigured(name, f"HTTP {status} at warm-up")
                elif isinstance(status, int):
                    detail = f"connected (HTTP {status})"
                else:
                    ok, detail = False, f"{type(exc).__name__}: {self._redact(str(exc))[:200]}"
            return {"deployment": name, "ok": ok, "seconds": time.perf_counter() - t0, "detail": detail}

        rows = await asyncio.gather(*(one(n) for n in self._deps))
        return pd.DataFrame(rows, columns=["deployment", "ok", "seconds", "detail"])

    async def check_fallbacks(self, prompt: str = "Reply with the word OK.", max_tokens: int = 8) -> Any:
        """Drive one synthetic request to every model of every fallback chain (no cache, no fallback).

        One row per link: ``chain`` (the primary model), ``kind`` (``fallback``/``context``), ``position``,
        ``model``, ``ok``, ``deployment``, ``outcome`` and ``error``; ``chain_ok`` is False for every row of
        a chain in which some link did not answer. The calls are real and are charged.

        Example::

            >>> df = await gw.check_fallbacks()   # doctest: +SKIP
            >>> df[~df.chain_ok]                   # doctest: +SKIP
        """
        import pandas as pd

        req = Request.from_prompt(prompt, max_tokens=max_tokens, metadata={"routerlab": "check_fallbacks"})
        chains = [("fallback", m, (m, *fb)) for m, fb in self.config.fallbacks.items()]
        chains += [("context", m, (m, *fb)) for m, fb in self.config.context_fallbacks.items()]
        rows = []
        for kind, primary, chain in chains:
            for i, m in enumerate(chain):
                row: dict[str, Any] = {"chain": primary, "kind": kind, "position": i, "model": m}
                try:
                    c: Any = None
                    async for c in self._run(req, m, stream=False, fallback=False, use_cache=False):
                        pass
                    row.update(ok=True, deployment=c.deployment, outcome="ok", error="")
                except ProviderError as exc:
                    row.update(ok=False, deployment=exc.deployment, outcome=type(exc).__name__, error=str(exc))
                rows.append(row)
        df = pd.DataFrame(rows, columns=["chain", "kind", "position", "model", "ok", "deployment", "outcome", "error"])
        df["chain_ok"] = df.groupby(["kind", "chain"])["ok"].transform("all") if len(df) else []
        for (kind, primary), g in df[~df["ok"]].groupby(["kind", "chain"]) if len(df) else []:
            log.warning("%s chain of %s does not answer at %s", kind, primary, ", ".join(g["model"]))
        return df

    # caches ----------------------------------------------------------------------------------
    def _key(self, request: Request, dep: Deployment) -> str:
        api = self.catalog[dep.model].api_name if dep.model in self.catalog else dep.model
        return cache_key(request, provider=dep.provider_kind, model=api,
                         endpoint=_ENDPOINTS.get(dep.provider_kind, "chat.completions"))

    async def _cache_lookup(self, request: Request, model: str, deps: tuple[str, ...]) -> Completion | None:
        if self.cache is not None:
            for key in dict.fromkeys(self._key(request, self._deps[n]) for n in deps):
                hit = self.cache.get(key)
                if hit is not None:
                    return replace(hit, attempts=(("cache:exact", "hit"),))
        if self.semantic_cache is not None and not request.temperature:
            return self.semantic_cache.get(request, model)
        return None

    async def _cache_store(self, request: Request, model: str, dep: Deployment, completion: Completion) -> None:
        if self.cache is not None:
            try:
                await asyncio.to_thread(self.cache.put, self._key(request, dep), replace(completion, attempts=()))
            except Exception as exc:  # noqa: BLE001 - the answer is already paid for: keep it, report loudly
                self.cache_write_errors += 1
                log.error("response cache write failed (answer returned, not cached): %s", self._redact(str(exc)))
        if self.semantic_cache is not None and not request.temperature:
            self.semantic_cache.put(request, model, replace(completion, attempts=()))

    def _unavailable(self, primary: str, chain: list[str], call: Any,
                     earliest: tuple[str, float] | None) -> ProviderError:
        now = self.clock()
        if call.budget_blocked and all(m in call.done_models or m in call.budget_blocked for m in chain):
            return self._fail(BudgetExceeded, f"{primary}: no model in the chain {' → '.join(chain)} is within "
                              f"budget: {'; '.join(call.budget_blocked.values())}", call)
        parts = [f"{m}: {why}" for m, why in call.budget_blocked.items()]
        for m in chain:
            if m in call.done_models or m in call.budget_blocked:
                continue
            for n in self._groups[m]:
                ok, reason, until = self.balancer.status(n)
                when = f", returns in {until - now:.1f} s" if until is not None and until > now else ""
                parts.append(f"{n} ({m}): {reason}{when}")
        if earliest is None:
            tail = "none of them returns by itself (fix the misconfigured deployments, then gateway.restore(name))"
            retry_after = None
        else:
            retry_after = max(0.0, earliest[1] - now)
            at = (_dt.datetime.now() + _dt.timedelta(seconds=retry_after)).strftime("%H:%M:%S")
            tail = (f"earliest return: {earliest[0]} in {retry_after:.1f} s (at {at}); "
                    "pass retry.wait_for_available=true to wait instead of failing fast")
        last = f"; last error: {call.last_error}" if call.last_error is not None else ""
        return self._fail(Unavailable, f"{primary}: no deployment can take the call now "
                          f"(chain {' → '.join(chain)}): {'; '.join(parts)}; {tail}{last}", call,
                          retry_after=retry_after)
