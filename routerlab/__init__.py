"""routerlab: which LLM should answer which prompt, how sure you can be, and how to ship it.

Everything a notebook needs is importable from here; submodules load on first use, so
``import routerlab`` is fast and the production runtime (``routerlab.runtime``) pulls in neither
pandas nor Jupyter.

Example::

    >>> import routerlab as rl
    >>> ds = rl.datasets.load("zeroeval")
    >>> res = rl.Experiment(ds, models=["gpt-4o", "gpt-4o-mini"]).run()   # doctest: +SKIP
    >>> res.summary()                                                      # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # core data
    "Message": "types", "Request": "types", "Completion": "types", "Usage": "types", "Decision": "types",
    "Answer": "types", "Caller": "types", "Strategy": "types",
    # errors
    **{name: "errors" for name in (
        "RouterlabError", "ConfigError", "UnknownModelError", "NotFittedError", "DatasetError",
        "MissingOutcomeError", "NoModelFitsError", "StoreError", "ProviderError", "RateLimited", "Timeout",
        "ConnectionFailed", "ServerError", "BadRequest", "ContextTooLong", "AuthError", "MalformedResponse",
        "StreamInterrupted", "Unavailable")},
    # catalog and data
    "Catalog": "catalog", "ModelSpec": "catalog", "Capability": "catalog", "Price": "catalog",
    "LatencyProfile": "catalog", "ModelDeprecationWarning": "catalog",
    "Dataset": "datasets", "Outcomes": "datasets", "load_dataset": "datasets:load",
    "count_tokens": "tokens",
    # replay, experiment, results
    "ReplayCaller": "providers.replay", "Experiment": "experiment", "Results": "results",
    "ResultStore": "store", "fingerprint": "experiment", "replay_rows": "experiment",
    # scoring
    **{name: "scoring" for name in (
        "Score", "Scorer", "score_many", "ExactMatch", "Contains", "RegexScorer", "MultipleChoice", "Passthrough",
        "ZeroEvalMath", "ZeroEvalCrux", "MathEquivalence", "scorer_for_task", "extract_answer",
        "normalize_answer", "math_equivalent")},
    # live path
    "Provider": "providers", "ProviderConfig": "providers", "make_provider": "providers",
    "ProviderServer": "server", "Faults": "server", "Window": "server", "answers_from_dataset": "server",
    "local_gateway": "local",
    "Gateway": "gateway", "GatewayConfig": "gateway_config", "Deployment": "gateway_config",
    "LoadBalancer": "balancer", "CircuitBreaker": "balancer", "ProviderHealth": "balancer",
    "ResponseCache": "cache", "SemanticCache": "cache", "HashingEmbedder": "cache", "MiniLMEmbedder": "cache",
    "Embedder": "cache", "cache_key": "cache",
    "BreakerConfig": "breaker", "BreakerState": "breaker", "BudgetExceeded": "quota", "TokenBucket": "quota",
    "SpendLedger": "quota", "RetryPolicy": "gateway_config", "BudgetPolicy": "gateway_config",
    "CacheSettings": "gateway_config",
    # routers, cascades, ensembles, judges
    **{name: "routers" for name in (
        "RouterStrategy", "check_router", "CapabilityRouter", "TaskRouter", "RoutingTable",
        "ContextWindowRouter", "LearnedRouter", "FixedRouter", "RandomRouter", "OracleRouter", "CascadeRouter",
        "Agreement", "JudgeVerdict", "detect_task", "builtin_strategies")},
    "Consensus": "ensemble", "BestOfN": "ensemble", "LLMJudge": "judge", "SimulatedJudge": "judge",
    # statistics
    **{name: "stats" for name in (
        "compare", "compare_many", "bradley_terry", "plan", "ABTest", "ABResult", "PowerPlan",
        "holm", "benjamini_hochberg", "wilson_interval", "mcnemar_exact", "paired_bootstrap", "srm_check")},
    # notebooks
    "Dashboard": "viz.dashboard", "recommend": "viz.dashboard", "save_frontier_png": "viz",
    # production
    "RuntimeRouter": "runtime:Router",
}

_SUBMODULES = {"datasets", "scoring", "stats", "metrics", "routers", "ensemble", "judge", "viz", "export", "runtime",
               "providers", "server", "gateway", "gateway_config", "balancer", "breaker", "quota", "cache",
               "catalog", "types", "errors", "magic", "experiment", "results", "store", "tokens", "local"}

__all__ = sorted(_EXPORTS) + ["__version__", "load_ipython_extension"]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is not None:
        module, _, attr = target.partition(":")
        value = getattr(importlib.import_module(f".{module}", __name__), attr or name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'routerlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext routerlab`` registers the ``%route`` / ``%%route`` magics."""
    from .magic import load_ipython_extension as _load

    _load(ipython)
