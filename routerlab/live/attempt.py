"""Layer 3 of the Gateway: one attempt on one deployment, and the state one request carries across attempts.

:class:`Attempts` makes one upstream call through a deployment's provider under its deadline and
settles it exactly once: the lease goes back to the load balancer (which reads the error's kind), the
tokens and USD go to the spend ledger and the request's totals, the rate-limit buckets are corrected,
and the attempt is recorded as ``(deployment, outcome)``. A failure is raised as a routerlab error; a
stream cut after text went out becomes :class:`~routerlab.errors.StreamInterrupted`. A whole-answer
call is one awaited ``provider.complete``; a streamed one hands each delta to the request's ``sink``.

Example::

    >>> completion = await gateway._attempts.run(call, lease, "gpt-4o-mini")   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..catalog import Catalog
from ..errors import ProviderError, StreamInterrupted, Timeout
from ..types import Completion, Request
from .balancer import Lease, LoadBalancer
from .config import Deployment, RetryPolicy
from ..tokens import count_message_tokens
from .quota import DeploymentLimits, Reservation, SpendLedger

__all__ = ["Attempts", "CallState", "Item"]

log = logging.getLogger("routerlab.gateway")
Item = str | Completion
"""What a stream yields: text deltas, then one final Completion."""
Sink = Callable[[str], Awaitable[None]]
"""Where a streamed call's text deltas go, in order, as they arrive."""


def with_changes(c: Completion, **changes: Any) -> Completion:
    """``dataclasses.replace`` for the hot path (Completion has no __post_init__): a copy with changes."""
    new = object.__new__(Completion)
    new.__dict__.update(c.__dict__)
    new.__dict__.update(changes)
    return new


