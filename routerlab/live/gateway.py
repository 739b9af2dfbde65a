"""The live Caller: load balancer + circuit breakers + one retry loop + fallbacks + response cache.

A model name maps to one or more :class:`~routerlab.gateway_config.Deployment` s. For each request the
Gateway picks a deployment through the :class:`~routerlab.balancer.LoadBalancer`, calls it through its
provider (official SDK, ``max_retries=0``) with a per-attempt deadline, and on a transient failure
retries on another deployment after a full-jitter backoff, then falls back along the configured chain
of models. ``Retry-After`` becomes that deployment's cooldown; 401/403 take a deployment out of
rotation; a 400 for the request itself is not the deployment's fault and is not retried, except that a
prompt too long for a model moves to a model with a larger context window. When nothing can take the
call, it fails fast with :class:`~routerlab.errors.Unavailable` naming when the earliest deployment
returns (or waits for it with ``retry.wait_for_available``). Semantics: ``shared/RELIABILITY.md``.

Every attempt's tokens are charged once (failed attempts too, from ``ProviderError.tokens``); the
returned Completion carries the request's totals and ``attempts`` = ``((deployment, outcome), ...)``.

Example::

    >>> gw = Gateway.from_config("gateway.yaml")                            # doctest: +SKIP
    >>> c = await gw.complete(Request.from_prompt("2+2?"), "gpt-4o-mini")   # doctest: +SKIP
    >>> c.text, c.deployment, c.attempts                                    # doctest: +SKIP
    ('4', 'P2', (('P1', 'server_error'), ('P2', 'ok')))
    >>> gw.stats()                                                          # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import Any

from .balancer import AT_CAPACITY, Lease, LoadBalancer
from .cache import ResponseCache, SemanticCache
from ..catalog import Catalog
from ..errors import (
    AuthError,
    BadRequest,
    ConfigError,
    ContextTooLong,
    ProviderError,
    StreamInterrupted,
    Timeout,
    UnknownModelError,
    Unavailable,
)
from .config import Deployment, GatewayConfig
from .diagnostics import GatewayOps
from .quota import BudgetExceeded, SpendLedger, TokenBucket
from ..types import Completion, Request

__all__ = ["Gateway", "Deployment", "GatewayConfig", "BudgetExceeded", "TokenBucket"]

log = logging.getLogger("routerlab.gateway")


def _with(c: Completion, **changes: Any) -> Completion:
    """``dataclasses.replace`` for the hot path (Completion has no __post_init__): a copy with changes."""
    new = object.__new__(Completion)
    new.__dict__.update(c.__dict__)
    new.__dict__.update(changes)
    return new


class _Call:
    """One request's state across attempts."""

    __slots__ = ("request", "attempts", "tokens_in", "tokens_out", "cost", "made", "last_error", "done_models",
                 "need_backoff", "budget_blocked", "estimate")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.attempts: list[tuple[str, str]] = []
        self.tokens_in = self.tokens_out = 0
        self.cost = 0.0
        self.made = 0
        self.last_error: ProviderError | None = None
        self.done_models: set[str] = set()
        self.need_backoff = False
        self.budget_blocked: dict[str, str] = {}
        self.estimate = max(1, len(request.text) // 4) + int(request.max_tokens or 256)


class Gateway(GatewayOps):
    """The live :class:`~routerlab.types.Caller`: ``await gateway.complete(request, model)``.

    Build it with :meth:`from_config` (a YAML file or a dict, see :mod:`routerlab.gateway_config`).
    ``providers`` (deployment name → provider) or ``provider_factory`` replace the SDK providers (tests,
    custom hosts); ``clock`` (monotonic seconds) and ``rng`` make breakers, balancing and backoff
    deterministic; ``cache``/``semantic_cache`` override the configured caches.

    Example::

        >>> gw = Gateway.from_config({"models": {"gpt-4o-mini": {"deployments": [
        ...     {"name": "P1", "provider": "openai", "model": "gpt-4o-mini",
        ...      "base_url": "http://127.0.0.1:8000/v1", "api_key_env": "P1_KEY"}]}}})  # doctest: +SKIP
        >>> gw.complete_sync(Request.from_prompt("2+2?"), "gpt-4o-mini").text            # doctest: +SKIP
        '4'
    """

    def __init__(self, config: GatewayConfig | Mapping[str, Any] | str | os.PathLike[str], *,
                 providers: Mapping[str, Any] | None = None, provider_factory: Callable[[Deployment], Any] | None = None,
                 clock: Callable[[], float] | None = None, rng: random.Random | None = None,
                 catalog: Catalog | None = None, cache: ResponseCache | None = None,
                 semantic_cache: SemanticCache | None = None) -> None:
        cfg = self.config = GatewayConfig.load(config)
        self.clock = clock or time.monotonic
        self._jitter = rng if rng is not None else random.Random(cfg.seed ^ 0x5EED)
        if catalog is None:
            catalog = Catalog.default()
            if cfg.catalog:
                catalog = catalog.merge(Catalog.from_file(cfg.catalog))
        self.catalog = catalog
        self.balancer = LoadBalancer(strategy=cfg.strategy, breaker=cfg.breaker, clock=self.clock,
                                     rng=rng if rng is not None else random.Random(cfg.seed),
                                     on_transition=self._log_transition)
        self._deps: dict[str, Deployment] = {}
        self._model_of: dict[str, str] = {}
        self._groups: dict[str, tuple[str, ...]] = {}
        self._rpm: dict[str, TokenBucket] = {}
        self._tpm: dict[str, TokenBucket] = {}
        for model, deps in cfg.models.items():
            self._groups[model] = tuple(d.name for d in deps)
            for d in deps:
                self._deps[d.name] = d
                self._model_of[d.name] = model
                self.balancer.add(d.name, d.weight, max_concurrency=d.max_concurrency)
                if d.rpm:
                    self._rpm[d.name] = TokenBucket(d.rpm, clock=self.clock)
                if d.tpm:
                    self._tpm[d.name] = TokenBucket(d.tpm, clock=self.clock)
        # the key values are kept only to scrub them from messages; they are never logged or stored
        self._secrets = tuple(sorted({v for d in self._deps.values() if d.api_key_env
                                      for v in [os.environ.get(d.api_key_env, "")] if len(v) >= 6},
                                     key=len, reverse=True))
        self._providers: dict[str, Any] = {}
        factory = provider_factory or self._default_factory
        for name, d in self._deps.items():
            if providers is not None and name in providers:
                self._providers[name] = providers[name]
                continue
            if provider_factory is None and d.model not in self.catalog:
                i = self._groups[self._model_of[name]].index(name)
                raise ConfigError(f"{cfg.source}: models.{self._model_of[name]}.deployments[{i}].model: {d.model!r} "
                                  "is not in the catalog; add it in a catalog file and name it under 'catalog:'")
            try:
                self._providers[name] = factory(d)
            except ConfigError as exc:  # e.g. the key variable is not set: report, keep the others serving
                reason = self._redact(str(exc))
                self.balancer.mark_misconfigured(name, reason)
                log.warning("deployment %s is out of rotation: %s", name, reason)
        env_names = {d.api_key_env for d in self._deps.values()} | {
            getattr(p, "api_key_env", None) for p in self._providers.values()}
        self._secrets = tuple(sorted({v for e in env_names if isinstance(e, str)
                                      for v in [os.environ.get(e, "")] if len(v) >= 6}, key=len, reverse=True))
        self.cache = cache if cache is not None else (
            ResponseCache(cfg.cache.directory) if cfg.cache.directory else None)
        self.semantic_cache = semantic_cache if semantic_cache is not None else (
            SemanticCache(threshold=cfg.cache.threshold, cross_model=cfg.cache.cross_model)
            if cfg.cache.semantic else None)
        self.ledger = SpendLedger(cfg.budgets)
        b = cfg.budgets
        self._budgeted = b.total is not None or bool(b.per_model) or bool(b.per_provider)
        self.cache_write_errors = 0

    # construction ----------------------------------------------------------------------------
    @classmethod
    def from_config(cls, source: str | os.PathLike[str] | Mapping[str, Any] | GatewayConfig, **kwargs: Any) -> Gateway:
        """A Gateway from a YAML/JSON file path or a dict (validated; errors name the bad field).

        Example::

            >>> gw = Gateway.from_config("gateway.yaml")   # doctest: +SKIP
        """
        return cls(GatewayConfig.load(source), **kwargs)

    def _default_factory(self, d: Deployment) -> Any:
        from ..providers import make_provider

        return make_provider(d.provider_kind, base_url=d.base_url, api_key_env=d.api_key_env, deployment=d.name,
                             timeout=d.timeout or self.config.retry.timeout, catalog=self.catalog)

    @property
    def models(self) -> list[str]:
        """The model names this gateway serves."""
        return list(self._groups)

    @property
    def deployments(self) -> list[Deployment]:
        return list(self._deps.values())

    def _resolve(self, model: str) -> str:
        if model in self._groups:
            return model
        if model in self.catalog:
            canonical = self.catalog.canonical(model)
            if canonical in self._groups:
                return canonical
        raise UnknownModelError(f"model {model!r} is not configured in this gateway ({self.config.source}); "
                                f"configured: {', '.join(self._groups)}")

    # the Caller API --------------------------------------------------------------------------
    async def complete(self, request: Request, model: str, *, fallback: bool = True,
                       wait_for_available: bool | None = None) -> Completion:
        """Answer ``request`` with ``model`` (or its fallbacks); see the module docstring.

        ``fallback=False`` tries ``model`` alone; ``wait_for_available`` overrides the config's
        ``retry.wait_for_available`` for this call (wait for the earliest deployment instead of failing fast).

        Example::

            >>> c = await gw.complete(Request.from_prompt("hi"), "gpt-4o-mini")   # doctest: +SKIP
        """
        final: Any = None
        async for item in self._run(request, model, stream=False, fallback=fallback, wait=wait_for_available):
            final = item
        return final  # type: ignore[no-any-return]

    def complete_sync(self, request: Request, model: str, *, fallback: bool = True,
                      wait_for_available: bool | None = None) -> Completion:
        """:meth:`complete` from sync code; inside Jupyter's running loop it runs on a worker loop.

        Example::

            >>> gw.complete_sync(Request.from_prompt("hi"), "gpt-4o-mini").text   # doctest: +SKIP
        """
        from .._aio import run_sync

        return run_sync(self.complete(request, model, fallback=fallback, wait_for_available=wait_for_available))

    async def stream(self, request: Request, model: str, *, fallback: bool = True,
                     wait_for_available: bool | None = None) -> AsyncIterator[str | Completion]:
        """Yield text deltas, then the final Completion. No text is ever emitted twice: an attempt is
        retried only if it failed before its first delta; a stream cut later raises
        :class:`~routerlab.errors.StreamInterrupted` (its tokens are charged).

        Example::

            >>> async for item in gw.stream(Request.from_prompt("hi"), "gpt-4o"):   # doctest: +SKIP
            ...     print(item if isinstance(item, str) else item.cost)
        """
        async for item in self._run(request, model, stream=True, fallback=fallback, wait=wait_for_available):
            yield item

    # the retry / fallback loop ---------------------------------------------------------------
    async def _run(self, request: Request, model: str, *, stream: bool, fallback: bool = True,
                   use_cache: bool = True, wait: bool | None = None) -> AsyncIterator[str | Completion]:
        primary = self._resolve(model)
        chain = [primary, *(self.config.fallbacks.get(primary, ()) if fallback else ())]
        call = _Call(request)
        policy = self.config.retry
        start = self.clock()
        wait_deadline = start + policy.max_wait
        while True:
            progressed = False
            tried: set[str] = set()
            pos = 0
            while pos < len(chain):
                m = chain[pos]
                pos += 1
                if m in call.done_models:
                    continue
                deps = self._within_budget(m, call) if self._budgeted else self._groups[m]
                if not deps:
                    continue
                if use_cache and (self.cache is not None or self.semantic_cache is not None):
                    hit = await self._cache_lookup(request, m, deps)
                    if hit is not None:
                        call.attempts.extend(hit.attempts)
                        hit = replace(hit, attempts=tuple(call.attempts), latency=self.clock() - start)
                        if stream and hit.text:
                            yield hit.text
                        yield hit
                        return
                while call.made < policy.attempts:
                    if call.need_backoff:
                        call.need_backoff = False
                        await asyncio.sleep(self._backoff(call.made - 1))
                    lease = self.balancer.acquire(deps, exclude=tried, admit=(lambda n: self._rate_ok(n, call))
                                                  if self._rpm or self._tpm else None)
                    if lease is None:
                        wait = self._local_wait(deps, tried, call)
                        if wait is None:
                            break
                        if self.clock() + wait > wait_deadline:
                            raise self._fail(Unavailable, f"{m}: every deployment is at its rate or concurrency "
                                             f"limit for more than {policy.max_wait:g} s", call, retry_after=wait)
                        await asyncio.sleep(wait)
                        continue
                    progressed = True
                    tried.add(lease.deployment)
                    dep = self._deps[lease.deployment]
                    err: ProviderError | None = None
                    final: Completion | None = None
                    try:
                        if stream:
                            holder: list[Completion] = []
                            async for delta in self._attempt_stream(lease, dep, m, call, holder):
                                yield delta
                            final = holder[0]
                        else:
                            final = await self._attempt(lease, dep, m, call)
                    except ProviderError as exc:
                        err = exc
                    if final is not None:
                        if self.cache is not None or self.semantic_cache is not None:
                            await self._cache_store(request, m, dep, final)
                        yield _with(final, deployment=dep.name, attempts=tuple(call.attempts),
                                    input_tokens=call.tokens_in, output_tokens=call.tokens_out, cost=call.cost,
                                    latency=self.clock() - start)
                        return
                    if isinstance(err, ContextTooLong):
                        call.done_models.add(m)
                        bigger = [c for c in self._context_fallbacks(m) if c not in call.done_models]
                        if not bigger:
                            raise self._fail(err, f"{m}: {err}; no configured model has a larger context window "
                                             "(add one under context_fallbacks)", call)
                        chain = chain[:pos] + bigger + [c for c in chain[pos:] if c not in bigger]
                        break
                    if isinstance(err, StreamInterrupted) or (isinstance(err, BadRequest)):
                        raise self._fail(err, str(err), call)
                    if not isinstance(err, AuthError):
                        call.need_backoff = True
                if call.made >= policy.attempts:
                    break
            if call.made >= policy.attempts and call.last_error is not None:
                trail = ", ".join(f"{d} {o}" for d, o in call.attempts)
                raise self._fail(call.last_error, f"{primary}: all {call.made} attempts failed ({trail}); "
                                 f"last error: {call.last_error}", call)
            if progressed:
                continue  # another pass: deployments tried in this one may be retried
            earliest = self._earliest(chain, call)
            if earliest is None and call.last_error is not None:  # nothing returns by itself (e.g. a 401)
                trail = ", ".join(f"{d} {o}" for d, o in call.attempts)
                raise self._fail(call.last_error, f"{primary}: no deployment left ({trail}); "
                                 f"last error: {call.last_error}", call)
            if (policy.wait_for_available if wait is None else wait) and earliest is not None \
                    and earliest[1] <= wait_deadline:
                await asyncio.sleep(max(earliest[1] - self.clock(), 0.001))
                continue
            raise self._unavailable(primary, chain, call, earliest)

    def _begin(self, dep: Deployment, call: _Call) -> float:
        call.made += 1
        if self._rpm and dep.name in self._rpm:
            self._rpm[dep.name].take(1)
        if self._tpm and dep.name in self._tpm:
            self._tpm[dep.name].take(call.estimate)
        return dep.timeout or self.config.retry.timeout

    async def _attempt(self, lease: Lease, dep: Deployment, model: str, call: _Call) -> Completion:
        """One upstream call with its deadline; released, charged and logged by :meth:`_settle`."""
        timeout = self._begin(dep, call)
        t0 = self.clock()
        err: BaseException | None = None
        result: Completion | None = None
        try:
            try:
                async with asyncio.timeout(timeout):
                    result = await self._providers[dep.name].complete(call.request, dep.model, timeout=timeout)
            except TimeoutError:
                err = Timeout(f"deployment {dep.name} did not answer within {timeout:g} s", deployment=dep.name)
            except ProviderError as exc:
                err = exc
            except Exception as exc:  # noqa: BLE001 - a provider bug must not escape as a foreign type
                err = ProviderError(f"deployment {dep.name} failed: {type(exc).__name__}: {exc}", deployment=dep.name)
        except BaseException as exc:  # cancelled: nothing to learn, nothing left in flight
            self.balancer.release(lease, error=exc, latency=self.clock() - t0)
            raise
        return self._settle(lease, dep, model, call, t0, err, result)

    async def _attempt_stream(self, lease: Lease, dep: Deployment, model: str, call: _Call,
                              holder: list[Completion]) -> AsyncIterator[str]:
        """One streamed upstream call: yields deltas; an error after the first one is StreamInterrupted."""
        timeout = self._begin(dep, call)
        t0 = self.clock()
        err: BaseException | None = None
        result: Completion | None = None
        parts: list[str] = []
        try:
            agen = self._providers[dep.name].stream(call.request, dep.model, timeout=timeout).__aiter__()
            try:
                while True:
                    try:  # the deadline covers the provider, never the consumer's time between deltas
                        async with asyncio.timeout(max(t0 + timeout - self.clock(), 0.0)):
                            item = await agen.__anext__()
                    except StopAsyncIteration:
                        break
                    if isinstance(item, Completion):
                        result = item
                    elif item:
                        parts.append(item)
                        yield item
            except TimeoutError:
                err = Timeout(f"deployment {dep.name} stream did not finish within {timeout:g} s", deployment=dep.name)
            except ProviderError as exc:
                err = exc
            except Exception as exc:  # noqa: BLE001
                err = ProviderError(f"deployment {dep.name} stream failed: {type(exc).__name__}: {exc}",
                                    deployment=dep.name)
            finally:
                await agen.aclose()
        except BaseException as exc:  # cancelled, or the consumer stopped reading
            self.balancer.release(lease, error=exc, latency=self.clock() - t0)
            raise
        if err is None and result is None:
            err = ProviderError(f"deployment {dep.name} stream ended without a final completion", deployment=dep.name)
        if isinstance(err, ProviderError) and parts and not isinstance(err, StreamInterrupted):
            n_out = max(err.tokens[1], sum(len(p) for p in parts) // 4 or 1)
            n_in = err.tokens[0] or call.estimate - int(call.request.max_tokens or 256)
            err = StreamInterrupted(f"deployment {dep.name} stream cut after {len(parts)} chunks: {err}",
                                    status=err.status, deployment=dep.name, tokens=(n_in, n_out))
        holder.append(self._settle(lease, dep, model, call, t0, err, result))

    def _settle(self, lease: Lease, dep: Deployment, model: str, call: _Call, t0: float,
                err: BaseException | None, result: Completion | None) -> Completion:
        """Release the lease, charge the attempt once, record it; return the answer or raise the error."""
        latency = self.clock() - t0
        label = self.balancer.release(lease, error=err, latency=latency)
        if result is not None:
            tokens, cost = (result.input_tokens, result.output_tokens), float(result.cost)
        else:
            tokens = getattr(err, "tokens", (0, 0)) or (0, 0)
            cost = self._price(dep, tokens)
        self._charge(model, dep, tokens, cost, ok=err is None, call=call)
        if self._tpm and dep.name in self._tpm:
            self._tpm[dep.name].take(tokens[0] + tokens[1] - call.estimate)
        call.attempts.append((dep.name, label))
        if err is None and result is not None:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s attempt %d on %s: ok (%.3f s)", model, call.made, dep.name, latency)
            return result
        perr = err if isinstance(err, ProviderError) else ProviderError(str(err), deployment=dep.name)
        perr.deployment = perr.deployment or dep.name
        call.last_error = perr
        if isinstance(perr, AuthError):
            log.warning("deployment %s is misconfigured (HTTP %s) and leaves rotation", dep.name, perr.status or 401)
        log.debug("%s attempt %d on %s: %s (%.3f s): %s", model, call.made, dep.name, label, latency,
                  self._redact(str(perr)))
        raise perr

    def _backoff(self, retry: int) -> float:
        p = self.config.retry
        return self._jitter.uniform(0.0, min(p.backoff_cap, p.backoff_base * 2 ** max(retry, 0)))

    # availability, limits, budgets -----------------------------------------------------------
    def _rate_ok(self, name: str, call: _Call) -> bool:
        rpm, tpm = self._rpm.get(name), self._tpm.get(name)
        return (rpm is None or rpm.wait_time(1) == 0.0) and (tpm is None or tpm.wait_time(call.estimate) == 0.0)

    def _local_wait(self, deps: tuple[str, ...], tried: set[str], call: _Call) -> float | None:
        """Seconds to wait when only local limits (rate, concurrency) block an otherwise usable deployment."""
        waits = []
        for n in deps:
            if n in tried:
                continue
            ok, reason, _ = self.balancer.status(n)
            if reason == AT_CAPACITY:
                waits.append(0.005)
            elif ok:
                w = max(self._rpm[n].wait_time(1) if n in self._rpm else 0.0,
                        self._tpm[n].wait_time(call.estimate) if n in self._tpm else 0.0)
                waits.append(max(w, 0.001))
        return min(waits) if waits else None

    def _within_budget(self, model: str, call: _Call) -> tuple[str, ...]:
        """The deployments of ``model`` that the budget still allows (empty when it is over budget)."""
        reason, deps = self.ledger.blocked(model, {n: self._deps[n].provider_kind for n in self._groups[model]})
        if reason is None:
            return deps
        if model not in call.budget_blocked:
            call.attempts.append((f"budget:{model}", "budget_exceeded"))
            call.budget_blocked[model] = reason
        if self.config.budgets.on_exceeded == "refuse":
            raise self._fail(BudgetExceeded, f"refused: {reason} (budgets.on_exceeded=refuse)", call)
        return ()

    def _context_window(self, model: str) -> int | None:
        if model in self.config.context_windows:
            return int(self.config.context_windows[model])
        for name in (model, *(self._deps[n].model for n in self._groups[model])):
            if name in self.catalog:
                return int(self.catalog[name].context_window)
        return None

    def _context_fallbacks(self, model: str) -> list[str]:
        if model in self.config.context_fallbacks:
            return list(self.config.context_fallbacks[model])
        own = self._context_window(model)
        if own is None:
            return []
        larger = [(w, i, m) for i, m in enumerate(self._groups) if m != model
                  for w in [self._context_window(m)] if w is not None and w > own]
        return [m for _, _, m in sorted(larger)]

    def _earliest(self, chain: list[str], call: _Call) -> tuple[str, float] | None:
        names = [n for m in chain if m not in call.done_models and m not in call.budget_blocked
                 for n in self._groups[m]]
        return self.balancer.earliest_return(names)

    # errors and secrets ----------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def _fail(self, kind: ProviderError | type[ProviderError], message: str, call: _Call, *,
              retry_after: float | None = None) -> ProviderError:
        """A clean exception for the caller: redacted, no chained SDK exception, with the request's charges."""
        base = kind if isinstance(kind, ProviderError) else None
        cls = type(base) if base is not None else kind
        kw = dict(status=base.status if base else None, deployment=base.deployment if base else None,
                  retry_after=retry_after if retry_after is not None else (base.retry_after if base else None),
                  tokens=(call.tokens_in, call.tokens_out))
        try:
            exc = cls(self._redact(message), **kw)  # type: ignore[operator]
        except TypeError:
            exc = ProviderError(self._redact(message), **kw)  # type: ignore[arg-type]
        exc.attempts = tuple(call.attempts)  # type: ignore[attr-defined]
        exc.cost = call.cost  # type: ignore[attr-defined]
        return exc

    # accounting ------------------------------------------------------------------------------
    def _price(self, dep: Deployment, tokens: tuple[int, int]) -> float:
        if not (tokens[0] or tokens[1]) or dep.model not in self.catalog:
            return 0.0
        return float(self.catalog[dep.model].cost(tokens[0], tokens[1]))

    def _charge(self, model: str, dep: Deployment, tokens: tuple[int, int], cost: float, *, ok: bool,
                call: _Call) -> None:
        self.ledger.charge(model, dep.provider_kind, dep.name, tokens, cost, ok=ok)
        call.tokens_in += int(tokens[0])
        call.tokens_out += int(tokens[1])
        call.cost += cost

    def spend(self, by: str | tuple[str, ...] = ("model", "provider")) -> Any:
        """Spend so far: answers, attempts, failed attempts, tokens and USD, grouped ``by`` any of
        ``model``, ``provider``, ``deployment``. Cache hits cost nothing here (no call was made).

        Example::

            >>> gw.spend()              # doctest: +SKIP
            >>> gw.spend("deployment")  # doctest: +SKIP
        """
        return self.ledger.frame(by)

    @property
    def total_spend(self) -> float:
        """USD charged so far over every attempt."""
        return self.ledger.total

    # reporting -------------------------------------------------------------------------------
    def stats(self) -> Any:
        """The balancer's view, one row per deployment (state, calls, failures, rates, EWMA latency, ...)."""
        df = self.balancer.stats()
        df.insert(1, "model", [self._model_of[n] for n in df["deployment"]])
        return df

    def restore(self, name: str) -> None:
        """Put a deployment back into rotation (after fixing its key), with a fresh breaker."""
        self.balancer.restore(name)

    def _log_transition(self, name: str, tr: Any) -> None:
        log.info("breaker %s: %s -> %s (%s)", name, tr.source.value, tr.target.value, tr.reason)

    async def aclose(self) -> None:
        """Close the providers' clients of the running loop and the disk cache."""
        for p in self._providers.values():
            closer = getattr(p, "aclose", None)
            if closer is not None:
                try:
                    await closer()
                except Exception:  # noqa: BLE001 - closing must not mask the caller's own error
                    pass
        if self.cache is not None:
            self.cache.close()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def _repr_html_(self) -> str:
        """The one line, then per deployment: model, provider, state, calls, failures, failure rate, reason."""
        from html import escape

        st = self.stats()
        st.insert(2, "provider", [self._deps[n].provider_kind for n in st["deployment"]])
        cols = ["deployment", "model", "provider", "state", "available", "calls", "failures", "failure_rate", "reason"]
        table = st[cols].to_html(index=False, float_format=lambda v: f"{v:.0%}", na_rep="—", border=0)
        return f"<div><b>{escape(repr(self))}</b>{table}</div>"

    def __repr__(self) -> str:
        """One line: ``Gateway: 3 models, 4 deployments (groq 2, openai 2), weighted; all available``."""
        kinds: dict[str, int] = {}
        for d in self._deps.values():
            kinds[d.provider_kind] = kinds.get(d.provider_kind, 0) + 1
        out = [n for n in self._deps if not self.balancer.status(n)[0]]
        health = f"{len(out)} not available ({', '.join(out)})" if out else "all available"
        return (f"Gateway: {len(self._groups)} model{'s' * (len(self._groups) != 1)}, {len(self._deps)} deployment"
                f"{'s' * (len(self._deps) != 1)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}), "
                f"{self.config.strategy}; {health}")
