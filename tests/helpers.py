"""Small, real test doubles for routers (the real routers are tested in tests/routers)."""

from __future__ import annotations

import numpy as np

from routerlab.types import Answer, Completion, Decision


class ConstantRouter:
    """Always the same model; prompt-only so the harness may take the vectorised path."""

    prompt_only = True

    def __init__(self, model: str) -> None:
        self.model = model

    def route(self, request):
        return Decision(self.model, reason="constant")

    def route_many(self, prompts):
        return np.full(len(prompts), self.model, dtype=object)


class ByLengthRouter:
    """Short prompts to a cheap model, long ones to a strong one: decisions differ per prompt."""

    prompt_only = True

    def __init__(self, cheap: str, strong: str, limit: int = 600) -> None:
        self.cheap, self.strong, self.limit = cheap, strong, limit

    def route(self, request):
        return Decision(self.cheap if len(request.prompt) < self.limit else self.strong)

    def route_many(self, prompts):
        return np.where(prompts["prompt"].str.len().to_numpy() < self.limit, self.cheap, self.strong).astype(object)


class TwoStepStrategy:
    """A cascade-like strategy: asks a cheap model, then a strong one when the prompt id is even."""

    name = "two-step"

    def __init__(self, cheap: str, strong: str) -> None:
        self.cheap, self.strong = cheap, strong

    async def answer(self, request, caller):
        first = await caller.complete(request, self.cheap)
        if int(request.prompt_id.rsplit("#", 1)[-1]) % 2:
            return Answer.single(first, stage=0)
        second = await caller.complete(request, self.strong)
        return Answer.sequential([first, second], second, stage=1)


async def collect(items):
    """A provider's or the Gateway's stream drained: ``(text deltas, final Completion or None)``."""
    deltas, final = [], None
    async for item in items:
        if isinstance(item, Completion):
            final = item
        else:
            deltas.append(item)
    return deltas, final


def catalog_entry(**changes):
    """One model of a catalog file (every required field, valid), with ``changes`` at dotted paths
    (``catalog_entry(**{"price.input": -1})``)."""
    from routerlab.catalog import CAPABILITIES

    entry = {"provider": "openai", "context": 32000,
             "price": {"input": 1, "output": 2, "as_of": "2026-01-01", "source": "me"},
             "capabilities": {c: 5 for c in CAPABILITIES},
             "latency": {"ttft_p50": 0.3, "ttft_sigma": 0.2, "tps_p50": 50, "tps_sigma": 0.1}}
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = entry
        for key in parents:
            node = node[key]
        node[last] = value
    return entry
