"""The live Caller: load balancer + circuit breakers + one retry loop + fallbacks + response cache.

A model name maps to one or more :class:`~routerlab.live.config.Deployment` s. A request goes through
three layers, each one loop with one job (the way httpx goes send → auth → redirects → one request):

1. **the fallback chain** (:meth:`Gateway._walk_chain`): the requested model, then its configured
   fallbacks (and, for a prompt too long for a model, the models with a larger context window), in
   passes until a model answers, the retry budget is spent, or nothing is available;
2. **one model's deployments** (:meth:`Gateway._serve_model`): the response cache first, then a
   deployment picked by the :class:`~routerlab.live.balancer.LoadBalancer` per attempt;
3. **one attempt** (:class:`~routerlab.live.attempt.Attempts`): one call through the deployment's provider (official
   SDK, ``max_retries=0``) under a per-attempt deadline, released, charged and logged exactly once.

What happens after a failed attempt is read from the error's kind (:data:`routerlab.errors.ERROR_KINDS`):
retry (after a full-jitter backoff), another deployment, the next model, or the caller. ``Retry-After``
becomes that deployment's cooldown; 401/403 take a deployment out of rotation; a 400 for the request
itself is raised at once, except that a prompt too long for a model moves to a model with a larger
context window. When nothing can take the call it fails fast with :class:`~routerlab.errors.Unavailable`
naming when the earliest deployment returns (or waits for it with ``retry.wait_for_available``).
Semantics: ``shared/RELIABILITY.md``.

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

from ..catalog import Catalog
from ..providers.base import Secret
from ..errors import ConfigError, ContextTooLong, ProviderError, UnknownModelError, Unavailable
from ..types import Completion, Request
from .attempt import Attempts, CallState, Item, Sink, with_changes
from .balancer import AT_CAPACITY, Lease, LoadBalancer
from .cache import ResponseCache, SemanticCache
from .caching import GatewayCaches
from .config import Deployment, GatewayConfig
from .diagnostics import Diagnostics
from .quota import BudgetExceeded, TokenBucket
from .state import open_state

__all__ = ["Gateway", "Deployment", "GatewayConfig", "BudgetExceeded", "TokenBucket"]

log = logging.getLogger("routerlab.gateway")


class _Failure:
    """A streamed call's error, handed from the producing task to the consumer, who raises it."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Gateway:
    """The live :class:`~routerlab.types.Caller`: ``await gateway.complete(request, model)``.

    Build it with :meth:`from_config` (a YAML file or a dict, see :mod:`routerlab.live.config`).
    ``providers`` (deployment name → provider) or ``provider_factory`` replace the SDK providers (tests,
    custom hosts); ``clock`` (monotonic seconds) and ``rng`` make breakers, balancing and backoff
    deterministic; ``cache``/``semantic_cache`` override the configured caches. ``gateway.diagnostics``
    holds warm-up, fallback checks and the Unavailable report.

    Example::

        >>> gw = Gateway.from_config({"models": {"gpt-4o-mini": {"deployments": [
        ...     {"name": "P1", "provider": "openai", "model": "gpt-4o-mini",
        ...      "base_url": "http://127.0.0.1:8000/v1", "api_key_env": "P1_KEY"}]}}})  # doctest: +SKIP
        >>> gw.complete_sync(Request.from_prompt("2+2?"), "gpt-4o-mini").text            # doctest: +SKIP
        '4'
    """

    def __init__(self, config: GatewayConfig | Mapping[str, Any] | str | os.PathLike[str], *,
                 providers: Mapping[str, Any] | None = None,
                 provider_factory: Callable[[Deployment], Any] | None = None,
                 clock: Callable[[], float] | None = None, rng: random.Random | None = None,
                 catalog: Catalog | None = None, cache: ResponseCache | None = None,
                 semantic_cache: SemanticCache | None = None) -> None:
        cfg = self.config = GatewayConfig.load(config)
        self.clock = clock or time.monotonic
        self._jitter = rng if rng is not None else random.Random(cfg.seed ^ 0x5EED)
        self.catalog = catalog if catalog is not None else cfg.load_catalog()
        self.state = open_state(cfg.state, clock=self.clock)  # this process's memory, or shared (Redis)
        self.balancer = LoadBalancer(strategy=cfg.strategy, breaker=cfg.breaker, clock=self.clock,
                                     rng=rng if rng is not None else random.Random(cfg.seed),
                                     on_transition=self._log_transition, max_cooldown=cfg.retry.max_cooldown,
                                     breakers=self.state.breakers(), cooldowns=self.state.cooldowns(self.clock))
        self._deps = {d.name: d for d in cfg.deployments}
        self._model_of = {d.name: m for m, deps in cfg.models.items() for d in deps}
        self._groups = {m: tuple(d.name for d in deps) for m, deps in cfg.models.items()}
        for d in cfg.deployments:
            self.balancer.add(d.name, d.weight, max_concurrency=d.max_concurrency)
        self._windows: dict[str, int | None] = {}
        self._limits = self.state.limits({d.name: (d.rpm, d.tpm) for d in cfg.deployments}, clock=self.clock)
        self._secrets: tuple[Secret, ...] = ()
        self._providers = self._build_providers(providers, provider_factory)
        self._secrets = self._secret_values()
        self.caches = GatewayCaches(
            cache if cache is not None else self.state.exact_cache(cfg.cache.directory),
            semantic_cache if semantic_cache is not None else SemanticCache(
                threshold=cfg.cache.threshold, cross_model=cfg.cache.cross_model) if cfg.cache.semantic else None,
            self.catalog, redact=self._redact)
        self.ledger = self.state.ledger(cfg.budgets)
        self._budgeted = cfg.budgets.total is not None or bool(cfg.budgets.per_model) or bool(cfg.budgets.per_provider)
        self._attempts = Attempts(deployments=self._deps, providers=self._providers, balancer=self.balancer,
                                  limits=self._limits, ledger=self.ledger, catalog=self.catalog, retry=cfg.retry,
                                  clock=self.clock, redact=self._redact)
        self.diagnostics = Diagnostics(providers=self._providers, balancer=self.balancer, config=cfg,
                                       probe=self._probe, redact=self._redact, clock=self.clock)

    # construction ----------------------------------------------------------------------------
    @classmethod
    def from_config(cls, source: str | os.PathLike[str] | Mapping[str, Any] | GatewayConfig, **kwargs: Any) -> Gateway:
        """A Gateway from a YAML/JSON file path or a dict (validated; errors name the bad field).

        Example::

            >>> gw = Gateway.from_config("gateway.yaml")   # doctest: +SKIP
        """
        return cls(GatewayConfig.load(source), **kwargs)

    def _build_providers(self, given: Mapping[str, Any] | None,
                         factory: Callable[[Deployment], Any] | None) -> dict[str, Any]:
        """One provider per deployment; one whose key is missing is reported and left out of rotation."""
        out: dict[str, Any] = {}
        for name, d in self._deps.items():
            if given is not None and name in given:
                out[name] = given[name]
                continue
            if factory is None and d.model not in self.catalog:
                raise ConfigError(f"{self.config.source}: {self.config.where(name)}.model: {d.model!r} is not in "
                                  "the catalog; add it in a catalog file and name it under 'catalog:'")
            try:
                out[name] = (factory or self._default_factory)(d)
            except ConfigError as exc:  # e.g. the key variable is not set: report, keep the others serving
                reason = self._redact(str(exc))
                self.balancer.mark_misconfigured(name, reason)
                log.warning("deployment %s is out of rotation: %s", name, reason)
        return out

    def _default_factory(self, d: Deployment) -> Any:
        from ..providers import make_provider

        return make_provider(d.provider_kind, base_url=d.base_url, api_key_env=d.api_key_env, deployment=d.name,
                             timeout=d.timeout or self.config.retry.timeout, catalog=self.catalog, compat=d.compat)

    def _secret_values(self) -> tuple[Secret, ...]:
        """The keys of every variable a deployment names, wrapped, longest first: scrubbed from messages.
        They are held only to be found in text; no attribute of the Gateway is a key as a plain string."""
        names = {d.api_key_env for d in self._deps.values()} | {
            getattr(p, "api_key_env", None) for p in self._providers.values()}
        keys = {(e, v) for e in names if isinstance(e, str) for v in [os.environ.get(e, "")] if len(v) >= 6}
        return tuple(Secret(v, env=e) for e, v in sorted(keys, key=lambda ev: len(ev[1]), reverse=True))

    @property
    def models(self) -> list[str]:
        """The model names this gateway serves."""
        return list(self._groups)

    @property
    def deployments(self) -> list[Deployment]:
        return list(self._deps.values())

    @property
    def cache(self) -> ResponseCache | None:
        """The exact response cache (None when off)."""
        return self.caches.exact

    @property
    def semantic_cache(self) -> SemanticCache | None:
        """The semantic cache (None when off)."""
        return self.caches.semantic

    @property
    def cache_write_errors(self) -> int:
        """Exact-cache writes that failed (their answers were returned, not cached)."""
        return self.caches.write_errors

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
        """Answer ``request`` with ``model``, its other deployments and, if needed, its fallbacks.

        Arguments: ``request`` (a :class:`~routerlab.types.Request`); ``model``, a model name this gateway
        serves (or a catalog alias of one); ``fallback=False`` tries ``model``'s deployments alone;
        ``wait_for_available`` overrides the config's ``retry.wait_for_available`` for this call (True:
        wait, at most ``retry.max_wait`` seconds, for the earliest deployment to return instead of failing
        fast).

        Returns the :class:`~routerlab.types.Completion` of the deployment that answered (``model`` and
        ``deployment`` say which), with the request's totals over every attempt: ``input_tokens`` and
        ``output_tokens`` (tokens; ``cached_tokens`` / ``cache_write_tokens`` of the input ones were read
        from / written to the provider's prompt cache), ``cost`` (USD, cached input at its own price),
        ``latency`` (seconds since the call, backoff and waits included) and ``attempts``
        (``((deployment, outcome), ...)``, outcomes being :data:`~routerlab.errors.ERROR_KINDS` names). A
        cache hit has ``cached=True`` and the original call's tokens and cost.

        Raises (every one a :class:`~routerlab.errors.ProviderError` carrying ``attempts`` and ``cost``,
        with key values scrubbed from the message), each when:

        - :class:`~routerlab.errors.UnknownModelError` (a ``ConfigError``): ``model`` is not configured;
        - :class:`~routerlab.errors.InvalidRequest` (also a ``ValueError``), at once: the request cannot be
          sent (it fails to serialise or encode, or an SDK rejects it locally); no deployment is blamed;
        - :class:`~routerlab.errors.BadRequest`, at once: the provider rejects the request itself (never
          retried; a parameter the host does not take is first dropped once, see ``compat``);
        - :class:`~routerlab.errors.ContextTooLong`: the prompt fits no configured model (counted before
          sending where the window is known);
        - :class:`~routerlab.live.quota.BudgetExceeded`: a spend cap has no room for this call's estimate and
          ``budgets.on_exceeded`` is ``refuse``, or no model of the chain is within budget (the message
          names the cap, the spend and what calls in flight hold);
        - :class:`~routerlab.errors.Unavailable`: no deployment can take the call now (circuits open,
          cooling down after a Retry-After, out of rotation; ``retry_after`` says when the earliest returns),
          or every deployment stays at its rate or concurrency limit past ``retry.max_wait``;
        - the last attempt's error (:class:`~routerlab.errors.ServerError`, ``Overloaded``, ``RateLimited``,
          ``DeploymentLimit``, ``Timeout``, ``AuthError``, ``NotFound``, ...): the retry budget
          (``retry.attempts`` upstream calls) is spent, or every deployment that could answer is out.

        Example::

            >>> c = await gw.complete(Request.from_prompt("hi"), "gpt-4o-mini")   # doctest: +SKIP
            >>> c.text, c.cost, c.attempts                                         # doctest: +SKIP
        """
        return await self._walk_chain(self._call(request, model, fallback=fallback, wait=wait_for_available))

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
        """Yield text deltas (``str``) as they arrive, then the final Completion (as :meth:`complete`).

        Arguments are :meth:`complete`'s. No text is ever emitted twice: an attempt is retried (on another
        deployment or model) only if it failed before its first delta; a stream cut after text went out
        raises :class:`~routerlab.errors.StreamInterrupted` with the tokens consumed (and charged). The
        per-attempt deadline covers the provider's time, never the consumer's time between deltas. Every
        error of :meth:`complete` may be raised, before the first delta.

        Example::

            >>> async for item in gw.stream(Request.from_prompt("hi"), "gpt-4o"):   # doctest: +SKIP
            ...     print(item if isinstance(item, str) else item.cost)
        """
        queue: asyncio.Queue[Item | _Failure] = asyncio.Queue(maxsize=1)  # one delta ahead at most
        call = self._call(request, model, fallback=fallback, wait=wait_for_available, sink=queue.put)
        task = asyncio.ensure_future(self._produce(call, queue))
        try:
            while not isinstance(item := await queue.get(), Completion):
                if isinstance(item, _Failure):
                    raise item.error
                yield item
            yield item
        finally:  # the consumer stopped reading, or the call ended: nothing is left running
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _produce(self, call: CallState, queue: asyncio.Queue[Item | _Failure]) -> None:
        """Run a streamed call, its deltas going to ``queue`` (through ``call.sink``), then its end."""
        try:
            final: Item | _Failure = await self._walk_chain(call)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, who raises it
            final = _Failure(exc)
        await queue.put(final)

    def _call(self, request: Request, model: str, *, fallback: bool = True, wait: bool | None = None,
              sink: Sink | None = None, use_cache: bool = True) -> CallState:
        """A request's state: its chain (``model`` and, with ``fallback``, its fallbacks), its wait policy."""
        primary = self._resolve(model)
        policy = self.config.retry
        chain = [primary, *(self.config.fallbacks.get(primary, ()) if fallback else ())]
        return CallState(request, chain, sink=sink, use_cache=use_cache and self.caches.enabled,
                         wait=policy.wait_for_available if wait is None else bool(wait), start=self.clock(),
                         max_wait=policy.max_wait)

    async def _probe(self, request: Request, model: str) -> Completion:
        """One request to ``model`` alone: no cache, no fallback (what fallback-chain checks send)."""
        return await self._walk_chain(self._call(request, model, fallback=False, use_cache=False))

    # layer 1: the fallback chain -------------------------------------------------------------
    async def _walk_chain(self, call: CallState) -> Completion:
        """Walk the chain in passes until a model answers; between passes, fail, wait or go again."""
        while True:
            call.new_pass()
            while (model := call.next_model()) is not None:
                answer = await self._serve_model(call, model)
                if answer is not None:
                    return answer
                if call.made >= self.config.retry.attempts:
                    break
            await self._end_of_pass(call)

    async def _end_of_pass(self, call: CallState) -> None:
        """Raise when nothing more can help, wait for the earliest deployment when asked to, else return."""
        if call.made >= self.config.retry.attempts and call.last_error is not None:
            raise self._fail(call.last_error, f"{call.primary}: all {call.made} attempts failed ({call.trail()}); "
                             f"last error: {call.last_error}", call)
        if call.progressed:
            return  # another pass: deployments tried in this one may be retried
        earliest = self._earliest(call)
        if earliest is None and call.last_error is not None:  # nothing returns by itself (e.g. a 401)
            raise self._fail(call.last_error, f"{call.primary}: no deployment left ({call.trail()}); "
                             f"last error: {call.last_error}", call)
        if call.wait and earliest is not None and earliest[1] <= call.wait_deadline:
            await asyncio.sleep(max(earliest[1] - self.clock(), 0.001))
            return
        raise self._unavailable(call, earliest)

    def _to_larger_model(self, call: CallState, model: str, err: ProviderError) -> None:
        """The prompt does not fit ``model``: the models with a larger window come next in the chain."""
        call.done_models.add(model)
        bigger = [c for c in self._context_fallbacks(model) if c not in call.done_models]
        if not bigger:
            raise self._fail(err, f"{model}: {err}; no configured model has a larger context window "
                             "(add one under context_fallbacks)", call)
        call.chain = call.chain[:call.pos] + bigger + [c for c in call.chain[call.pos:] if c not in bigger]

    # layer 2: one model's deployments --------------------------------------------------------
    async def _serve_model(self, call: CallState, model: str) -> Completion | None:
        """Attempts on ``model``'s deployments (after the cache) until one answers (its answer) or none can."""
        deps = self._groups[model]
        hit = await self._from_cache(call, model)
        if hit is not None or self._too_long(call, model):
            return hit
        while call.made < self.config.retry.attempts and model not in call.budget_blocked:
            lease = await self._lease(call, model, deps)
            if lease is None:
                return None
            if self._budgeted and not self._reserve(call, model, lease):
                continue
            call.progressed = True
            try:
                answer = await self._attempts.run(call, lease, model)
            except ProviderError as err:
                if not self._after_failure(call, model, lease.deployment, err):
                    return None
                continue
            return await self._answered(call, model, lease.deployment, answer)
        return None

    async def _lease(self, call: CallState, model: str, deps: tuple[str, ...]) -> Lease | None:
        """A lease on a deployment of ``deps`` not yet tried in this pass (after any backoff due); waits
        while only local limits (rate, concurrency) block; None when none of them can take the call."""
        if call.backoff_due:
            call.backoff_due = False
            await asyncio.sleep(self._backoff(call.made - 1))
        admit = (lambda n: self._limits.ok(n, call.estimate)) if self._limits else None
        while (lease := self.balancer.acquire(deps, exclude=call.tried | call.barred, admit=admit)) is None:
            pause = self._local_wait(deps, call)
            if pause is None:
                return None
            if self.clock() + pause > call.wait_deadline:
                raise self._fail(Unavailable, f"{model}: every deployment is at its rate or concurrency limit for "
                                 f"more than {self.config.retry.max_wait:g} s", call, retry_after=pause)
            await asyncio.sleep(pause)
        call.tried.add(lease.deployment)
        return lease

    def _after_failure(self, call: CallState, model: str, deployment: str, err: ProviderError) -> bool:
        """Act on the failed attempt's kind: raise it, move to a larger model, bar the deployment, back
        off. True when another deployment of ``model`` may still answer."""
        kind = err.kind
        if kind.final:
            raise self._fail(err, str(err), call)
        if kind.context_fallback:
            self._to_larger_model(call, model, err)
            return False
        if kind.retry_same:
            call.backoff_due = True
        else:
            call.barred.add(deployment)
        if not kind.other_deployment:
            call.done_models.add(model)
        return kind.other_deployment

    async def _from_cache(self, call: CallState, model: str) -> Completion | None:
        """A cached answer of ``model`` (its text handed to a stream's sink first), or None."""
        hit = await self.caches.lookup(call.request, model, [self._deps[n] for n in self._groups[model]]) \
            if call.use_cache else None
        if hit is None:
            return None
        call.attempts.extend(hit.attempts)
        if call.sink is not None and hit.text:
            await call.sink(hit.text)
        return replace(hit, attempts=tuple(call.attempts), latency=self.clock() - call.start)

    async def _answered(self, call: CallState, model: str, deployment: str, final: Completion) -> Completion:
        """The answer as the caller sees it (the request's totals), kept in the caches."""
        if call.use_cache:
            await self.caches.store(call.request, model, self._deps[deployment], final)
        return with_changes(final, deployment=deployment, attempts=tuple(call.attempts), input_tokens=call.tokens_in,
                            output_tokens=call.tokens_out, cost=call.cost, latency=self.clock() - call.start,
                            cached_tokens=call.cached_tokens, cache_write_tokens=call.cache_write_tokens)

    def _backoff(self, retry: int) -> float:
        p = self.config.retry
        return self._jitter.uniform(0.0, min(p.backoff_cap, p.backoff_base * 2 ** max(retry, 0)))

    # availability, limits, budgets -----------------------------------------------------------
    def _local_wait(self, deps: tuple[str, ...], call: CallState) -> float | None:
        """Seconds to wait when only local limits (rate, concurrency) block an otherwise usable deployment."""
        waits = []
        for n in deps:
            if n in call.tried or n in call.barred:
                continue
            ok, reason, _ = self.balancer.status(n)
            if reason == AT_CAPACITY:
                waits.append(0.005)
            elif ok:
                waits.append(max(self._limits.wait(n, call.estimate), 0.001))
        return min(waits) if waits else None

    def _reserve(self, call: CallState, model: str, lease: Lease) -> bool:
        """Hold the attempt's estimated cost against the budgets (before it is sent). When a cap has no room:
        ``refuse`` raises BudgetExceeded; ``fallback`` bars the deployment (a provider's cap) or the model
        (the model's or the total cap) for this request. True when the attempt may go."""
        dep = self._deps[lease.deployment]
        try:
            call.reservation = self.ledger.reserve(model, dep.provider_kind, self._estimate(call, dep))
            return True
        except BudgetExceeded as exc:
            self.balancer.release(lease, error=exc)  # no call was made: says nothing about the deployment
            if self.config.budgets.on_exceeded == "refuse":
                raise self._fail(exc, f"refused: {exc} (budgets.on_exceeded=refuse)", call) from None
            call.barred.add(dep.name)
            if exc.scope != "provider" or all(n in call.barred for n in self._groups[model]):
                call.attempts.append((f"budget:{model}", "budget_exceeded"))
                call.budget_blocked[model] = str(exc)
            return False

    def _estimate(self, call: CallState, dep: Deployment) -> float:
        """An upper bound of the attempt's cost (USD): the prompt's tokens plus ``max_tokens`` (else the
        model's output limit, at most 4,096) at list price, the prompt cache ignored."""
        if dep.model not in self.catalog:
            return 0.0
        spec = self.catalog[dep.model]
        return float(spec.cost(call.prompt_tokens(), call.request.max_tokens or min(spec.max_output, 4096)))

    def _too_long(self, call: CallState, model: str) -> bool:
        """Whether the prompt (plus ``max_tokens``) is known not to fit ``model``'s window: then nothing is
        sent and the models with a larger window come next (raises ContextTooLong when there are none)."""
        window = self._context_window(model)
        reserve = int(call.request.max_tokens or 0)
        size = len(call.request.text.encode("utf-8", "surrogatepass"))
        if window is None or size + 8 * len(call.request.messages) + reserve <= window:
            return False  # a token is at least one byte: it fits without counting
        if call.prompt_tokens() + reserve <= window:
            return False
        call.attempts.append((f"context:{model}", "context_too_long"))
        self._to_larger_model(call, model, ContextTooLong(
            f"the prompt is {call.prompt_tokens():,} tokens{f' + max_tokens {reserve:,}' if reserve else ''}, more "
            f"than {model}'s context window of {window:,} tokens (counted before sending)"))
        return True

    def _context_window(self, model: str) -> int | None:
        """The model's context window in tokens, looked up once (see :meth:`GatewayConfig.window`)."""
        if model not in self._windows:
            self._windows[model] = self.config.window(model, self.catalog)
        return self._windows[model]

    def _context_fallbacks(self, model: str) -> list[str]:
        return self.config.larger_models(model, self.catalog)

    def _earliest(self, call: CallState) -> tuple[str, float] | None:
        names = [n for m in call.chain if m not in call.done_models and m not in call.budget_blocked
                 for n in self._groups[m] if n not in call.barred]
        return self.balancer.earliest_return(names)

    # errors and secrets ----------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = secret.redact(text)
        return text

    def _fail(self, kind: ProviderError | type[ProviderError], message: str, call: CallState, *,
              retry_after: float | None = None) -> ProviderError:
        """A clean exception for the caller: redacted, no chained SDK exception, with the request's charges."""
        if isinstance(kind, ProviderError):
            exc = kind.with_message(self._redact(message), tokens=(call.tokens_in, call.tokens_out))
            if retry_after is not None:
                exc.retry_after = retry_after
        else:
            exc = kind(self._redact(message), retry_after=retry_after, tokens=(call.tokens_in, call.tokens_out))
        exc.attempts = tuple(call.attempts)
        exc.cost = call.cost
        return exc

    def _unavailable(self, call: CallState, earliest: tuple[str, float] | None) -> ProviderError:
        chain = call.chain
        if call.budget_blocked and all(m in call.done_models or m in call.budget_blocked for m in chain):
            return self._fail(BudgetExceeded, f"{call.primary}: no model in the chain {' → '.join(chain)} is "
                              f"within budget: {'; '.join(call.budget_blocked.values())}", call)
        message, retry_after = self.diagnostics.unavailable_report(
            call.primary, chain, skip=call.done_models, budget_blocked=call.budget_blocked, earliest=earliest,
            last_error=call.last_error)
        return self._fail(Unavailable, message, call, retry_after=retry_after)

    # accounting ------------------------------------------------------------------------------
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

    # operations and reporting ----------------------------------------------------------------
    async def warmup(self, timeout: float = 5.0) -> Any:
        """Open a connection to every deployment (see :meth:`Diagnostics.warmup`); a DataFrame of who answered."""
        return await self.diagnostics.warmup(timeout)

    async def check_fallbacks(self, prompt: str = "Reply with the word OK.", max_tokens: int = 8) -> Any:
        """One real request to every model of every chain (see :meth:`Diagnostics.check_fallbacks`)."""
        return await self.diagnostics.check_fallbacks(prompt, max_tokens)

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
        self.caches.close()
        self.state.close()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def _repr_html_(self) -> str:
        """The one line, then per deployment: model, provider, state, calls, failures, failure rate, reason."""
        from html import escape

        st = self.stats()
        st.insert(2, "provider", [self._deps[n].provider_kind for n in st["deployment"]])
        cols = ["deployment", "model", "provider", "state", "available", "calls", "failures", "window_calls",
                "failure_rate", "reason"]
        shown = st[cols].rename(columns={"calls": "calls (all)", "failures": "failures (all)",
                                         "window_calls": "calls (window)", "failure_rate": "failure rate (window)"})
        table = shown.to_html(index=False, float_format=lambda v: f"{v:.0%}", na_rep="—", border=0)
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
