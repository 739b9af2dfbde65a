# The public surface of `import routerlab as rl`: a few dozen names a notebook uses. Everything else is
# imported from its subpackage. This stub is the one list: routerlab/__init__.py loads these names
# lazily from it (lazy_loader), and type checkers read it.

from . import (
    catalog as catalog,
    datasets as datasets,
    embeddings as embeddings,
    errors as errors,
    export as export,
    harness as harness,
    live as live,
    providers as providers,
    routers as routers,
    runtime as runtime,
    scoring as scoring,
    server as server,
    stats as stats,
    tokens as tokens,
    types as types,
    viz as viz,
)
from .catalog import Catalog as Catalog, ModelSpec as ModelSpec
from .datasets import Dataset as Dataset, Outcomes as Outcomes
from .errors import (
    ConfigError as ConfigError,
    DatasetError as DatasetError,
    ProviderError as ProviderError,
    RouterlabError as RouterlabError,
    Unavailable as Unavailable,
)
from .harness import (
    Experiment as Experiment,
    Results as Results,
    ResultStore as ResultStore,
    local_gateway as local_gateway,
)
from .live import Gateway as Gateway, GatewayConfig as GatewayConfig
from .providers.replay import ReplayCaller as ReplayCaller
from .routers import (
    BestOfN as BestOfN,
    CapabilityRouter as CapabilityRouter,
    CascadeRouter as CascadeRouter,
    Consensus as Consensus,
    ContextWindowRouter as ContextWindowRouter,
    FixedRouter as FixedRouter,
    LearnedRouter as LearnedRouter,
    LLMJudge as LLMJudge,
    OracleRouter as OracleRouter,
    RandomRouter as RandomRouter,
    RoutingTable as RoutingTable,
    SimulatedJudge as SimulatedJudge,
    TaskRouter as TaskRouter,
    check_router as check_router,
)
from .server import Faults as Faults, ProviderServer as ProviderServer
from .stats import ABTest as ABTest, compare as compare, compare_many as compare_many, plan as plan
from .tokens import count_tokens as count_tokens
from .types import (
    Answer as Answer,
    Completion as Completion,
    Decision as Decision,
    Message as Message,
    Request as Request,
)

__version__: str

def load_ipython_extension(ipython: object) -> None: ...
