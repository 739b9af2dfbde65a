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
    BaseStrategy                  answer(request, caller) -> Answer, answer_sync
     ├── CascadeRouter            cheap -> strong, accept on a Signal: Agreement or JudgeVerdict (cascade)
     ├── FrugalCascade            cheap -> strong, a learned acceptance model per stage: FrugalGPT (frugal)
     ├── Consensus, BestOfN       ensembles: a vote over normalised answers, or a pairwise judge (ensemble)
     └── RouterStrategy           makes a one-call Strategy of any Router
    LLMJudge, SimulatedJudge      injection-safe judges, live or simulated offline (judge)
    Params, clone                 one params mechanism for all of the above: get_params / set_params
                                  (nested a__b keys), clone, repr, validate (params)
    check_router, check_params    conformance checks for your own routers and strategies

Public names are declared in ``__init__.pyi`` and load on first use.

Example::

    >>> from routerlab.routers import CapabilityRouter, check_router
    >>> check_router(CapabilityRouter(preferred=["reasoning"]))
    []
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