class CallState:
    """One request's state across the Gateway's three layers.

    ``sink`` receives a streamed call's text deltas (None: a whole-answer call);
    ``chain`` is the models to walk (it grows when a context fallback applies) and ``pos`` the position
    of the next one; ``attempts``, ``tokens_in``/``tokens_out`` and ``cost`` (USD) are the request's
    totals; ``made`` counts upstream calls against the retry budget; ``tried`` are the deployments tried
    in the current pass, ``barred`` those whose error kind rules out another attempt, ``done_models`` the
    models that cannot answer this request.
    """

    __slots__ = ("request", "sink", "use_cache", "wait", "primary", "chain", "pos", "attempts", "tokens_in",
                 "tokens_out", "cached_tokens", "cache_write_tokens", "cost", "made", "last_error", "done_models",
                 "tried", "barred", "backoff_due", "budget_blocked", "_estimate", "start", "wait_deadline",
                 "progressed", "reservation", "_prompt_tokens")

    def __init__(self, request: Request, chain: list[str], *, sink: Sink | None, use_cache: bool, wait: bool,
                 start: float, max_wait: float) -> None:
        self.request, self.sink, self.use_cache, self.wait = request, sink, use_cache, wait
        self.primary, self.chain, self.pos = chain[0], chain, 0
        self.attempts: list[tuple[str, str]] = []
        self.tokens_in = self.tokens_out = self.cached_tokens = self.cache_write_tokens = self.made = 0
        self.cost = 0.0
        self.reservation: Reservation | None = None  # what the attempt in flight holds against the budgets
        self._prompt_tokens: int | None = None
        self.last_error: ProviderError | None = None
        self.done_models: set[str] = set()
        self.tried: set[str] = set()
        self.barred: set[str] = set()
        self.backoff_due = self.progressed = False
        self.budget_blocked: dict[str, str] = {}
        self._estimate: int | None = None
        self.start, self.wait_deadline = start, start + max_wait

    @property
    def estimate(self) -> int:
        """A rough token count of the call (prompt characters / 4 + the output budget), for rate limits."""
        if self._estimate is None:
            self._estimate = max(1, len(self.request.text) // 4) + int(self.request.max_tokens or 256)
        return self._estimate

    def prompt_tokens(self) -> int:
        """The prompt's tokens (cl100k, message overheads included), counted once per request."""
        if self._prompt_tokens is None:
            self._prompt_tokens = count_message_tokens(self.request.messages_as_dicts())
        return self._prompt_tokens

    def next_model(self) -> str | None:
        """The next model of the chain this pass may still try (None at the end of the chain)."""
        while self.pos < len(self.chain):
            self.pos += 1
            if self.chain[self.pos - 1] not in self.done_models:
                return self.chain[self.pos - 1]
        return None

    def new_pass(self) -> None:
        self.pos, self.progressed = 0, False
        self.tried.clear()

    def trail(self) -> str:
        """The attempts so far as ``P1 server_error, P2 ok``."""
        return ", ".join(f"{d} {o}" for d, o in self.attempts)


class Attempts:
    """One attempt at a time, settled once (the Gateway's layer 3).

    ``deployments`` and ``providers`` map a deployment name to its config and provider; the balancer,
    rate limits, ledger and catalog are the Gateway's; ``retry`` supplies the default per-attempt
    deadline; ``redact`` scrubs key values from logged messages.
    """

    def __init__(self, *, deployments: Mapping[str, Deployment], providers: Mapping[str, Any],
                 balancer: LoadBalancer, limits: DeploymentLimits, ledger: SpendLedger, catalog: Catalog,
                 retry: RetryPolicy, clock: Callable[[], float], redact: Callable[[str], str]) -> None:
        self.deployments, self.providers = deployments, providers
        self.balancer, self.limits, self.ledger, self.catalog = balancer, limits, ledger, catalog
        self.retry, self.clock, self._redact = retry, clock, redact

    async def run(self, call: CallState, lease: Lease, model: str) -> Completion:
        """One upstream call under its deadline; returns its Completion or raises its error (a stream cut after
        text went out as StreamInterrupted). A stream's deltas go to ``call.sink`` as they arrive. Settled
        exactly once: the lease released, the tokens charged, the attempt recorded."""
        dep = self.deployments[lease.deployment]
        timeout = self._begin(dep, call)
        t0 = self.clock()
        parts: list[str] = []
        result: Completion | None = None
        failure: BaseException | None = None
        provider = self.providers[dep.name]
        try:
            if call.sink is not None:
                result = await self._stream(provider, call, dep, timeout, t0 + timeout, parts)
            else:
                async with asyncio.timeout(timeout):
                    result = await provider.complete(call.request, dep.model, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - normalised below: a provider bug must not escape as a foreign type
            failure = exc
        except BaseException as exc:  # cancelled, or the consumer stopped reading: nothing to learn
            self.balancer.release(lease, error=exc, latency=self.clock() - t0)
            self._release_budget(call)
            raise
        return self._settle(call, lease, dep, model, t0, self._as_error(failure, dep, call, parts, result), result)

    async def _stream(self, provider: Any, call: CallState, dep: Deployment, timeout: float, deadline: float,
                      parts: list[str]) -> Completion | None:
        """A streamed answer: each pull cut at ``deadline`` (clock time), each delta handed to ``call.sink``
        outside it (the deadline covers the provider, never the consumer's time); the final Completion."""
        assert call.sink is not None
        it = provider.stream(call.request, dep.model, timeout=timeout).__aiter__()
        try:
            while True:
                async with asyncio.timeout(max(deadline - self.clock(), 0.0)):
                    try:
                        item = await it.__anext__()
                    except StopAsyncIteration:
                        return None
                if isinstance(item, Completion):  # a provider's last item
                    return item
                if item:
                    parts.append(item)
                    await call.sink(item)
        finally:
            closer = getattr(it, "aclose", None)
            if closer is not None:
                await closer()

    def _as_error(self, failure: BaseException | None, dep: Deployment, call: CallState, parts: list[str],
                  result: Completion | None) -> ProviderError | None:
        """The attempt's outcome as a routerlab error (None for an answer)."""
        if failure is None:
            if result is not None:
                return None
            return ProviderError(f"deployment {dep.name} stream ended without a final completion", deployment=dep.name)
        if isinstance(failure, TimeoutError):
            timeout = dep.timeout or self.retry.timeout
            err: ProviderError = Timeout(f"deployment {dep.name} did not answer within {timeout:g} s",
                                         deployment=dep.name)
        elif isinstance(failure, ProviderError):
            err = failure
        else:
            err = ProviderError(f"deployment {dep.name} failed: {type(failure).__name__}: {failure}",
                                deployment=dep.name)
        if parts and not isinstance(err, StreamInterrupted):  # text went out: a retry would emit it twice
            n_out = max(err.tokens[1], sum(len(p) for p in parts) // 4 or 1)
            n_in = err.tokens[0] or call.estimate - int(call.request.max_tokens or 256)
            err = StreamInterrupted(f"deployment {dep.name} stream cut after {len(parts)} chunks: {err}",
                                    status=err.status, deployment=dep.name, tokens=(n_in, n_out))
        return err

    def _begin(self, dep: Deployment, call: CallState) -> float:
        """Admit the attempt: count it, take its rate-limit share; returns its deadline in seconds."""
        call.made += 1
        if self.limits:
            self.limits.take(dep.name, call.estimate)
        return dep.timeout or self.retry.timeout

    def _settle(self, call: CallState, lease: Lease, dep: Deployment, model: str, t0: float,
                err: ProviderError | None, result: Completion | None) -> Completion:
        """Release the lease, charge the attempt once, record it; return the answer or raise the error."""
        latency = self.clock() - t0
        newly_out = err is not None and err.kind.out_of_rotation and dep.name not in self.balancer.misconfigured()
        label = self.balancer.release(lease, error=err, latency=latency)
        if result is not None:
            tokens, cost = (result.input_tokens, result.output_tokens), float(result.cost)
            cache = (result.cached_tokens, result.cache_write_tokens)
        else:
            tokens, cache = (err.tokens if err is not None else (0, 0)), (0, 0)
            cost = self._price(dep, tokens)
        self._charge(model, dep, tokens, cache, cost, ok=err is None, call=call)
        self._release_budget(call)
        if self.limits:
            self.limits.settle(dep.name, call.estimate, tokens[0] + tokens[1])
        call.attempts.append((dep.name, label))
        if err is None and result is not None:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s attempt %d on %s: ok (%.3f s)", model, call.made, dep.name, latency)
            return result
        assert err is not None  # _as_error returns an error whenever there is no result
        err.deployment = err.deployment or dep.name
        call.last_error = err
        if newly_out:
            log.warning("deployment %s is misconfigured (HTTP %s) and leaves rotation until gateway.restore(%r)",
                        dep.name, err.status, dep.name)
        log.debug("%s attempt %d on %s: %s (%.3f s): %s", model, call.made, dep.name, label, latency,
                  self._redact(str(err)))
        raise err

    def _price(self, dep: Deployment, tokens: tuple[int, int]) -> float:
        if not (tokens[0] or tokens[1]) or dep.model not in self.catalog:
            return 0.0
        return float(self.catalog[dep.model].cost(tokens[0], tokens[1]))

    def _charge(self, model: str, dep: Deployment, tokens: tuple[int, int], cache: tuple[int, int], cost: float, *,
                ok: bool, call: CallState) -> None:
        self.ledger.charge(model, dep.provider_kind, dep.name, tokens, cost, ok=ok, cached=cache[0],
                           cache_write=cache[1])
        call.tokens_in += int(tokens[0])
        call.tokens_out += int(tokens[1])
        call.cached_tokens += int(cache[0])
        call.cache_write_tokens += int(cache[1])
        call.cost += cost

    def _release_budget(self, call: CallState) -> None:
        if call.reservation is not None:
            self.ledger.release(call.reservation)
            call.reservation = None
