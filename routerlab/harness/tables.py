"""Routing tables from an experiment's results: the decisions a strategy made, as a production table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import runtime
from ..catalog import Catalog
from ..errors import ConfigError, statuses
from ..routers.document import _provenance, model_entry, validate_document

__all__ = ["document_from_results", "task_detection", "table_fidelity", "MIN_DETECTION"]

# the statuses after which the live path retries (routerlab.errors.ERROR_KINDS), so exports agree with it
_RETRY_STATUS = statuses(lambda kind: kind.retry_same)


def _answered_alone(df: Any) -> Any:
    """The rows whose answer came from one model called alone (no cascade step, no judge), without error."""
    return df[(df["error_type"] == "") & (df["models_called"] == df["final_model"]) & (df["final_model"] != "")]


def _rank_models(results: Any) -> list[str]:
    """Models by quality (desc), then cost per answer (asc), from the rows each model answered alone."""
    stats = _answered_alone(results.df).groupby("final_model").agg(quality=("score", "mean"), cost=("cost", "mean"))
    stats = stats.sort_values(["quality", "cost"], ascending=[False, True], kind="stable")
    return [str(m) for m in stats.index]


def _clean(value: Any) -> Any:
    """A JSON-safe scalar: numpy scalars unwrapped, NaN/inf as None."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()  # numpy scalar -> Python scalar
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    return str(value)


_METRICS = ("n", "quality", "quality_lo", "quality_hi", "cost", "cost_per_1k", "cost_per_correct", "latency_p50",
            "latency_p95", "latency_p99", "error_rate", "calls_per_prompt", "simulated_latency")


#: The least share of the labelled prompts whose task the exported patterns must detect (else: refuse).
MIN_DETECTION = 0.9


def _prompt_texts(results: Any, prompts: Any) -> dict[str, str] | None:
    """prompt id → prompt text: from ``prompts`` (a Dataset, a DataFrame with ``prompt_id`` and ``prompt``,
    or a mapping), else from the bundled data set the results name (``meta["dataset"]``), else None."""
    if prompts is None:
        name = str(results.meta.get("dataset") or "").split("[")[0]
        from ..datasets import Dataset, bundled

        if name not in bundled():
            return None
        from .. import datasets

        prompts = datasets.load(name, score=False)
        assert isinstance(prompts, Dataset)
    table = getattr(prompts, "prompts", prompts)
    if isinstance(table, Mapping):
        return {str(k): str(v) for k, v in table.items()}
    if not {"prompt_id", "prompt"} <= set(getattr(table, "columns", ())):
        raise ConfigError("prompts= must be a Dataset, a DataFrame with prompt_id and prompt columns, or a mapping "
                          "prompt_id -> text")
    return dict(zip(table["prompt_id"].astype(str), table["prompt"].astype(str)))


def task_detection(results: Any, strategy: str, prompts: Any = None, *, min_accuracy: float = MIN_DETECTION) -> Any:
    """Regex task detection for the prompts ``strategy`` was replayed on, learnt from their task labels
    (:func:`~routerlab.routers.patterns.learn_patterns`) or the default patterns mapped onto them
    (:func:`~routerlab.routers.patterns.default_patterns_for`), whichever detects the labels better.

    Returns a :class:`~routerlab.routers.patterns.PatternFit`. Raises
    :class:`~routerlab.errors.ConfigError` when the prompt texts are unknown (results of a user data set:
    pass ``prompts=``) or when neither detects ``min_accuracy`` of the labelled prompts.
    """
    from ..routers.patterns import default_patterns_for, learn_patterns

    texts = _prompt_texts(results, prompts)
    where = f"results of {strategy!r} route by task label"
    if texts is None:
        raise ConfigError(f"{where}, and production prompts carry none: the exported table needs task patterns, "
                          f"learnt from the prompt texts of data set {results.meta.get('dataset')!r}, which is not "
                          "bundled. Pass prompts=<the Dataset> (CLI: --dataset PATH), tasks=[...] patterns, or "
                          "detection='labels' to export a table that routes only requests sent with task=")
    rows = results.df[(results.df["strategy"] == strategy) & (results.df["sample"] == 0)]
    labelled = rows.drop_duplicates("prompt_id")
    missing = [p for p in labelled["prompt_id"] if p not in texts]
    if missing:
        raise ConfigError(f"{where}: {len(missing)} prompt id(s) (e.g. {missing[0]!r}) are not in the prompts "
                          "given; pass the data set the results were computed on")
    text = [texts[p] for p in labelled["prompt_id"]]
    label = labelled["task"].astype(str).tolist()
    fits = [learn_patterns(text, label), default_patterns_for(text, label)]
    fit = max(fits, key=lambda f: f.accuracy)
    if fit.accuracy < min_accuracy:
        raise ConfigError(f"{where}, but the tasks cannot be told apart from the prompt text: learnt patterns detect "
                          f"{fits[0].accuracy:.1%} and the default patterns {fits[1].accuracy:.1%} of the "
                          f"{len(text):,} labelled prompts (need {min_accuracy:.0%}). Pass tasks=[...] patterns, or "
                          "detection='labels' to export a table that routes only requests sent with task=")
    return fit


