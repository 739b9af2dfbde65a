"""Where an Experiment's units run: this process (:class:`LocalExecutor`) or a Ray cluster (:class:`RayExecutor`).

::

    base      Plan (one strategy's units in a run), the Executor protocol, resolve("local" | "ray" | object)
    leases    UnitFeed: units leased in the results store before they are called (no unit paid twice)
    local     LocalExecutor: the event loop of this process, forked replay workers
    ray       RayExecutor: units as Ray tasks, rows written by this process (optional extra ``ray``)

Example::

    >>> from routerlab.harness.executors import LocalExecutor
    >>> LocalExecutor(lease_seconds=30)
    LocalExecutor(workers=1, lease_seconds=30.0)
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
