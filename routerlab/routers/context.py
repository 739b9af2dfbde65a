"""ContextWindowRouter: any router, minus the models whose context window cannot hold the request.

The request's tokens (cl100k, offline, plus chat overhead; see :func:`routerlab.routers.base.request_tokens`)
plus the output budget (the request's ``max_tokens``, else ``max_output_tokens``) must fit the
model's window. When the inner router's choice does not fit, the next-best candidate of its
``Decision.scores`` that fits is taken, then the configured ``fallbacks`` in order; when nothing fits
:class:`~routerlab.errors.NoModelFitsError` says how many tokens were needed.

Example::

    >>> from routerlab.routers import ContextWindowRouter, FixedRouter
    >>> from routerlab.types import Request
    >>> r = ContextWindowRouter(FixedRouter("gemma-2-2b"), max_output_tokens=1024, fallbacks=["gemini-1.5-flash"])
    >>> r.route(Request.from_prompt("short question")).model
    'gemma-2-2b'
    >>> r.route(Request.from_prompt("word " * 9000)).model      # 9,000+ tokens > gemma's 8,192
    'gemini-1.5-flash'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import NoModelFitsError
from ..types import Decision, Request
from .base import Batch, BaseRouter, request_tokens
from .params import DerivedDefault

__all__ = ["ContextWindowRouter"]


@dataclass(eq=False, repr=False)
class ContextWindowRouter(BaseRouter):
    """Wraps ``router`` so it never picks a model whose context window is too small for the request.

    Prompt-only when the inner router is. In ``route_many`` the window check is vectorised; the rare
    rows that do not fit the inner choice go through ``route`` (so both always agree).

    Parameters
    ----------
    router: the inner router.
    catalog: model specs for the windows (default: the packaged catalog).
    max_output_tokens: the output budget of requests without ``max_tokens`` (tokens).
    fallbacks: models to try, in order, when no candidate of the inner decision fits.
    name: default ``"<inner router's name>+context"``.
    """

    router: Any
    catalog: Catalog | None = None
    max_output_tokens: int = 1024
    _: KW_ONLY
    fallbacks: Sequence[str] = ()
    name: DerivedDefault = DerivedDefault(lambda self: f"{getattr(self.router, 'name', 'router')}+context")

    @property
    def prompt_only(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.router, "prompt_only", False))

    def _window(self, model: str) -> int:
        return (self.catalog or Catalog.default())[model].context_window

    def _needed(self, request: Request) -> tuple[int, int]:
        out = request.max_tokens if request.max_tokens is not None else self.max_output_tokens
        return request_tokens(request), int(out)

    def _candidates(self, decision: Decision) -> list[str]:
        ranked = sorted(decision.scores.items(), key=lambda kv: (-kv[1], kv[0]))
        names = [decision.model] + [m for m, _ in ranked] + list(self.fallbacks)
        return list(dict.fromkeys(names))

    def route(self, request: Request) -> Decision:
        inner = self.router.route(request)
        tin, tout = self._needed(request)
        need = tin + tout
        for model in self._candidates(inner):
            if self._window(model) >= need:
                if model == inner.model:
                    return inner
                return Decision(model, reason=(f"{inner.model}'s window {self._window(inner.model)} < {need} tokens "
                                               f"(input {tin} + output {tout}): next that fits"),
                                scores={m: s for m, s in inner.scores.items() if self._window(m) >= need},
                                task=inner.task, router=self.name)
        tried = self._candidates(inner)
        raise NoModelFitsError(f"no model fits: constraint 'context_window' removed every candidate: the request "
                               f"needs {need} tokens (input {tin} + output {tout}); largest window among "
                               f"{tried} is {max(self._window(m) for m in tried)}. Add a larger-context fallback "
                               "or lower max_output_tokens")

    def _route_batch(self, batch: Batch) -> np.ndarray:
        inner = batch if isinstance(self.router, BaseRouter) else (batch.frame if batch.frame is not None
                                                                   else batch.requests)
        chosen = np.asarray(self.router.route_many(inner), dtype=object).copy()
        out_budget = np.where(np.isnan(batch.max_tokens), self.max_output_tokens, batch.max_tokens)
        need = batch.input_tokens() + out_budget
        windows = {m: self._window(str(m)) for m in pd.unique(chosen)}
        fits = np.array([windows[m] for m in chosen]) >= need
        for i in np.flatnonzero(~fits):
            chosen[i] = self.route(batch.request(int(i))).model
        return chosen

    def explain(self, request: Request) -> pd.DataFrame:
        table = self.router.explain(request).copy()
        decision = self.route(request)
        tin, tout = self._needed(request)
        need = tin + tout
        extra = [m for m in self.fallbacks if m not in set(table["model"])]
        if extra:
            table = pd.concat([table, pd.DataFrame({"model": extra, "score": np.nan,
                                                    "removed_by": "fallback (used when nothing else fits)"})],
                              ignore_index=True)
        table["context_window"] = [self._window(m) for m in table["model"]]
        table["needed_tokens"] = need
        too_small = table["context_window"] < need
        table.loc[too_small, "removed_by"] = [f"context_window: {w} < {need} tokens" for w in
                                              table.loc[too_small, "context_window"]]
        table.loc[too_small, "score"] = np.nan
        if decision.model in set(table["model"]):
            table.loc[table["model"] == decision.model, "removed_by"] = None
            if np.isnan(table.loc[table["model"] == decision.model, "score"]).all():
                table.loc[table["model"] == decision.model, "score"] = decision.scores.get(decision.model, 0.0)
        table["chosen"] = table["model"] == decision.model
        return table
