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
