from .balancer import LoadBalancer as LoadBalancer, ProviderHealth as ProviderHealth
from .breaker import BreakerConfig as BreakerConfig, BreakerState as BreakerState, CircuitBreaker as CircuitBreaker
from .cache import (
    DEFAULT_THRESHOLD as DEFAULT_THRESHOLD,
    ResponseCache as ResponseCache,
    SemanticCache as SemanticCache,
    cache_key as cache_key,
    context_key as context_key,
)
from .config import (
    BudgetPolicy as BudgetPolicy,
    CacheSettings as CacheSettings,
    Deployment as Deployment,
    GatewayConfig as GatewayConfig,
    RetryPolicy as RetryPolicy,
)
from .diagnostics import Diagnostics as Diagnostics
from .meaning import MeaningGuard as MeaningGuard
from .gateway import Gateway as Gateway
from .quota import (
    BudgetExceeded as BudgetExceeded,
    DeploymentLimits as DeploymentLimits,
    SpendLedger as SpendLedger,
    TokenBucket as TokenBucket,
)
