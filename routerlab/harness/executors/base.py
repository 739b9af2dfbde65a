"""What every executor gets from the Experiment, and how a name becomes an executor.

An executor computes the units an :class:`~routerlab.harness.Experiment` planned and writes their rows
to the Experiment's store; the Experiment plans (what is missing, what to retry), reports and reads the
results. :class:`~routerlab.harness.executors.LocalExecutor` runs in this process (and forked replay
workers); :class:`~routerlab.harness.executors.RayExecutor` fans units out to a Ray cluster.

Example::

    >>> Plan([("p1", 0)], reused=3).reused
    3
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from ...errors import ConfigError
from ..store import Unit

if TYPE_CHECKING:
    from ..experiment import Experiment

__all__ = ["Plan", "Executor", "ProgressHook", "progress_bar", "postfix", "as_strategy"]

ProgressHook = Callable[[str, pd.DataFrame], None]


@dataclass(frozen=True)
class Plan:
    """One strategy's work in a run: ``units`` to compute, in the data set's order (missing ones and the
    stored failures the retry policy calls again), ``reused`` stored rows, ``retried`` failures among the
    units, ``failed`` stored failures in all, and ``seq``, the store's write sequence number when the plan
    was read (see :meth:`~routerlab.harness.store.ResultStore.claim`)."""

    units: list[Unit]
    reused: int = 0
    retried: int = 0
    seq: int = 0
    failed: int = 0


class Executor(Protocol):
    """Computes planned units and writes their rows to ``experiment.store``.

    ``run`` computes every unit of ``plans`` (strategy name → :class:`Plan`), writing rows as they finish
    (nothing computed is lost on an error or Ctrl-C), calling ``on_rows(name, rows)`` with each batch, and
    showing progress when ``progress``. Units another worker sharing the store holds or finishes are not
    called here (leases).
    """

    def run(self, experiment: Experiment, plans: Mapping[str, Plan], *, progress: bool,
            on_rows: ProgressHook | None) -> None: ...


def as_strategy(obj: Any) -> Any:
    """A Strategy as it is, a Router wrapped as a one-call strategy; ConfigError for anything else."""
    if hasattr(obj, "answer"):
        return obj
    if hasattr(obj, "route"):
        from ...routers import RouterStrategy

        return RouterStrategy(obj)
    raise ConfigError(f"{obj!r} is neither a Strategy (has .answer) nor a Router (has .route)")


def progress_bar(name: str, total: int, enabled: bool) -> Any:
    """A tqdm bar for one strategy's units (a widget in Jupyter, text in a terminal)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=name, unit="prompt", disable=not enabled, leave=True, dynamic_ncols=True)


def postfix(bar: Any, out: pd.DataFrame) -> None:
    """The bar's running error count and cost in USD, from the rows computed so far."""
    bar.set_postfix(errors=int((out["error_type"] != "").sum()), cost=f"${float(out['cost'].sum()):.4f}")
