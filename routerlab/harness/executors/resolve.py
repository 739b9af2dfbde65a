"""An executor from what ``Experiment.run(executor=...)`` was given.

Example::

    >>> resolve("local")
    LocalExecutor(workers=1, lease_seconds=60.0)
"""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from .local import LocalExecutor

__all__ = ["resolve"]


def resolve(executor: Any, *, workers: int = 1) -> Any:
    """``"local"`` (this process; ``workers`` forked replay workers), ``"ray"`` (a Ray cluster: the one
    ``ray.init`` connected to, else a local one) or an executor object (anything with ``run``).

    Raises :class:`~routerlab.errors.ConfigError` for another value.
    """
    if executor is None or executor == "local":
        return LocalExecutor(workers=workers)
    if executor == "ray":
        from .ray import RayExecutor

        return RayExecutor()
    if callable(getattr(executor, "run", None)) and not isinstance(executor, str):
        return executor
    raise ConfigError(f"executor must be 'local', 'ray' or an executor object (LocalExecutor, RayExecutor), "
                      f"got {executor!r}")
