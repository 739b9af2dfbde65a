# The public names of routerlab.routers: routerlab/routers/__init__.py loads them lazily from this stub
# (lazy_loader), and type checkers read it.

from .base import (
    EXPLAIN_COLUMNS as EXPLAIN_COLUMNS,
    Batch as Batch,
    BaseRouter as BaseRouter,
    BaseStrategy as BaseStrategy,
    Router as Router,
    RouterStrategy as RouterStrategy,
)
from .baselines import FixedRouter as FixedRouter, OracleRouter as OracleRouter, RandomRouter as RandomRouter
from .capability import CapabilityRouter as CapabilityRouter
from .cascade import Agreement as Agreement, CascadeRouter as CascadeRouter, JudgeVerdict as JudgeVerdict, Signal as Signal
from .checks import check_router as check_router
from .context import ContextWindowRouter as ContextWindowRouter
from .defaults import builtin_strategies as builtin_strategies
from .ensemble import BestOfN as BestOfN, Consensus as Consensus
from .judge import JudgeResult as JudgeResult, LLMJudge as LLMJudge, SimulatedJudge as SimulatedJudge
from .frugal import FrugalCascade as FrugalCascade, LearnedAcceptance as LearnedAcceptance
from .learned import LearnedRouter as LearnedRouter
from .learners import (
    CalibratedCapabilityRouter as CalibratedCapabilityRouter,
    ClassifierRouter as ClassifierRouter,
    ClusterRouter as ClusterRouter,
    MFRouter as MFRouter,
)
from .params import DerivedDefault as DerivedDefault, Params as Params, check_params as check_params, clone as clone
from .table import RoutingTable as RoutingTable
from .task import (
    DEFAULT_PATTERNS as DEFAULT_PATTERNS,
    TaskMatch as TaskMatch,
    TaskMatcher as TaskMatcher,
    TaskRouter as TaskRouter,
    detect_task as detect_task,
)
from .utility import Sweep as Sweep, UtilityRouter as UtilityRouter
