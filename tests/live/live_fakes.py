"""Test helpers for the live path: a virtual-time event loop and a deterministic fake provider.

``VirtualTimeLoop`` is an asyncio loop whose clock jumps to the next timer whenever nothing is ready, so
``asyncio.sleep(30)``, ``asyncio.timeout(2)`` and the Gateway's backoff take no wall-clock time and
every run is identical. Pass ``clock=loop.time`` to the Gateway so breakers use the same time.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from routerlab.errors import ProviderError, StreamInterrupted
from routerlab.live.gateway import Gateway
from routerlab.types import Completion, Request

T = TypeVar("T")

HANG = "hang"


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time: idle periods are skipped instantly."""

    def __init__(self) -> None:
        super().__init__()
        self._vtime = 0.0

    def time(self) -> float:
        return self._vtime

    def _run_once(self) -> None:
        sched = self._scheduled  # type: ignore[attr-defined]
        while sched and sched[0]._cancelled:
            handle = heapq.heappop(sched)
            handle._scheduled = False
            self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
        if not self._ready and sched:  # type: ignore[attr-defined]
            when = sched[0]._when
            if when > self._vtime:
                self._vtime = when
        super()._run_once()  # type: ignore[misc]


def run_virtual(fn: Callable[[VirtualTimeLoop], Coroutine[Any, Any, T]]) -> T:
    """Run ``fn(loop)`` to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(fn(loop))
    finally:
        loop.close()


Behaviour = Callable[[float, int, Request], Any]
"""(time, call index, request) -> a latency (float: success after that long), an exception instance
(raised after ``fail_latency``), ``HANG``, or a tuple ``("cut", k)`` for streams cut after k chunks."""


class FakeProvider:
    """A provider whose answers are a pure function of (virtual) time and its call index.

    ``log`` is the request log: ``(arrival time, outcome)`` for every call that reached it.
    """

    name = "fake"

    def __init__(self, deployment: str, behaviour: Behaviour | None = None, *, text: str | None = None,
                 tokens: tuple[int, int] = (20, 5), price: float = 1e-5, fail_latency: float = 0.05,
                 chunks: int = 4) -> None:
        self.deployment = deployment
        self.behaviour = behaviour or (lambda t, i, r: 0.1)
        self.text = text
        self.tokens = tokens
        self.price = price
        self.fail_latency = fail_latency
        self.chunks = chunks
        self.log: list[tuple[float, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _completion(self, request: Request, model: str, latency: float) -> Completion:
        text = self.text if self.text is not None else f"{self.deployment}:{request.prompt}"
        n_in, n_out = self.tokens
        return Completion(text=text, model=model, provider=self.name, input_tokens=n_in, output_tokens=n_out,
                          cost=(n_in + n_out) * self.price, latency=latency, deployment=self.deployment)

    async def complete(self, request: Request, model: str, *, timeout: float | None = None) -> Completion:
        t0 = self._now()
        action = self.behaviour(t0, len(self.log), request)
        self.log.append((t0, "hang" if action == HANG else type(action).__name__ if isinstance(action, BaseException)
                         else "ok"))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if action == HANG:
                await asyncio.sleep(10_000)
            if isinstance(action, BaseException):
                await asyncio.sleep(self.fail_latency)
                raise action
            await asyncio.sleep(float(action))
            return self._completion(request, model, float(action))
        finally:
            self.in_flight -= 1

    async def stream(self, request: Request, model: str, *, timeout: float | None = None) -> Any:
        t0 = self._now()
        action = self.behaviour(t0, len(self.log), request)
        self.log.append((t0, "stream"))
        cut = action[1] if isinstance(action, tuple) and action[0] == "cut" else None
        if isinstance(action, BaseException):
            await asyncio.sleep(self.fail_latency)
            raise action
        done = self._completion(request, model, 0.1)
        words = [f"w{i} " for i in range(self.chunks)]
        for i, w in enumerate(words):
            if cut is not None and i == cut:
                if i == 0:
                    raise ProviderError("connection dropped before any text", deployment=self.deployment)
                raise StreamInterrupted(f"stream cut after {i} chunks", deployment=self.deployment,
                                        tokens=(self.tokens[0], i))
            await asyncio.sleep(0.01)
            yield w
        yield Completion(text="".join(words), model=model, provider=self.name, input_tokens=done.input_tokens,
                         output_tokens=self.chunks, cost=done.cost, latency=0.1, deployment=self.deployment)

    async def aclose(self) -> None:
        return None


def three_deployments(strategy: str = "round-robin", *, open_duration: float = 30.0, timeout: float = 2.0,
                      attempts: int = 3, slow: float | None = None, slow_rate: float = 1.0,
                      extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """RELIABILITY.md's scenario config: one model ``m`` on P1, P2, P3."""
    breaker: dict[str, Any] = {"window": 20, "minimum_calls": 10, "failure_rate": 0.5,
                               "open_duration": open_duration, "half_open_probes": 3}
    if slow is not None:
        breaker.update(slow_call_duration=slow, slow_call_rate=slow_rate)
    cfg: dict[str, Any] = {
        "strategy": strategy, "seed": 7,
        "retry": {"attempts": attempts, "timeout": timeout, "backoff_base": 0.05, "backoff_cap": 0.5},
        "breaker": breaker,
        "models": {"gpt-4o-mini": {"deployments": [
            {"name": n, "provider": "openai", "model": "gpt-4o-mini"} for n in ("P1", "P2", "P3")]}},
    }
    for k, v in (extra or {}).items():
        cfg[k] = v
    return cfg


def fake_gateway(loop: asyncio.AbstractEventLoop, behaviours: dict[str, Behaviour], config: dict[str, Any],
                 **kw: Any) -> tuple[Gateway, dict[str, FakeProvider]]:
    """A Gateway on the loop's (virtual) clock with one FakeProvider per configured deployment."""
    names = [d["name"] for m in config["models"].values()
             for d in (m["deployments"] if isinstance(m, dict) else m)]
    fakes = {n: FakeProvider(n, behaviours.get(n)) for n in names}
    gw = Gateway.from_config(config, providers=fakes, clock=loop.time, rng=random.Random(11), **kw)
    return gw, fakes
