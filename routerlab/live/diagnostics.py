"""A Gateway's diagnostics (``gateway.diagnostics``): warm-up, fallback-chain checks, the Unavailable report.

A composed object with explicit collaborators (the providers, the load balancer, the config, a probe
that sends one request to one model): it reads the Gateway's state through them, never through its
private fields.

Example::

    >>> await gw.diagnostics.warmup()            # doctest: +SKIP
    >>> await gw.diagnostics.check_fallbacks()   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from .._text import clip_sentences
from ..errors import ProviderError
from ..types import Completion, Request
from .balancer import LoadBalancer
from .config import GatewayConfig

__all__ = ["Diagnostics"]

log = logging.getLogger("routerlab.gateway")
_COLUMNS = ["chain", "kind", "position", "model", "ok", "deployment", "outcome", "error"]


class Diagnostics:
    """Warm-up, fallback-chain checks and the Unavailable report of one Gateway.

    ``providers`` maps deployment name → provider (absent: the deployment could not be built);
    ``probe(request, model)`` sends one request to ``model`` alone (no cache, no fallback); ``redact``
    scrubs key values from text; ``clock`` is the Gateway's monotonic clock.
    """

    def __init__(self, *, providers: Mapping[str, Any], balancer: LoadBalancer, config: GatewayConfig,
                 probe: Callable[[Request, str], Awaitable[Completion]], redact: Callable[[str], str],
                 clock: Callable[[], float]) -> None:
        self.providers = providers
        self.balancer = balancer
        self.config = config
        self._probe = probe
        self._redact = redact
        self._clock = clock

    # warm-up -----------------------------------------------------------------------------------
    async def warmup(self, timeout: float = 5.0) -> Any:
        """Open a connection to every deployment at once; a DataFrame (``deployment``, ``ok``, ``seconds``,
        ``detail``) of who answered.

        An error whose kind takes a deployment out of rotation (401/403) does it here, before any user
        request meets it. A provider without a ``warmup`` method is reported as not checked.

        Example::

            >>> await gw.diagnostics.warmup()   # doctest: +SKIP
        """
        import pandas as pd

        names = [d.name for d in self.config.deployments]
        rows = await asyncio.gather(*(self._warm_one(n, timeout) for n in names))
        return pd.DataFrame(rows, columns=["deployment", "ok", "seconds", "detail"])

    async def _warm_one(self, name: str, timeout: float) -> dict[str, Any]:
        provider = self.providers.get(name)
        t0 = time.perf_counter()
        ok, detail = True, "connected"
        if provider is None:
            ok, detail = False, self.balancer.misconfigured().get(name, "no provider")
        elif getattr(provider, "warmup", None) is None:
            detail = "not checked (the provider has no warmup method)"
        else:
            try:
                await asyncio.wait_for(provider.warmup(), timeout)
            except ProviderError as exc:  # any HTTP reply means the connection is open
                ok, detail = self._warm_failure(name, exc)
            except Exception as exc:  # noqa: BLE001 - a report, not a crash
                ok, detail = False, f"{type(exc).__name__}: {clip_sentences(self._redact(str(exc)), 200)}"
        return {"deployment": name, "ok": ok, "seconds": time.perf_counter() - t0, "detail": detail}

    def _warm_failure(self, name: str, exc: ProviderError) -> tuple[bool, str]:
        if exc.kind.out_of_rotation:
            self.balancer.mark_misconfigured(name, f"HTTP {exc.status} at warm-up")
            return False, f"HTTP {exc.status}: misconfigured"
        if exc.status is not None:
            return True, f"connected (HTTP {exc.status})"
        return False, f"{type(exc).__name__}: {clip_sentences(self._redact(str(exc)), 200)}"

    # fallback chains ---------------------------------------------------------------------------
    async def check_fallbacks(self, prompt: str = "Reply with the word OK.", max_tokens: int = 8) -> Any:
        """Drive one synthetic request to every model of every fallback chain (no cache, no fallback).

        One row per link: ``chain`` (the primary model), ``kind`` (``fallback``/``context``), ``position``,
        ``model``, ``ok``, ``deployment``, ``outcome`` and ``error``; ``chain_ok`` is False for every row of
        a chain in which some link did not answer. The calls are real and are charged.

        Example::

            >>> df = await gw.diagnostics.check_fallbacks()   # doctest: +SKIP
            >>> df[~df.chain_ok]                               # doctest: +SKIP
        """
        import pandas as pd

        req = Request.from_prompt(prompt, max_tokens=max_tokens, metadata={"routerlab": "check_fallbacks"})
        chains = [("fallback", m, (m, *fb)) for m, fb in self.config.fallbacks.items()]
        chains += [("context", m, (m, *fb)) for m, fb in self.config.context_fallbacks.items()]
        rows = [await self._check_link(req, kind, primary, i, m)
                for kind, primary, chain in chains for i, m in enumerate(chain)]
        df = pd.DataFrame(rows, columns=_COLUMNS)
        df["chain_ok"] = df.groupby(["kind", "chain"])["ok"].transform("all") if len(df) else []
        for (kind, primary), g in df[~df["ok"]].groupby(["kind", "chain"]) if len(df) else []:
            log.warning("%s chain of %s does not answer at %s", kind, primary, ", ".join(g["model"]))
        return df

    async def _check_link(self, req: Request, kind: str, primary: str, position: int, model: str) -> dict[str, Any]:
        row: dict[str, Any] = {"chain": primary, "kind": kind, "position": position, "model": model}
        try:
            c = await self._probe(req, model)
            row.update(ok=True, deployment=c.deployment, outcome="ok", error="")
        except ProviderError as exc:
            row.update(ok=False, deployment=exc.deployment, outcome=type(exc).__name__, error=str(exc))
        return row

    # the Unavailable report --------------------------------------------------------------------
    def unavailable_report(self, primary: str, chain: list[str], *, skip: Collection[str],
                           budget_blocked: Mapping[str, str], earliest: tuple[str, float] | None,
                           last_error: ProviderError | None) -> tuple[str, float | None]:
        """Why no deployment of ``chain`` can take a call now: ``(message, retry_after seconds | None)``.

        The message names every deployment and why it is out (circuit open, cooling down, misconfigured,
        over budget) with when it returns, the earliest return (clock time and wall-clock time of day),
        and the last error. ``skip`` are models that cannot answer this request anyway.
        """
        now = self._clock()
        parts = [f"{m}: {why}" for m, why in budget_blocked.items()]
        for m in chain:
            if m in skip or m in budget_blocked:
                continue
            for d in self.config.models[m]:
                _, reason, until = self.balancer.status(d.name)
                when = f", returns in {until - now:.1f} s" if until is not None and until > now else ""
                parts.append(f"{d.name} ({m}): {reason}{when}")
        if earliest is None:
            tail = "none of them returns by itself (fix the misconfigured deployments, then gateway.restore(name))"
            retry_after = None
        else:
            retry_after = max(0.0, earliest[1] - now)
            tail = (f"earliest return: {earliest[0]} in {retry_after:.1f} s{_time_of_day(retry_after)}; "
                    "pass retry.wait_for_available=true to wait instead of failing fast")
        last = f"; last error: {last_error}" if last_error is not None else ""
        return (f"{primary}: no deployment can take the call now (chain {' → '.join(chain)}): "
                f"{'; '.join(parts)}; {tail}{last}"), retry_after


def _time_of_day(seconds: float) -> str:
    """`` (at HH:MM:SS)`` for a wait of ``seconds`` from now; empty when that is past any calendar."""
    try:
        return f" (at {(_dt.datetime.now() + _dt.timedelta(seconds=seconds)).strftime('%H:%M:%S')})"
    except (OverflowError, ValueError):
        return ""
