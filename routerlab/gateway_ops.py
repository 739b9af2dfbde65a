"""Operational tools of the Gateway: warm-up and fallback-chain checks (a mixin of ``Gateway``).

Example::

    >>> await gw.warmup()              # doctest: +SKIP
    >>> await gw.check_fallbacks()     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from .errors import ProviderError
from .types import Request

__all__ = ["GatewayOps"]

log = logging.getLogger("routerlab.gateway")


class GatewayOps:
    """Warm-up and fallback checks; relies on the Gateway's providers, balancer and request loop."""

    _providers: dict[str, Any]
    _deps: dict[str, Any]
    balancer: Any
    config: Any
    _redact: Callable[[str], str]
    _run: Callable[..., Any]

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