def document_from_results(results: Any, strategy: str, *, n_fallbacks: int = 2, catalog: Any = None,
                          tasks: Sequence[Mapping[str, Any]] | None = None, balancer: Mapping[str, Any] | None = None,
                          retry: Mapping[str, Any] | None = None, output_reserve: int = 0,
                          name: str | None = None, prompts: Any = None, detection: str = "auto") -> dict[str, Any]:
    """A routing table that reproduces what ``strategy`` did in ``results``, and routes on its own.

    Per task: the model the strategy's answers came from most often. Per routed model: fallbacks are
    the ``n_fallbacks`` best other models of the results, ranked by quality then cost (from the rows each
    model answered alone); context-window fallbacks are the results' models with a larger window,
    smallest first. The default is the strategy's most used model overall. Provenance holds the data set,
    split, the strategy's ``summary()`` metrics with their confidence interval, and the same per task.

    Task detection: when the routes differ by task, production prompts need a task. ``tasks`` (detector
    patterns in order, as in the schema) gives it; otherwise (``detection="auto"``) patterns are learnt
    from the labelled prompts (:func:`task_detection`; texts from ``prompts`` or the bundled data set
    the results name), the default becomes the route of the task nothing matches, and
    ``provenance["task_detection"]`` records the method and the share of labelled prompts detected. A
    ConfigError says why when that is impossible. ``detection="labels"`` exports routes without
    patterns: callers must pass ``task=`` (or ``metadata.task`` for Portkey).
    """
    if detection not in ("auto", "labels"):
        raise ConfigError(f"detection must be 'auto' or 'labels', got {detection!r}")
    catalog = catalog or Catalog.default()
    if strategy not in results.strategies:
        raise ConfigError(f"unknown strategy {strategy!r}; available: {results.strategies}")
    if strategy in results.oracles:
        raise ConfigError(f"{strategy!r} reads the recorded answers (an upper bound, not a router): no routing table "
                          "can reproduce it. Export a strategy that decides from the prompt, such as a task router")
    df = results.df
    rows = df[(df["strategy"] == strategy) & (df["error_type"] == "") & (df["final_model"] != "")]
    if rows.empty:
        raise ConfigError(f"strategy {strategy!r} has no successful answers to build a table from")
    routes = {str(t): str(g["final_model"].value_counts().index[0]) for t, g in rows.groupby("task", sort=True)}
    default = str(rows["final_model"].value_counts().index[0])
    found: dict[str, Any] = {}
    if not tasks and detection == "auto" and set(routes.values()) != {default}:
        fit = task_detection(results, strategy, prompts)
        tasks = fit.table_tasks()
        default = routes.get(str(fit.default), default)
        found = {"method": fit.method, "labelled_prompts": int(rows["prompt_id"].nunique()),
                 "detected_share": round(fit.accuracy, 4), "default_task": fit.default,
                 "per_task": {k: round(v, 4) for k, v in fit.coverage.items()}}
    ranking = [m for m in _rank_models(results) if m in catalog] or list(dict.fromkeys([default, *routes.values()]))
    routed = list(dict.fromkeys([*routes.values(), default]))
    fallbacks = {m: [x for x in ranking if x != m][:n_fallbacks] for m in routed}
    fallbacks = {m: c for m, c in fallbacks.items() if c}
    ctx: dict[str, list[str]] = {}
    for m in routed:
        window = catalog.require(m, "context", "exporting a routing table").context_window
        bigger = sorted((x for x in ranking if x != m and catalog[x].context_window > window),
                        key=lambda x: (catalog[x].context_window, ranking.index(x)))
        if bigger:
            ctx[m] = bigger[:n_fallbacks]
    summary = results.summary()
    metrics = {k: _clean(summary.loc[strategy, k]) for k in _METRICS if k in summary.columns}
    per_task: dict[str, Any] = {}
    by_task = results.select([strategy]).summary(by="task")
    for (_, task), row in by_task.iterrows():
        per_task[str(task)] = {k: _clean(row[k]) for k in ("n", "quality", "quality_lo", "quality_hi", "cost")}
    fidelity = table_fidelity(results, strategy, routes, default)
    strategy_numbers: dict[str, Any] = {}
    if fidelity["agreement"] < 1.0:  # the table is not the strategy: its own numbers, the strategy's beside them
        strategy_numbers = {"strategy_metrics": metrics, "strategy_per_task": per_task}
        metrics, per_task = _table_metrics(strategy, metrics, fidelity)
    doc: dict[str, Any] = {
        "format": runtime.FORMAT, "version": runtime.SCHEMA_VERSION, "name": name or strategy, "router": "results",
        "tasks": [dict(t) for t in tasks or ()], "routes": routes, "default": default,
        "models": {m: model_entry(m, catalog=catalog) for m in dict.fromkeys(
            [*routed, *(x for c in fallbacks.values() for x in c), *(x for c in ctx.values() for x in c)])},
        "fallbacks": fallbacks, "context_window_fallbacks": ctx, "output_reserve": int(output_reserve),
        "balancer": dict(balancer or {"strategy": "weighted", "allowed_fails": 3, "cooldown_time": 30.0}),
        "retry": dict(retry or {"num_retries": 2, "timeout": 60.0, "on_status_codes": _RETRY_STATUS}),
        "provenance": _provenance(dataset=results.meta.get("dataset"), split=results.meta.get("split", "all"),
                                  strategy=strategy, metrics=metrics, per_task=per_task,
                                  confidence_level=0.95, selection="per task, the model the strategy used most"),
    }
    if found:
        doc["provenance"]["task_detection"] = found
    doc["provenance"]["agreement_with_strategy"] = round(fidelity["agreement"], 4)
    doc["provenance"].update(strategy_numbers)
    return validate_document(doc, source=f"table from results of {strategy!r}")


