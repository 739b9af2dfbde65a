"""The live path: a Gateway over the provider SDKs, with load balancing, circuit breakers, one retry
loop, fallbacks, rate limits, budgets and response caches (semantics: ``shared/RELIABILITY.md``).

::

    gateway      Gateway: the live Caller (layers 1 and 2: the fallback chain → one model's deployments)
    attempt      Attempts (layer 3: one attempt, settled once), CallState (a request across attempts)
    config       GatewayConfig and its parts (Deployment, RetryPolicy, BudgetPolicy, CacheSettings)
    balancer     LoadBalancer, ProviderHealth: which deployment takes the next call
    breaker      CircuitBreaker, BreakerConfig: one per deployment
    quota        TokenBucket, DeploymentLimits (RPM / TPM), SpendLedger, BudgetExceeded
    cache        ResponseCache (exact, on disk), SemanticCache (similar prompts, in memory)
    caching      GatewayCaches: the Gateway's lookups and writes of both caches
    diagnostics  Diagnostics (``gateway.diagnostics``): warm-up, fallback-chain checks, the Unavailable report

Example::

    >>> from routerlab.live import Gateway
    >>> gw = Gateway.from_config("gateway.yaml")   # doctest: +SKIP
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
