"""Shared plumbing for routerlab.stats: errors, seeds, input frames, formatting."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from routerlab.errors import ConfigError, RouterlabError

SeedLike = int | np.random.Generator | np.random.SeedSequence | None

DECISIONS = ("B better", "A better", "no difference detected", "underpowered")


class InsufficientDataError(RouterlabError, ValueError):
    """Too few usable observations for the analysis asked for.

    The message says how many rows were dropped and why, so the fix (more prompts, fewer
    failures, another metric) is visible. Also a ``ValueError``.

    Example::

        >>> from routerlab.stats import InsufficientDataError
        >>> issubclass(InsufficientDataError, ValueError)
        True
    """


def seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """A SeedSequence from an int, a SeedSequence, or a Generator (which is advanced)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        # Draw entropy from the caller's generator so repeated calls with one generator differ
        # but a freshly seeded generator always gives the same numbers.
        return np.random.SeedSequence(seed.integers(0, 2**63 - 1, size=4).tolist())
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.SeedSequence(None if seed is None else int(seed))
    raise ConfigError(f"seed={seed!r}: pass an int, a numpy Generator or None")


def as_generator(seed: SeedLike) -> np.random.Generator:
    """A numpy Generator for ``seed`` (a Generator is returned as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed_sequence(seed))


def as_frame(results: Any) -> pd.DataFrame:
    """The long-form DataFrame from a ``Results`` (anything with ``.df``) or a DataFrame."""
    df = getattr(results, "df", results)
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(
            f"expected a Results object (with a .df DataFrame) or a pandas DataFrame, "
            f"got {type(results).__name__}"
        )
    return df


def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ConfigError(
            f"{what} needs column(s) {missing} in the results table; it has {list(df.columns)} "
            f"(see docs/results-schema.md)"
        )


def strategies_of(df: pd.DataFrame) -> list[str]:
    """Strategy names in order of first appearance."""
    return list(pd.unique(df["strategy"]))


def check_strategy(name: str, available: Sequence[str], role: str) -> None:
    if name not in available:
        raise ConfigError(
            f"{role}={name!r} is not a strategy in these results; available: {list(available)}"
        )


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha!r}: must be between 0 and 1 (e.g. 0.05)")


def check_power(power: float) -> None:
    if not 0 < power < 1:
        raise ConfigError(f"power={power!r}: must be between 0 and 1 (e.g. 0.8)")


# ----------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Difference:
    """B − A on one outcome: the fields every comparison result shares (the paired
    :class:`~routerlab.stats.ABResult` and the live :class:`~routerlab.stats.LiveResult`).

    ``a``, ``b``: the arms' names; ``value_a``, ``value_b``: each arm's statistic; ``estimate``:
    ``value_b - value_a`` in the outcome's units, and ``relative_change``: ``estimate / |value_a|``;
    ``ci``: its ``1 - alpha`` interval, computed by ``ci_method``; ``p_value`` from ``test``;
    ``decision`` in words; ``warnings`` about what may make the result unreliable.
    """

    a: str
    b: str
    value_a: float
    value_b: float
    estimate: float
    relative_change: float
    ci: tuple[float, float]
    ci_method: str
    alpha: float
    p_value: float
    test: str
    decision: str
    warnings: tuple[str, ...]

    @property
    def ci_low(self) -> float:
        """Lower end of ``ci``."""
        return self.ci[0]

    @property
    def ci_high(self) -> float:
        """Upper end of ``ci``."""
        return self.ci[1]

    @property
    def significant(self) -> bool:
        """``p_value < alpha``."""
        return bool(self.p_value < self.alpha)

    def _estimate_rows(self) -> list[tuple[str, str]]:
        level = f"{100 * (1 - self.alpha):g}%"
        rel = "" if not math.isfinite(self.relative_change) else f" ({self.relative_change:+.1%})"
        return [("estimate (B − A)", fmt_num(self.estimate) + rel),
                (f"{level} CI", f"{fmt_ci(self.ci)}  {self.ci_method}")]


# ----------------------------------------------------------------------------- formatting

def fmt_num(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e6):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def fmt_p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "—"
    if p < 1e-4:
        return "< 0.0001"
    return f"{p:.4f}"


def fmt_ci(ci: tuple[float, float]) -> str:
    return f"[{fmt_num(ci[0])}, {fmt_num(ci[1])}]"


def text_table(title: str, rows: Sequence[tuple[str, str]], warnings: Sequence[str]) -> str:
    width = max((len(k) for k, _ in rows), default=0)
    lines = [title, "-" * len(title)]
    lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
    if warnings:
        lines.append("warnings:")
        lines += [f"  - {w}" for w in warnings]
    return "\n".join(lines)


def html_table(title: str, rows: Sequence[tuple[str, str]], warnings: Sequence[str],
               highlight: str | None = None) -> str:
    esc = html.escape
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th>"
        f"<td style='text-align:left'>{esc(v)}</td></tr>"
        for k, v in rows
    )
    warn = ""
    if warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
        warn = f"<div style='color:#a15c00'><b>warnings</b><ul style='margin:0'>{items}</ul></div>"
    head = f"<b>{esc(title)}</b>"
    if highlight:
        head += f" &mdash; <b>{esc(highlight)}</b>"
    return f"<div class='routerlab-stats'>{head}<table>{body}</table>{warn}</div>"


def plain(value: Any) -> Any:
    """Convert numpy scalars / tuples / mappings to plain Python for ``to_dict``."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