def table_fidelity(results: Any, strategy: str, routes: Mapping[str, str], default: str) -> dict[str, Any]:
    """How far a per-task table reproduces ``strategy``: ``agreement`` (share of its answered rows whose
    final model is the table's route for the row's task, in [0, 1]) and ``table_rows``: one row per
    (prompt, sample) of the strategy with the table's model (``model``) and that model's own recorded
    ``score`` and ``cost`` (NaN where no strategy of the results called that model alone on that prompt)."""
    df = results.df
    mine = df[df["strategy"] == strategy]
    routed = mine["task"].astype(str).map(dict(routes)).fillna(default)
    answered = (mine["error_type"] == "") & (mine["final_model"] != "")
    agreement = float((mine.loc[answered, "final_model"] == routed[answered]).mean()) if answered.any() else 0.0
    alone = _answered_alone(df).drop_duplicates(["prompt_id", "sample", "final_model"])[
        ["prompt_id", "sample", "final_model", "score", "cost"]].rename(columns={"final_model": "model"})
    rows = mine[["prompt_id", "sample", "task"]].assign(model=routed.to_numpy())
    return {"agreement": agreement, "table_rows": rows.merge(alone, on=["prompt_id", "sample", "model"], how="left")}


def _table_metrics(strategy: str, metrics: Mapping[str, Any],
                   fidelity: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The table's own provenance numbers (quality with its interval and cost, overall and per task, from
    the routed models' own recorded answers) when it differs from the strategy; warns with both qualities.
    Only measured on every prompt: the answers the routed models happened to give alone (a cascade's
    accepted cheap answers) are a biased subset, so with any prompt unmeasured the quality is None."""
    import warnings

    from ..stats import mean_interval

    rows = fidelity["table_rows"]
    known = rows["score"].notna()
    share = float(known.mean()) if len(rows) else 0.0
    own: dict[str, Any] = {"n": int(len(rows)), "measured_share": round(share, 4), "quality": None, "cost": None}
    if known.all() and len(rows):  # on a subset the numbers would be biased (e.g. the prompts a cascade kept)
        lo, hi = mean_interval(rows.loc[known, "score"].to_numpy(dtype=float))
        own |= {"quality": _clean(rows.loc[known, "score"].mean()), "quality_lo": _clean(lo),
                "quality_hi": _clean(hi), "cost": _clean(rows["cost"].sum())}
    per_task: dict[str, Any] = {}
    for task, g in rows.groupby("task", sort=True):
        whole = bool(g["score"].notna().all())
        per_task[str(task)] = {"n": int(len(g)), "quality": _clean(g["score"].mean()) if whole else None,
                               "cost": _clean(g["cost"].sum()) if whole else None}
    quality = own["quality"]
    told = (f"{quality:.3f}" if quality is not None else f"(unknown: the routed models answered alone on only "
            f"{share:.0%} of the prompts; add them to the experiment as fixed strategies)")
    warnings.warn(
        f"the routing table exported from {strategy!r} reproduces {fidelity['agreement']:.1%} of its decisions "
        f"(the strategy does not route by task alone); its provenance records the table's own quality {told} "
        f"beside the strategy's {_number(metrics.get('quality'))}", UserWarning, stacklevel=4)
    return own, per_task


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
