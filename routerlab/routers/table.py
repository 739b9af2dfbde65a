"""RoutingTable: task patterns (in priority order), task → model, a default, fallbacks; learnt from results.

The table is plain data: it round-trips through ``to_dict``/``from_dict`` and JSON files, and its
dictionary form uses the field names of routerlab's routing-table JSON Schema (``tasks``, ``routes``,
``default``, ``fallbacks``, ``context_window_fallbacks``, ``provenance``), so an export only adds the
``format`` and ``models`` sections. Loading validates every field with the schema's pydantic types
(:mod:`routerlab.routers.schema`) and names the bad one by its path.

Example::

    >>> t = RoutingTable(routes={"math": "gpt-4o-mini"}, default="gpt-4o",
    ...                  patterns={"math": [r"\\bsolve\\b"]}, fallbacks={"gpt-4o-mini": ["gpt-4o"]})
    >>> t.model_for("math"), t.model_for("poetry")
    ('gpt-4o-mini', 'gpt-4o')
    >>> RoutingTable.from_dict(t.to_dict()) == t
    True
    >>> RoutingTable.from_dict({"default": 3})
    Traceback (most recent call last):
    ...
    routerlab.errors.ConfigError: routing table <dict>: default: must be a model name (a non-empty string), got 3

Learnt from recorded outcomes (see :meth:`RoutingTable.learn`)::

    >>> table = RoutingTable.learn(train_dataset, tolerance=0.02)            # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from pydantic import ValidationError

from .. import runtime
from ..catalog import Catalog
from ..errors import ConfigError, UnknownModelError
from ..stats.intervals import t_quantile
from .schema import check_document, document_adapter, format_path, table_error

__all__ = ["RoutingTable"]

#: Sections of the routing-table document kept as plain data on the table (document key -> attribute).
_EXTRA_FIELDS = {"name": "name", "router": "router", "default_task": "default_task", "models": "endpoints",
                 "output_reserve": "output_reserve", "cascade": "cascade", "learned": "learned",
                 "balancer": "balancer", "retry": "retry"}


@dataclass
class RoutingTable:
    """Which model answers which task, what to try when it fails, and how tasks are detected.

    ``patterns``: task → regexes, in priority order (the first task with a match wins; matched
    case-insensitively). ``routes``: task → model; tasks without a route go to ``default``.
    ``fallbacks``: model → models to try, in order, when it fails. ``context_window_fallbacks``:
    model → larger-context models for prompts it cannot hold. ``provenance``: how the table was made
    (JSON-able; :meth:`learn` records its statistics there).
    """

    default: str
    routes: dict[str, str] = field(default_factory=dict)
    patterns: dict[str, list[str]] = field(default_factory=dict)
    fallbacks: dict[str, list[str]] = field(default_factory=dict)
    context_window_fallbacks: dict[str, list[str]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    # -- the rest of the exported schema (see routerlab.export); empty unless set -----------------------
    name: str | None = None
    router: str | None = None
    default_task: str | None = None
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)  # the schema's "models" section
    output_reserve: int = 0
    cascade: dict[str, Any] | None = None
    learned: dict[str, Any] | None = None
    balancer: dict[str, Any] = field(default_factory=dict)
    retry: dict[str, Any] = field(default_factory=dict)

    VERSION: ClassVar[int] = 1

    def __post_init__(self) -> None:
        self.validate()

    # -- lookups ------------------------------------------------------------------------------------
    def model_for(self, task: str | None) -> str:
        """The model for ``task`` (``default`` when the task has no route)."""
        return self.routes.get(task, self.default) if task is not None else self.default

    def chain(self, model: str) -> list[str]:
        """``model`` followed by its fallbacks (what to try, in order)."""
        return [model, *[m for m in self.fallbacks.get(model, []) if m != model]]

    @property
    def models(self) -> list[str]:
        """Every model the table names, in first-mention order."""
        names = [*self.routes.values(), self.default]
        for lists in (self.fallbacks, self.context_window_fallbacks):
            for key, values in lists.items():
                names += [key, *values]
        return list(dict.fromkeys(names))

    def with_(self, **changes: Any) -> RoutingTable:
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)

    # -- validation ---------------------------------------------------------------------------------
    def validate(self, catalog: Catalog | None = None, *, source: str = "<table>") -> RoutingTable:
        """Check every field against the routing-table schema (and, with a catalog, that every model
        exists); returns ``self``. Raises :class:`~routerlab.errors.ConfigError` naming ``source`` and
        the attribute path (``routing table <table>: patterns.math[0]: is not a valid regular ...``)."""
        if not isinstance(self.patterns, Mapping):
            raise ConfigError(f"routing table {source}: patterns: must be a mapping task -> list of regexes, "
                              f"got {type(self.patterns).__name__}")
        doc = self._document()
        try:
            document_adapter().validate_python(doc)
        except ValidationError as exc:
            raise table_error(exc, source, self._attribute_path) from None
        try:
            runtime.check_schema_rules(doc)
        except runtime.RoutingTableError as exc:
            raise ConfigError(f"routing table {source}: {exc}") from None
        if catalog is not None:
            _check_catalog(doc, catalog, source)
        return self

    def _attribute_path(self, loc: tuple[str | int, ...]) -> str:
        """A document path in this object's attribute names (``tasks[0].patterns[1]`` -> ``patterns.math[1]``)."""
        if len(loc) > 1 and loc[0] == "tasks" and isinstance(loc[1], int):
            task = list(self.patterns)[loc[1]]
            return format_path(("patterns", str(task), *(loc[3:] if loc[2:3] == ("patterns",) else ())))
        return format_path(("endpoints", *loc[1:]) if loc[:1] == ("models",) else loc)

    # -- (de)serialisation --------------------------------------------------------------------------
    def _document(self) -> dict[str, Any]:
        """The table in the document's field names, values as they are (``to_dict`` makes them JSON)."""
        return {
            "version": self.VERSION,
            "tasks": [{"task": t, "patterns": p, "flags": ["IGNORECASE"]} for t, p in self.patterns.items()],
            "routes": self.routes,
            "default": self.default,
            "fallbacks": self.fallbacks,
            "context_window_fallbacks": self.context_window_fallbacks,
            "provenance": json.loads(json.dumps(self.provenance, default=_jsonable)),
            **{key: getattr(self, attr) for key, attr in _EXTRA_FIELDS.items()
               if getattr(self, attr) not in (None, {}, 0)},
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict in the routing-table schema's field names (``tasks`` keeps pattern order)."""
        return json.loads(json.dumps(self._document(), default=_jsonable))

    def to_document(self, **kwargs: Any) -> dict[str, Any]:
        """The complete, schema-valid routing-table document (``format``, ``models`` filled in from the
        catalog): what :mod:`routerlab.export` writes and :class:`routerlab.runtime.Router` loads.
        ``kwargs`` go to :func:`routerlab.routers.document.document` (``catalog``, ``api_base``, ...)."""
        from .document import document

        return document(self.to_dict(), **kwargs)

    @classmethod
    def from_router(cls, router: Any, **kwargs: Any) -> RoutingTable:
        """The table a notebook router reduces to (see :func:`routerlab.routers.document.document_from_router`).
        For the table a strategy's results reduce to, see :meth:`routerlab.harness.Results.routing_table`."""
        from .document import document_from_router

        return cls.from_dict(document_from_router(router, **kwargs), source=type(router).__name__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, catalog: Catalog | None = None,
                  source: str = "<dict>") -> RoutingTable:
        """Build a table from :meth:`to_dict`'s form or a complete exported document (with ``models``).

        Validated with the routing-table schema's pydantic types (:mod:`routerlab.routers.schema`) and
        the cross-field rules; a complete document must also have what the schema requires of one.
        Raises :class:`~routerlab.errors.ConfigError` naming ``source`` and the field path in the
        document (``routing table t.json: tasks[0].patterns[2]: ...``).
        """
        if isinstance(data, Mapping) and ("format" in data or "models" in data):
            check_document({"format": runtime.FORMAT, "version": cls.VERSION, **data}, source=source, complete=True)
        else:
            check_document(data, source=source)
        for i, spec in enumerate(data.get("tasks") or ()):
            if set(spec.get("flags", ["IGNORECASE"])) - {"IGNORECASE"}:
                raise ConfigError(f"routing table {source}: tasks[{i}].flags: may only hold 'IGNORECASE' (routerlab "
                                  f"matches case-insensitively), got {spec['flags']!r}")
        if catalog is not None:
            _check_catalog(data, catalog, source)
        plain = json.loads(json.dumps(dict(data)))  # our own copy: later changes to `data` do not leak in
        return cls(default=plain["default"], routes=plain.get("routes", {}),
                   patterns={spec["task"]: spec["patterns"] for spec in plain.get("tasks", [])},
                   fallbacks=plain.get("fallbacks", {}), context_window_fallbacks=plain.get("context_window_fallbacks", {}),
                   provenance=plain.get("provenance", {}),
                   **{attr: plain[key] for key, attr in _EXTRA_FIELDS.items() if key in plain})

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the table as JSON (atomically: a crash leaves the old file)."""
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        os.replace(tmp, p)
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, catalog: Catalog | None = None) -> RoutingTable:
        """Read and validate a table written by :meth:`save`; errors name the file and the field."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read routing table {p}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"routing table {p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data, catalog=catalog, source=str(p))

    def _repr_html_(self) -> str:
        rows = [{"task": t, "model": m, "patterns": len(self.patterns.get(t, []))} for t, m in self.routes.items()]
        rows.append({"task": "(default)", "model": self.default, "patterns": 0})
        return "<b>RoutingTable</b>" + pd.DataFrame(rows)._repr_html_()

    # -- learning ----------------------------------------------------------------------------------
    @classmethod
    def learn(cls, data: Any, *, tasks: Any = None, catalog: Catalog | None = None,
              candidates: Sequence[str] | None = None, tolerance: float = 0.02, confidence: float = 0.95,
              conservative: bool = False, min_prompts: int = 10, patterns: Mapping[str, Sequence[str]] | None = None,
              n_fallbacks: int = 2) -> RoutingTable:
        """Learn task → model from recorded results: per task, the cheapest model not shown to be worse.

        ``data``: a Dataset with outcomes, an Outcomes, or a long DataFrame with ``prompt_id``, ``model``
        (or ``strategy``), ``score`` and ``cost`` (or ``input_tokens``/``output_tokens``) columns, and a
        ``task`` column unless ``tasks`` is given. ``tasks`` overrides the task of each prompt (a mapping
        or Series prompt_id → task, e.g. the tasks a regex detector assigns).

        The rule, per task: the *best* model has the highest mean score (ties: cheaper). For each other
        model the paired differences ``d = score(model) − score(best)`` over the task's prompts give a
        one-sided ``confidence`` bound with Student's t. By default (``conservative=False``) a model is
        kept unless the data show it is more than ``tolerance`` worse than the best: kept when the upper
        bound ``mean(d) + t·sd(d)/√n >= −tolerance`` (the one-sided paired test of "worse by more than
        ``tolerance``" does not reject). With ``conservative=True`` a model is kept only when
        non-inferiority is shown: the lower bound ``mean(d) − t·sd(d)/√n >= −tolerance``. The cheapest
        kept model (mean cost per prompt) is the route. ``default`` is the same rule over all prompts;
        tasks with fewer than ``min_prompts`` prompts get no route of their own.

        Fallbacks: for each routed model, up to ``n_fallbacks`` models of other providers, cheapest first
        among those within ``tolerance`` of its overall quality, then the best remaining ones. Context
        fallbacks: up to ``n_fallbacks`` larger-context models, best overall quality first. The
        per-task statistics are kept in ``provenance["learned"]``.
        """
        if not 0.5 <= confidence < 1:
            raise ConfigError(f"confidence must be in [0.5, 1), got {confidence}")
        if tolerance < 0:
            raise ConfigError(f"tolerance must be >= 0, got {tolerance}")
        catalog = catalog or getattr(data, "catalog", None) or Catalog.default()
        long = _long_results(data, tasks, catalog, candidates)
        stats = []
        routes: dict[str, str] = {}
        for task, part in long.groupby("task", sort=True):
            table = _choose(part, tolerance, confidence, conservative)
            table.insert(0, "task", task)
            stats.append(table)
            if part["prompt_id"].nunique() >= min_prompts:
                routes[str(task)] = str(table.loc[table["chosen"], "model"].iloc[0])
        overall = _choose(long, tolerance, confidence, conservative)
        default = str(overall.loc[overall["chosen"], "model"].iloc[0])
        quality = overall.set_index("model")["quality"]
        cost = overall.set_index("model")["cost"]
        used = list(dict.fromkeys([*routes.values(), default]))
        fallbacks = {m: _fallbacks(m, quality, cost, catalog, tolerance, n_fallbacks) for m in used}
        ctx = {m: alts for m in used if (alts := _context_fallbacks(m, quality, cost, catalog, n_fallbacks))}
        evidence = pd.concat(stats + [overall.assign(task="(all)")], ignore_index=True)
        provenance = {
            "learned": {
                "rule": "conservative: paired lower bound >= -tolerance" if conservative
                else "paired upper bound >= -tolerance (not shown worse than best by more than tolerance)",
                "tolerance": tolerance, "confidence": confidence, "min_prompts": min_prompts,
                "prompts": int(long["prompt_id"].nunique()),
                "stats": _records(evidence),
            },
        }
        return cls(default=default, routes=routes, patterns={k: list(v) for k, v in (patterns or {}).items()},
                   fallbacks={m: f for m, f in fallbacks.items() if f}, context_window_fallbacks=ctx,
                   provenance=provenance)

    def evidence(self) -> pd.DataFrame:
        """The per-task statistics :meth:`learn` based its choices on (empty for hand-made tables)."""
        return pd.DataFrame(self.provenance.get("learned", {}).get("stats", []))


def _check_catalog(doc: Mapping[str, Any], catalog: Catalog, source: str) -> None:
    """Every model the table names is one of ``catalog`` (the error lists close matches)."""
    named = [("default", doc["default"])] + [(f"routes.{t}", m) for t, m in (doc.get("routes") or {}).items()]
    for section in ("fallbacks", "context_window_fallbacks"):
        for model, alts in (doc.get(section) or {}).items():
            named += [(f"{section}.{model}", model)] + [(f"{section}.{model}[{i}]", a) for i, a in enumerate(alts)]
    for where, model in named:
        try:
            catalog.canonical(model)
        except UnknownModelError as exc:
            raise ConfigError(f"routing table {source}: {where}: {exc}") from None


# ---------------------------------------------------------------------------------------------------
# learning helpers


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe records: floats rounded, non-finite numbers as None."""
    out = df.round(6).replace([np.inf, -np.inf], np.nan).astype(object)
    return out.where(out.notna(), None).to_dict("records")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _long_results(data: Any, tasks: Any, catalog: Catalog, candidates: Sequence[str] | None) -> pd.DataFrame:
    """prompt_id, task, model, score, cost: one row per (prompt, model) with a score."""
    prompts = getattr(data, "prompts", None)
    if isinstance(prompts, pd.DataFrame):  # a Dataset: its outcomes' costs are resolved (recorded or priced)
        if data.outcomes is None:
            raise ConfigError(f"data set {data.name!r} has no outcomes to learn from")
        if catalog is not getattr(data, "catalog", catalog):
            data = data.with_catalog(catalog)
        df = data.outcomes.df.merge(prompts[["prompt_id", "task"]], on="prompt_id", how="left")
    else:
        df = data.df if hasattr(data, "df") else data
        if not isinstance(df, pd.DataFrame):
            raise ConfigError("learn() takes a Dataset, an Outcomes or a results DataFrame")
        df = df.copy()
        if "model" not in df.columns and "strategy" in df.columns:
            df = df.rename(columns={"strategy": "model"})
    for col in ("prompt_id", "model", "score"):
        if col not in df.columns:
            raise ConfigError(f"learn(): the results need a {col!r} column; found {list(df.columns)}")
    if tasks is not None:
        mapping = tasks if isinstance(tasks, pd.Series) else pd.Series(dict(tasks))
        df["task"] = df["prompt_id"].map(mapping)
    if "task" not in df.columns:
        df["task"] = "default"
    df["task"] = df["task"].fillna("default").astype(str)
    if candidates is not None:
        df = df[df["model"].isin(list(candidates))]
    if "cost" not in df.columns:
        if not {"input_tokens", "output_tokens"} <= set(df.columns):
            raise ConfigError("learn(): the results need a 'cost' column or 'input_tokens' and 'output_tokens'")
        cost = np.empty(len(df))
        models = df["model"].to_numpy()
        for m in pd.unique(models):
            sel = models == m
            cost[sel] = catalog[str(m)].cost(df["input_tokens"].to_numpy(dtype=float)[sel],
                                             df["output_tokens"].to_numpy(dtype=float)[sel])
        df["cost"] = cost
    df = df[["prompt_id", "task", "model", "score", "cost"]].dropna(subset=["score"])
    if df.empty:
        raise ConfigError("learn(): no scored results to learn from")
    return df.reset_index(drop=True)


def _choose(part: pd.DataFrame, tolerance: float, confidence: float, conservative: bool) -> pd.DataFrame:
    """Per model: quality, cost, paired CI of the difference to the best model, kept?, chosen?"""
    s = (part.pivot(index="prompt_id", columns="model", values="score")
         if not part.duplicated(["prompt_id", "model"]).any()
         else part.pivot_table(index="prompt_id", columns="model", values="score", aggfunc="mean"))
    c = part.groupby("model")["cost"].mean().reindex(s.columns)
    quality = s.mean()
    order = sorted(s.columns, key=lambda m: (-quality[m], c[m], m))
    best = order[0]
    rows = []
    for m in s.columns:
        both = s[[m, best]].dropna()
        d = (both[m] - both[best]).to_numpy(dtype=float)
        n = len(d)
        if m == best:
            lo = hi = 0.0
        elif n >= 2:
            se = d.std(ddof=1) / np.sqrt(n)
            t = t_quantile(confidence, n - 1)  # one-sided bounds at `confidence`, as learn() documents
            lo, hi = d.mean() - t * se, d.mean() + t * se
        else:
            lo, hi = -np.inf, np.inf
        bound = lo if conservative else hi
        rows.append({"model": m, "n": n, "quality": float(quality[m]), "cost": float(c[m]),
                     "diff": float(d.mean()) if n else np.nan, "diff_lo": float(lo), "diff_hi": float(hi),
                     "kept": bool(m == best or bound >= -tolerance)})
    out = pd.DataFrame(rows)
    kept = out[out["kept"]].sort_values(["cost", "model"])
    out["chosen"] = out["model"] == kept["model"].iloc[0]
    return out.sort_values(["cost", "model"]).reset_index(drop=True)


def _fallbacks(model: str, quality: pd.Series, cost: pd.Series, catalog: Catalog, tolerance: float,
               n: int) -> list[str]:
    provider = catalog[model].provider if model in catalog else None
    others = [m for m in quality.index if m != model and (m not in catalog or catalog[m].provider != provider)]
    close = sorted([m for m in others if quality[m] >= quality.get(model, 0.0) - tolerance],
                   key=lambda m: (cost[m], m))
    rest = sorted([m for m in others if m not in close], key=lambda m: (-quality[m], cost[m], m))
    return (close + rest)[:n]


def _context_fallbacks(model: str, quality: pd.Series, cost: pd.Series, catalog: Catalog, n: int) -> list[str]:
    if model not in catalog:
        return []
    window = catalog[model].context_window
    bigger = [m for m in quality.index if m in catalog and catalog[m].context_window > window]
    return sorted(bigger, key=lambda m: (-quality[m], cost[m], m))[:n]
