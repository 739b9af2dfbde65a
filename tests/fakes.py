"""Small, real test doubles for the router, cascade and ensemble tests."""

from __future__ import annotations

import asyncio

import numpy as np

from routerlab.types import Completion, Request


class TinyEmbedder:
    """A deterministic bag-of-words embedder (hashing words into 64 buckets), for fitting quickly."""

    def embed(self, texts):
        out = np.zeros((len(texts), 64))
        for i, t in enumerate(texts):
            for w in str(t).lower().split():
                out[i, sum(map(ord, w)) % 64] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


class ScriptedCaller:
    """A Caller whose answers, latencies and failures are scripted per model; records every call.

    ``sleep=True`` makes each call really wait its latency (scaled), as a live provider would.
    """

    def __init__(self, answers, latencies=None, *, fail=(), sleep=False, scale=0.01):
        self.answers = dict(answers)
        self.latencies = dict(latencies or {})
        self.fail = set(fail)
        self.sleep = sleep
        self.scale = scale
        self.calls: list[tuple[str, Request]] = []
        self.cancelled: list[str] = []
        self.finished: list[str] = []

    async def complete(self, request, model):
        from routerlab.errors import ServerError

        self.calls.append((model, request))
        latency = float(self.latencies.get(model, 1.0))
        if self.sleep:
            try:
                await asyncio.sleep(latency * self.scale)
            except asyncio.CancelledError:
                self.cancelled.append(model)
                raise
        if model in self.fail:
            raise ServerError(f"{model} is down", status=500)
        self.finished.append(model)
        text = self.answers[model]
        return Completion(text=text, model=model, provider="scripted", input_tokens=10, output_tokens=5,
                          cost=0.001 * (1 + list(self.answers).index(model)), latency=latency,
                          simulated_latency=not self.sleep)
