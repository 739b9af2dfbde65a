"""Experiment tracking: a Results table logged to an MLflow run (optional extra ``mlflow``).

What is logged (:func:`log_to_mlflow`, ``Results.log_to_mlflow``):

- **params**: the run's settings (data set, split, seed, samples, test size) and each strategy's
  parameters as the experiment recorded them (``meta["strategy_params"]``, scikit-learn style
  ``get_params`` / dataclass fields), flattened as ``<strategy>.<param>``;
- **metrics** per strategy, with their 95 % confidence intervals: ``<strategy>.quality``,
  ``.quality_lo``, ``.quality_hi``, ``.cost_per_1k`` (USD), ``.cost_per_correct`` (USD),
  ``.latency_p50`` / ``.latency_p95`` (seconds), ``.error_rate``, ``.pareto`` (1 on the frontier);
- **artifacts**: ``frontier.png``, ``summary.csv``, ``summary.md`` and the recommended strategy's
  ``routing_table.json`` (:meth:`~routerlab.harness.Results.recommend` with default settings), with
  ``recommendation.txt`` saying why;
- **tags**: ``routerlab.version``, ``routerlab.dataset``, ``routerlab.recommended``.

Nothing secret is logged: results hold no keys, and routing tables name key variables, never values.

Example::

    >>> import mlflow                                                 # doctest: +SKIP
    >>> mlflow.set_tracking_uri("sqlite:///mlflow.db")                 # doctest: +SKIP
    >>> run_id = res.log_to_mlflow(run_name="zeroeval replay")         # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["log_to_mlflow", "METRICS"]

#: The summary columns logged as metrics, per strategy.
METRICS = ("quality", "quality_lo", "quality_hi", "cost_per_1k", "cost_per_correct", "latency_p50", "latency_p95",
           "error_rate")
_RUN_PARAMS = ("dataset", "split", "seed", "samples", "split_seed", "test_size", "train_prompts", "test_prompts")


def _key(text: str) -> str:
    """An MLflow-safe name: letters, digits, ``_ - . / space``; anything else becomes ``_``."""
    return re.sub(r"[^\w\-. /]", "_", text)[:250]


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)
    else:
        out[_key(prefix)] = json.dumps(value, default=str)[:500] if not isinstance(value, str) else value[:500]


def _params(results: Any) -> dict[str, str]:
    meta = results.meta
    out = {_key(f"run.{k}"): str(meta[k])[:500] for k in _RUN_PARAMS if k in meta}
    for name, params in (meta.get("strategy_params") or {}).items():
        _flatten(str(name), params, out)
    return out


def _metrics(summary: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, row in summary.iterrows():
        for col in METRICS:
            v = float(row[col])
            if np.isfinite(v):
                out[_key(f"{name}.{col}")] = v
        out[_key(f"{name}.pareto")] = float(bool(row["pareto"]))
    return out


def _artifacts(results: Any, summary: Any, directory: Path) -> str | None:
    """Write the artifacts into ``directory``; returns the recommended strategy (or None)."""
    from . import views

    summary.to_csv(directory / "summary.csv")
    (directory / "summary.md").write_text(summary.reset_index().to_markdown(index=False, floatfmt=".4f") + "\n",
                                          encoding="utf-8")
    fig = views.get("plot")(results, "frontier")
    fig.savefig(directory / "frontier.png", dpi=130, bbox_inches="tight")
    rec = results.recommend()
    note = rec.reason
    if rec.strategy is not None:
        try:
            doc = results.routing_table(rec.strategy).to_document()
        except ConfigError as exc:  # e.g. task detection cannot be learnt: say so beside the run
            note += f"\nNo routing table: {exc}"
        else:
            (directory / "routing_table.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (directory / "recommendation.txt").write_text(note + "\n" + rec.ab_text() + "\n", encoding="utf-8")
    return rec.strategy


def log_to_mlflow(results: Any, *, run_name: str | None = None, experiment: str | None = None,
                  tracking_uri: str | None = None, tags: Mapping[str, str] | None = None) -> str:
    """Log ``results`` to an MLflow run (see the module doc for what) and return its run id.

    Uses the active run if there is one, else starts (and ends) a new run named ``run_name`` in
    ``experiment`` (created if missing). ``tracking_uri`` overrides MLflow's own setting. Raises
    :class:`ImportError` naming the extra when MLflow is not installed.
    """
    try:
        import mlflow
    except ImportError as exc:
        raise ImportError("Results.log_to_mlflow needs MLflow: pip install 'routerlab[mlflow]'") from exc
    from .._version import __version__

    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    if experiment is not None:
        mlflow.set_experiment(experiment)
    summary = results.summary()
    active = mlflow.active_run()
    run = active if active is not None else mlflow.start_run(run_name=run_name)
    try:
        mlflow.log_params(_params(results))
        mlflow.log_metrics(_metrics(summary))
        with tempfile.TemporaryDirectory(prefix="routerlab-mlflow-") as tmp:
            chosen = _artifacts(results, summary, Path(tmp))
            mlflow.log_artifacts(tmp)
        mlflow.set_tags({"routerlab.version": __version__, "routerlab.dataset": str(results.meta.get("dataset", "")),
                         "routerlab.recommended": chosen or "", **dict(tags or {})})
        return str(run.info.run_id)
    finally:
        if active is None:
            mlflow.end_run()
