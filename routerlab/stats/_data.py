"""From the long-form Results table to two aligned arrays, with every dropped row accounted for."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from routerlab.errors import ConfigError

from ._common import check_strategy, require_columns, strategies_of

KEYS = ("prompt_id", "sample")
REASONS = ("error", "missing value", "cached", "no partner")

# Columns where lower is better and the distribution is positive and skewed: mean differences
# get the sign-flip permutation test and bootstrap CIs rather than a t-test.
_SKEWED = {"cost", "latency", "ttft", "input_tokens", "output_tokens"}
_LATENCY = {"latency", "ttft"}
_ALIASES = {"quality": "score"}
_QUANTILE = re.compile(r"^(?P<col>.+)_p(?P<pct>\d+(?:\.\d+)?)$")
KINDS = ("binary", "continuous", "skewed", "quantile")


@dataclass(frozen=True)
class MetricSpec:
    """How a metric name maps to a column and an analysis."""

    name: str
    column: str
    kind: str | None  # None: decide from the data (binary if all values are 0/1)
    quantile: float | None
    higher_is_better: bool
    exclude_cached: bool

    @property
    def statistic(self) -> str:
        return "mean" if self.quantile is None else f"p{100 * self.quantile:g}"


def resolve_metric(df: pd.DataFrame, metric: str, *, quantile: float | None = None,
                   kind: str | None = None, higher_is_better: bool | None = None) -> MetricSpec:
    """Parse ``metric`` ("quality", "cost", "latency", "latency_p95", or any numeric column)."""
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"metric={metric!r}: give a name such as 'quality', 'cost', 'latency' "
                          f"or 'latency_p95'")
    column = _ALIASES.get(metric, metric)
    m = _QUANTILE.match(metric)
    if column not in df.columns and m and _ALIASES.get(m["col"], m["col"]) in df.columns:
        column = _ALIASES.get(m["col"], m["col"])
        if quantile is not None:
            raise ConfigError(f"metric={metric!r} already names a quantile; drop quantile={quantile!r}")
        quantile = float(m["pct"]) / 100
    if column not in df.columns:
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])
                   and not pd.api.types.is_bool_dtype(df[c]) and c != "sample"]
        raise ConfigError(
            f"metric={metric!r} is not a column of the results; use 'quality', a quantile such as "
            f"'latency_p95', or one of the numeric columns {numeric}"
        )
    if not pd.api.types.is_numeric_dtype(df[column]) or pd.api.types.is_bool_dtype(df[column]):
        raise ConfigError(f"metric={metric!r}: column {column!r} is not numeric")
    if quantile is not None and not 0 < quantile < 1:
        raise ConfigError(f"quantile={quantile!r}: must be strictly between 0 and 1 (e.g. 0.95)")
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"kind={kind!r}: choose one of {KINDS} or leave it None")
    if quantile is not None:
        if kind not in (None, "quantile"):
            raise ConfigError(f"kind={kind!r} conflicts with a quantile metric")
        kind = "quantile"
    elif kind == "quantile":
        raise ConfigError("kind='quantile' needs quantile=... or a metric such as 'latency_p95'")
    elif kind is None and column in _SKEWED:
        kind = "skewed"
    if higher_is_better is None:
        higher_is_better = column not in _SKEWED
    return MetricSpec(metric, column, kind, quantile, bool(higher_is_better), column in _LATENCY)


@dataclass(frozen=True)
class Pairs:
    """Aligned arms: ``a[i]`` and ``b[i]`` are the same (prompt_id, sample)."""

    keys: pd.DataFrame
    a: np.ndarray
    b: np.ndarray
    clusters: np.ndarray | None
    dropped: dict[str, dict[str, int]]
    rows: dict[str, int]
    imputed: dict[str, int]
    warnings: tuple[str, ...]


def _nonempty(col: pd.Series) -> np.ndarray:
    s = col.astype("string").fillna("").str.strip()
    return (s != "").to_numpy(dtype=bool)


def _arm(df: pd.DataFrame, name: str, spec: MetricSpec, on_error: str,
         cluster: str | None) -> tuple[pd.DataFrame, dict[str, int], int, int]:
    sub = df.loc[df["strategy"] == name]
    keys = pd.DataFrame({
        "prompt_id": sub["prompt_id"].to_numpy(),
        "sample": sub["sample"].to_numpy() if "sample" in sub.columns else np.zeros(len(sub), int),
    })
    dup = keys.duplicated()
    if dup.any():
        first = tuple(keys.loc[dup.to_numpy()].iloc[0])
        raise ConfigError(
            f"strategy {name!r} has {int(dup.sum())} duplicate (prompt_id, sample) rows, e.g. "
            f"{first}; pairs must be unique: drop the duplicates or give repeats their own sample index"
        )
    err = np.zeros(len(sub), dtype=bool)
    for col in ("error", "error_type"):
        if col in sub.columns:
            err |= _nonempty(sub[col])
    values = pd.to_numeric(sub[spec.column], errors="coerce").to_numpy(dtype=float, copy=True)
    imputed = 0
    if on_error == "zero" and err.any():
        imputed = int(err.sum())
        values[err] = 0.0
        err = np.zeros_like(err)
    missing = ~err & np.isnan(values)
    cached = np.zeros(len(sub), dtype=bool)
    if spec.exclude_cached and "cached" in sub.columns:
        cached = ~err & ~missing & sub["cached"].fillna(False).astype(bool).to_numpy()
    keep = ~(err | missing | cached)
    counts = {"error": int(err.sum()), "missing value": int(missing.sum()),
              "cached": int(cached.sum()), "no partner": 0}
    out = keys.loc[keep].copy()
    out["value"] = values[keep]
    if cluster is not None:
        out["cluster"] = sub[cluster].to_numpy()[keep]
    return out, counts, len(sub), imputed


def pair_arms(df: pd.DataFrame, a: str, b: str, spec: MetricSpec, *, cluster: str | None = None,
              on_error: str = "drop") -> Pairs:
    """Match the two arms on (prompt_id, sample), dropping and counting what cannot be used."""
    require_columns(df, ("strategy", "prompt_id", spec.column), "compare")
    if cluster is not None:
        require_columns(df, (cluster,), f"cluster={cluster!r}")
    if on_error not in ("drop", "zero"):
        raise ConfigError(f"on_error={on_error!r}: choose 'drop' (exclude failed calls) or 'zero' "
                          f"(score a failed call as 0)")
    if on_error == "zero" and spec.column != "score":
        raise ConfigError("on_error='zero' only makes sense for quality (a failed call scores 0); "
                          f"metric {spec.name!r} has no natural value for a failure")
    available = strategies_of(df)
    check_strategy(a, available, "a")
    check_strategy(b, available, "b")
    if a == b:
        raise ConfigError(f"a and b are both {a!r}: compare two different strategies")
    arm_a, drop_a, rows_a, imp_a = _arm(df, a, spec, on_error, cluster)
    arm_b, drop_b, rows_b, imp_b = _arm(df, b, spec, on_error, cluster)
    merged = arm_a.merge(arm_b, on=list(KEYS), how="outer", suffixes=("_a", "_b"), indicator=True)
    drop_a["no partner"] = int((merged["_merge"] == "left_only").sum())
    drop_b["no partner"] = int((merged["_merge"] == "right_only").sum())
    both = merged.loc[merged["_merge"] == "both"].sort_values(list(KEYS), kind="mergesort")
    clusters = None
    if cluster is not None:
        ca, cb = both["cluster_a"].to_numpy(), both["cluster_b"].to_numpy()
        differ = ~((ca == cb) | (pd.isna(ca) & pd.isna(cb)))
        if differ.any():
            raise ConfigError(
                f"cluster={cluster!r} differs between {a!r} and {b!r} for {int(differ.sum())} pairs; "
                f"cluster by a property of the prompt (such as 'task'), not of the strategy"
            )
        if pd.isna(ca).any():
            raise ConfigError(f"cluster={cluster!r} is missing for {int(pd.isna(ca).sum())} pairs; "
                              f"fill it in or cluster by another column")
        clusters = ca
    dropped = {a: drop_a, b: drop_b}
    warnings = _missingness_warnings(a, b, drop_a, drop_b, rows_a, rows_b)
    if imp_a or imp_b:
        warnings.append(f"failed calls scored 0 (on_error='zero'): {a}: {imp_a}, {b}: {imp_b}")
    return Pairs(
        keys=both[list(KEYS)].reset_index(drop=True),
        a=both["value_a"].to_numpy(dtype=float), b=both["value_b"].to_numpy(dtype=float),
        clusters=clusters, dropped=dropped, rows={a: rows_a, b: rows_b},
        imputed={a: imp_a, b: imp_b}, warnings=tuple(warnings),
    )


def _missingness_warnings(a: str, b: str, drop_a: dict[str, int], drop_b: dict[str, int],
                          rows_a: int, rows_b: int) -> list[str]:
    out: list[str] = []

    def describe(d: dict[str, int]) -> str:
        parts = [f"{v} {k}" for k, v in d.items() if v]
        return ", ".join(parts) if parts else "none"

    if any(drop_a.values()) or any(drop_b.values()):
        out.append(f"rows dropped: {a}: {describe(drop_a)}; {b}: {describe(drop_b)}")
    if drop_a["cached"] or drop_b["cached"]:
        out.append(f"cache hits excluded from latency ({a}: {drop_a['cached']}, {b}: "
                   f"{drop_b['cached']}): a cached answer's latency says nothing about the strategy")
    miss_a = drop_a["error"] + drop_a["missing value"]
    miss_b = drop_b["error"] + drop_b["missing value"]
    if (miss_a or miss_b) and rows_a and rows_b:
        table = np.array([[miss_a, rows_a - miss_a], [miss_b, rows_b - miss_b]])
        p = stats.fisher_exact(table).pvalue
        if p < 0.05:
            out.append(
                f"imbalanced missingness: {a} lost {miss_a / rows_a:.1%} of rows, {b} "
                f"{miss_b / rows_b:.1%} (Fisher p = {p:.3g}); the pairs left may not be comparable: "
                f"for quality consider on_error='zero' (a failure scores 0)"
            )
    return out
