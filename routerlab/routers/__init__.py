"""Routers decide which model answers a request; cascades and the strategy wrapper call models.

::

    Router protocol (base)        route(request) -> Decision, explain(request) -> DataFrame,
                                  route_many(requests) -> ndarray for prompt-only routers
     ├── CapabilityRouter         strategy 1: catalog capabilities, constraints, normalised cost
     ├── TaskRouter               strategy 2: task patterns / labels -> RoutingTable (learnable)
     ├── ContextWindowRouter      wraps any router: skips models whose window is too small
     ├── UtilityRouter            learned routers: predict every model's score and cost, argmax p - lambda * cost
     │    ├── LearnedRouter       similarity-weighted kNN over prompt features (learned)
     │    ├── MFRouter            RouteLLM's matrix factorisation, for N models (learners)
     │    ├── ClusterRouter       k-means clusters with per-cluster quality / cost tables (learners)
     │    ├── ClassifierRouter    a correctness classifier per model (learners)
     │    └── CalibratedCapabilityRouter  abilities per model and task fitted from outcomes (learners)
     └── FixedRouter, RandomRouter, OracleRouter   baselines
    CascadeRouter                 a Strategy: cheap -> strong, accept on agreement or a judge's verdict
    FrugalCascade                 a Strategy: cheap -> strong, a learned acceptance model per stage (FrugalGPT)
    Consensus, BestOfN            ensembles: a vote over normalised answers, or a pairwise judge (ensemble)
    LLMJudge, SimulatedJudge      injection-safe judges, live or simulated offline (judge)
    RouterStrategy                makes a one-call Strategy of any Router
    check_router                  conformance checks for your own routers

Example::

    >>> from routerlab.routers import CapabilityRouter, check_router
    >>> check_router(CapabilityRouter(preferred=["reasoning"]))
    []
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Router": "base", "BaseRouter": "base", "Batch": "base", "RouterStrategy": "base", "check_router": "base",
    "EXPLAIN_COLUMNS": "base",
    "FixedRouter": "baselines", "RandomRouter": "baselines", "OracleRouter": "baselines",
    "RoutingTable": "table",
    "TaskRouter": "task", "TaskMatcher": "task", "TaskMatch": "task", "DEFAULT_PATTERNS": "task",
    "detect_task": "task",
    "CapabilityRouter": "capability",
    "ContextWindowRouter": "context",
    "LearnedRouter": "learned",
    "UtilityRouter": "utility", "Sweep": "utility",
    "MFRouter": "learners", "ClusterRouter": "learners", "ClassifierRouter": "learners",
    "CalibratedCapabilityRouter": "learners",
    "FrugalCascade": "frugal", "LearnedAcceptance": "frugal",
    "CascadeRouter": "cascade", "Agreement": "cascade", "JudgeVerdict": "cascade",
    "builtin_strategies": "defaults",
    "Consensus": "ensemble", "BestOfN": "ensemble",
    "LLMJudge": "judge", "SimulatedJudge": "judge", "JudgeResult": "judge",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'routerlab.routers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
