from .base import Executor as Executor, Plan as Plan
from .resolve import resolve as resolve
from .leases import DEFAULT_LEASE_SECONDS as DEFAULT_LEASE_SECONDS, UnitFeed as UnitFeed, new_owner as new_owner
from .local import LocalExecutor as LocalExecutor
from .ray import RayExecutor as RayExecutor
