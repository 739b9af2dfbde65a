"""CapabilityRouter: strategy 1, the best model the catalog says can do the job within your limits.

Candidates are filtered by hard constraints, in this order (the first one that removes a model is the
one ``explain`` names, and the one a :class:`~routerlab.errors.NoModelFitsError` names when it
empties the list): ``candidates``, ``required`` capabilities, ``min_scores``, ``min_context``,
``max_latency``, ``max_cost``. A limit of ``0`` is a limit (nothing is free or instant); ``None`` means
no limit.

The survivors are scored, every term in [0, 1] so no unit can swamp another::

    score = (1 − cost_weight − latency_weight) · capability
            + cost_weight · (1 − cost_norm) + latency_weight · (1 − latency_norm)

``capability`` is the weighted mean of the ``preferred`` capability scores over 10. ``cost_norm`` is
the request's estimated cost placed between the cheapest (0) and the dearest (1) candidate on a log
scale (``cost_scale="log"``, so a model 10× cheaper gains the same whatever the currency or price
unit) or by rank (``"rank"``); ``latency_norm`` likewise on a log scale. Ties break by lower
estimated cost, then by name: the same request always gets the same model.

Example::

    >>> from routerlab.routers import CapabilityRouter
    >>> from routerlab.types import Request
    >>> r = CapabilityRouter(preferred={"reasoning": 2, "coding": 1}, required=["tools"], cost_weight=0.4)
    >>> r.route(Request.from_prompt("Refactor this function")).model
    'llama-3.1-70b'
    >>> CapabilityRouter(max_cost=0).route(Request.from_prompt("hi"))
    Traceback (most recent call last):
    ...
    routerlab.errors.NoModelFitsError: no model fits: constraint 'max_cost' (at most $0 per request) removed the last candidates (cheapest: gemma-2-2b at $0.000010); relax it
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import CAPABILITIES, Catalog
from ..errors import ConfigError, NoModelFitsError
from ..types import Decision, Request
from .base import Batch, BaseRouter, explain_frame

__all__ = ["CapabilityRouter", "CONSTRAINTS", "EXPECTED_OUTPUT_TOKENS"]

#: output tokens assumed for a request's cost and latency when its ``max_tokens`` does not say fewer
EXPECTED_OUTPUT_TOKENS = 500

#: The hard constraints, in the order they are applied.
CONSTRAINTS = ("candidates", "required", "min_scores", "min_context", "max_latency", "max_cost")


@dataclass(frozen=True)
class _Static:
    names: np.ndarray          # (m,) candidate names
    name_rank: np.ndarray      # (m,) tie-break order
    pin: np.ndarray            # (m,) USD per million input tokens
    pout: np.ndarray
    ttft: np.ndarray
    tps: np.ndarray
    window: np.ndarray
    capability: np.ndarray     # (m,) in [0, 1]
    static_removed: list[str | None]   # first static constraint that removes each model
    stage: np.ndarray          # (m,) index in CONSTRAINTS of that constraint (len(CONSTRAINTS) = kept)


def _as_weights(value: Any, where: str) -> dict[str, float]:
    if value is None:
        return {}
    items = value.items() if isinstance(value, Mapping) else ((v, 1.0) for v in value)
    out = {}
    for cap, w in items:
        if str(cap) not in CAPABILITIES:
            raise ConfigError(f"CapabilityRouter {where}: unknown capability {cap!r}; known: {list(CAPABILITIES)}")
        if not isinstance(w, (int, float)) or w < 0 or w != w:
            raise ConfigError(f"CapabilityRouter {where}[{cap!r}] must be a number >= 0, got {w!r}")
        out[str(cap)] = float(w)
    return out


def _limit(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        raise ConfigError(f"CapabilityRouter {where} must be a number >= 0 or None (no limit), got {value!r}")
    return float(value)


def _log_norm(x: np.ndarray) -> np.ndarray:
    """Each row's values placed in [0, 1] on a log scale between the row's min and max."""
    lx = np.log(np.maximum(x, 1e-15))
    lo, hi = lx.min(axis=1, keepdims=True), lx.max(axis=1, keepdims=True)
    span = hi - lo
    return np.divide(lx - lo, span, out=np.zeros_like(lx), where=span > 0)


def _rank_norm(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    m = x.shape[1]
    return (rankdata(x, axis=1, method="average") - 1) / max(m - 1, 1)


@dataclass(eq=False, repr=False)
class CapabilityRouter(BaseRouter):
    """Strategy 1 over the catalog: hard constraints, then the best capability/cost/latency score.

    Parameters
    ----------
    catalog: model specs (default: the packaged catalog).
    candidates: model names to consider (default: every catalog model).
    required: capabilities a model must have: score ``>= present_at`` (default 5 of 10).
    preferred: capability → weight for the capability term (a list means equal weights; default
        ``{"reasoning": 1}``).
    min_scores: capability → minimum score.
    max_cost: USD per request at most (input tokens counted, ``expected_output_tokens`` assumed).
    max_latency: seconds at most (median time to first token + expected output / median token rate).
    min_context: context window in tokens at least.
    cost_weight, latency_weight: the shares of the score given to cheapness and speed (sum <= 1).
    cost_scale: ``"log"`` or ``"rank"``, how cost is normalised (see the module docstring).
    expected_output_tokens: the output length assumed for cost and latency (a request's ``max_tokens``
        caps it).
    """

    catalog: Catalog | None = None
    _: KW_ONLY
    candidates: Sequence[str] | None = None
    required: Sequence[str] = ()
    preferred: Mapping[str, float] | Sequence[str] | None = None
    min_scores: Mapping[str, float] | None = None
    max_cost: float | None = None
    max_latency: float | None = None
    min_context: int | None = None
    cost_weight: float = 0.3
    latency_weight: float = 0.0
    cost_scale: str = "log"
    expected_output_tokens: int = EXPECTED_OUTPUT_TOKENS
    present_at: float = 5.0
    name: str = "capability"

    prompt_only = True

    # -- static part (computed once per parameter set) ----------------------------------------------
    def _static(self) -> _Static:
        cached = getattr(self, "_cache_static", None)
        if cached is not None:
            return cached
        catalog = self.catalog or Catalog.default()
        names = list(dict.fromkeys(catalog.require(n, "capabilities", "capability routing").name
                                   for n in (self.candidates or catalog.names)))
        if self.candidates is not None and not names:
            raise NoModelFitsError("no model fits: constraint 'candidates' is empty; name at least one model")
        for key in ("cost_weight", "latency_weight"):
            w = getattr(self, key)
            if not isinstance(w, (int, float)) or not 0 <= w <= 1:
                raise ConfigError(f"CapabilityRouter {key} must be in [0, 1], got {w!r}")
        if self.cost_weight + self.latency_weight > 1:
            raise ConfigError("CapabilityRouter cost_weight + latency_weight must be <= 1 "
                              f"(got {self.cost_weight} + {self.latency_weight})")
        if self.cost_scale not in ("log", "rank"):
            raise ConfigError(f"CapabilityRouter cost_scale must be 'log' or 'rank', got {self.cost_scale!r}")
        if isinstance(self.required, str):
            raise ConfigError("CapabilityRouter required must be a list of capabilities, e.g. ['vision']")
        required = _as_weights(list(self.required), "required")
        mins = _as_weights(self.min_scores, "min_scores")
        preferred = _as_weights(self.preferred if self.preferred is not None else {"reasoning": 1.0}, "preferred")
        if not preferred or sum(preferred.values()) <= 0:
            raise ConfigError("CapabilityRouter preferred needs at least one capability with a weight > 0")
        for key in ("max_cost", "max_latency", "min_context"):
            _limit(getattr(self, key), key)
        specs = [catalog[n] for n in names]
        caps = np.array([[s.score(c) for c in CAPABILITIES] for s in specs], dtype=float).reshape(len(specs), -1)
        col = {c: i for i, c in enumerate(CAPABILITIES)}
        w = np.zeros(len(CAPABILITIES))
        for c, v in preferred.items():
            w[col[c]] = v
        capability = caps @ w / (10.0 * w.sum())
        removed: list[str | None] = []
        stage = []
        for k, s in enumerate(specs):
            reason, st = None, len(CONSTRAINTS)
            missing = [c for c in required if s.score(c) < self.present_at]
            low = [c for c, v in mins.items() if s.score(c) < v]
            if missing:
                reason, st = f"required: {missing[0]} {s.score(missing[0]):g} < {self.present_at:g}", 1
            elif low:
                reason, st = f"min_scores: {low[0]} {s.score(low[0]):g} < {mins[low[0]]:g}", 2
            elif self.min_context is not None and s.context_window < self.min_context:
                reason, st = f"min_context: window {s.context_window} < {self.min_context}", 3
            removed.append(reason)
            stage.append(st)
        order = np.argsort(np.array(names, dtype=object), kind="stable")
        name_rank = np.empty(len(names), dtype=np.int64)
        name_rank[order] = np.arange(len(names))
        cached = _Static(
            names=np.array(names, dtype=object), name_rank=name_rank,
            pin=np.array([s.price.input for s in specs]), pout=np.array([s.price.output for s in specs]),
            ttft=np.array([s.latency.ttft_p50 for s in specs]), tps=np.array([s.latency.tps_p50 for s in specs]),
            window=np.array([s.context_window for s in specs]), capability=capability,
            static_removed=removed, stage=np.array(stage, dtype=np.int64))
        self._cache_static = cached
        return cached

    # -- the vectorised core ------------------------------------------------------------------------
    def _evaluate(self, batch: Batch) -> dict[str, np.ndarray]:
        st = self._static()
        tin = batch.input_tokens().astype(float)
        expected = float(self.expected_output_tokens)
        tout = np.where(np.isnan(batch.max_tokens), expected, np.minimum(expected, batch.max_tokens))
        cost = (tin[:, None] * st.pin + tout[:, None] * st.pout) / 1e6
        latency = st.ttft + tout[:, None] / st.tps
        cost_norm = _log_norm(cost) if self.cost_scale == "log" else _rank_norm(cost)
        score = (1 - self.cost_weight - self.latency_weight) * st.capability + self.cost_weight * (1 - cost_norm)
        if self.latency_weight:
            score = score + self.latency_weight * (1 - _log_norm(latency))
        stage = np.broadcast_to(st.stage, cost.shape).copy()
        if self.max_latency is not None:
            stage = np.where((stage == len(CONSTRAINTS)) & (latency > self.max_latency), 4, stage)
        if self.max_cost is not None:
            stage = np.where((stage == len(CONSTRAINTS)) & (cost > self.max_cost), 5, stage)
        eligible = stage == len(CONSTRAINTS)
        ranked = np.where(eligible, np.round(score, 12), -np.inf)
        order = np.lexsort((np.broadcast_to(st.name_rank, cost.shape), cost, -ranked), axis=-1)
        return {"cost": cost, "latency": latency, "cost_norm": cost_norm, "score": score, "stage": stage,
                "eligible": eligible, "choice": order[:, 0]}

    def _fail(self, ev: dict[str, np.ndarray], row: int, request_label: str) -> NoModelFitsError:
        st = self._static()
        stage = ev["stage"][row]
        worst = int(stage.max())  # the constraint that removed the last survivors
        name = CONSTRAINTS[worst]
        survivors = np.flatnonzero(stage == worst)
        if name == "max_cost":
            k = survivors[np.argmin(ev["cost"][row, survivors])]
            detail = (f"(at most ${self.max_cost:g} per request) removed the last candidates "
                      f"(cheapest: {st.names[k]} at ${ev['cost'][row, k]:.6f})")
        elif name == "max_latency":
            k = survivors[np.argmin(ev["latency"][row, survivors])]
            detail = (f"(at most {self.max_latency:g} s) removed the last candidates "
                      f"(fastest: {st.names[k]} at {ev['latency'][row, k]:.2f} s)")
        else:
            detail = f"removed the last candidates ({st.static_removed[survivors[0]]})"
        return NoModelFitsError(f"no model fits{request_label}: constraint {name!r} {detail}; relax it")

    def route(self, request: Request) -> Decision:
        st = self._static()
        ev = self._evaluate(Batch.of([request]))
        if not ev["eligible"][0].any():
            raise self._fail(ev, 0, "")
        k = int(ev["choice"][0])
        scores = {str(st.names[j]): float(ev["score"][0, j]) for j in np.flatnonzero(ev["eligible"][0])}
        n_ok = len(scores)
        return Decision(str(st.names[k]),
                        reason=(f"best score {ev['score'][0, k]:.3f} of {n_ok} eligible "
                                f"(capability {st.capability[k]:.2f}, est. ${ev['cost'][0, k]:.6f})"),
                        scores=scores, task=request.task, router=self.name,
                        estimated_cost=float(ev["cost"][0, k]), estimated_latency=float(ev["latency"][0, k]))

    def _route_batch(self, batch: Batch) -> np.ndarray:
        st = self._static()
        ev = self._evaluate(batch)
        empty = ~ev["eligible"].any(axis=1)
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            pid = batch.prompt_ids[i]
            raise self._fail(ev, i, f" for request {i}" + (f" (prompt {pid!r})" if pid is not None else ""))
        return st.names[ev["choice"]]

    def explain(self, request: Request) -> pd.DataFrame:
        st = self._static()
        ev = self._evaluate(Batch.of([request]))
        chosen = str(st.names[ev["choice"][0]]) if ev["eligible"][0].any() else ""
        rows = []
        for j, m in enumerate(st.names):
            stage = ev["stage"][0, j]
            removed: str | None
            if stage == 4:
                removed = f"max_latency: {ev['latency'][0, j]:.2f} s > {self.max_latency:g} s"
            elif stage == 5:
                removed = f"max_cost: ${ev['cost'][0, j]:.6f} > ${self.max_cost:g}"
            else:
                removed = st.static_removed[j]
            rows.append({"model": m, "score": None if removed else float(ev["score"][0, j]), "removed_by": removed,
                         "capability": float(st.capability[j]), "est_cost": float(ev["cost"][0, j]),
                         "cost_norm": float(ev["cost_norm"][0, j]), "est_latency": float(ev["latency"][0, j]),
                         "context_window": int(st.window[j])})
        return explain_frame(rows, chosen)
