"""Which strategy to use: the cheapest one that meets the constraints and is non-inferior to the best.

The rule (:func:`recommend`, ``Results.recommend``, the dashboard):

1. **Feasible**: the strategies within the budget (USD per 1,000 prompts), the p95 latency objective
   and the quality floor. Oracles (they read the recorded answers) never are.
2. **Best**: the feasible strategy of highest mean quality (ties: the cheaper).
3. **Non-inferior**: a cheaper feasible strategy whose quality is shown not to be worse than the best's
   by ``margin`` or more: the one-sided paired t-test of H0 ``mean(cheaper − best) ≤ −margin`` over the
   prompts both answered rejects at ``alpha`` (:func:`routerlab.stats.curves.noninferiority`), i.e. the
   one-sided ``1 − alpha`` lower confidence bound of the difference is above ``−margin``.
4. **Recommended**: the cheapest of the best and its non-inferior challengers.

"No difference detected" is not equivalence: a cheaper strategy is recommended only when the data
bound its loss, and the reason says how much quality it may lose (``−lower``, its confidence bound).
The default margin, 0.02, is two points of accuracy on 0/1 scores: set it to the loss you would accept
(the dashboard has a control for it). Non-inferiority testing: Wellek, *Testing Statistical Hypotheses
of Equivalence and Noninferiority* (2nd ed., 2010), ch. 1-2; the paired t form is the standard one for
paired differences.

Example::

    >>> rec = res.recommend(budget=1.0, margin=0.03)        # doctest: +SKIP
    >>> print(rec.reason)                                    # doctest: +SKIP
    Use cascade-agreement: $0.700 per 1k prompts against $0.938 for best-of-n, the best within the
    constraints, and non-inferior at margin 0.030 (one-sided paired t-test, p = 0.004 < α = 0.05): it
    may lose up to 0.012 quality (95% lower confidence bound of the difference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from .._validation import is_real
from ..errors import ConfigError
from ..stats.curves import NonInferiority, noninferiority

__all__ = ["Recommendation", "recommend", "DEFAULT_MARGIN", "DEFAULT_ALPHA", "score_matrix"]

#: Default non-inferiority margin, in score units (two points of accuracy on 0/1 scores).
DEFAULT_MARGIN = 0.02
#: Default one-sided significance level of the non-inferiority test.
DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class Recommendation:
    """The outcome of :func:`recommend`.

    ``strategy``: the recommended strategy (``None`` when nothing meets the constraints); ``best``: the
    feasible strategy of highest quality; ``tests``: strategy → :class:`~routerlab.stats.curves.NonInferiority`
    of each cheaper feasible strategy against ``best``; ``table``: the summary with ``eligible``,
    ``why_not``, ``noninferior``, ``ni_lower`` (lower bound of quality − best's) and ``ni_p``;
    ``reason``: one sentence saying why, with the quality the recommendation may lose.
    """

    strategy: str | None
    best: str | None
    margin: float
    alpha: float
    table: pd.DataFrame
    tests: dict[str, NonInferiority] = field(default_factory=dict)
    reason: str = ""
    constraints: str = ""

    @property
    def runner_up(self) -> str | None:
        """The strategy the recommendation is compared with: the best one when a cheaper strategy was
        chosen, else the closest cheaper challenger (the one with the highest lower bound)."""
        if self.strategy is None:
            return None
        if self.strategy != self.best:
            return self.best
        if not self.tests:
            return None
        return max(self.tests, key=lambda s: self.tests[s].lower)

    @property
    def test(self) -> NonInferiority | None:
        """The non-inferiority test between the recommendation and :attr:`runner_up`."""
        other = self.runner_up
        if other is None:
            return None
        return self.tests.get(self.strategy if self.strategy != self.best else other)  # type: ignore[arg-type]

    def ab_text(self) -> str:
        """The A/B line beside the recommendation, from the same test (so the two always agree)."""
        t, other = self.test, self.runner_up
        if t is None or other is None:
            return "No cheaper strategy meets the constraints: nothing to test against."
        cheaper = self.strategy if self.strategy != self.best else other
        verdict = (f"non-inferior at margin {t.margin:.3f}" if t.noninferior
                   else f"not shown non-inferior at margin {t.margin:.3f}")
        return (f"{cheaper} − {self.best}: {t.estimate:+.3f} quality over {t.n:,} paired prompts, one-sided "
                f"{1 - t.alpha:.0%} lower bound {t.lower:+.3f}; {_p_is(t.p_value)} (α = {t.alpha:g}): {verdict}.")

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return (f"Recommendation({self.strategy!r}, best={self.best!r}, margin={self.margin}, alpha={self.alpha}, "
                f"{int(self.table['eligible'].sum()) if 'eligible' in self.table else 0} feasible)")

    def _repr_html_(self) -> str:
        return f"<div class='routerlab-rec'><b>{escape(self.reason)}</b><br>{escape(self.ab_text())}</div>"


def score_matrix(results: Any) -> pd.DataFrame:
    """Per-prompt scores (rows: prompt id, columns: strategy) of the answered sample-0 rows: what the
    paired tests compare. Compute it once when testing many pairs."""
    df = results.df
    ok = df[(df["sample"] == 0) & (df["error_type"] == "")]
    return ok.pivot_table(index="prompt_id", columns="strategy", values="score", aggfunc="mean", observed=True)


def _p_is(p: float) -> str:
    """``p = 0.004``, ``p < 0.001`` or ``p = —`` (not computed)."""
    return "p = —" if not np.isfinite(p) else ("p < 0.001" if p < 0.001 else f"p = {p:.3f}")


def _why_not(name: str, r: pd.Series, budget: float | None, max_latency: float | None,
             quality_floor: float | None, exclude: set[str]) -> str:
    reasons = []
    if name in exclude:
        reasons.append("upper bound, not deployable")
    if budget is not None and not r["cost_per_1k"] <= budget + 1e-12:
        reasons.append(f"cost ${r['cost_per_1k']:,.3f}/1k > budget")
    p95 = r.get("latency_p95", np.nan)
    if max_latency is not None and np.isfinite(p95) and p95 > max_latency + 1e-12:
        reasons.append(f"p95 {p95:.2f}s > objective")
    if quality_floor is not None and not r["quality"] >= quality_floor - 1e-12:
        reasons.append(f"quality {r['quality']:.3f} < floor")
    if not np.isfinite(r["quality"]):
        reasons.append("no scored answers")
    return "; ".join(reasons)


def _constraints(budget: float | None, max_latency: float | None, quality_floor: float | None) -> str:
    parts = ([f"budget ≤ ${budget:,.2f} per 1k prompts"] if budget is not None else []) \
        + ([f"p95 latency ≤ {max_latency:.1f} s"] if max_latency is not None else []) \
        + ([f"quality ≥ {quality_floor:.2f}"] if quality_floor else [])
    return ", ".join(parts) or "no constraint"


def recommend(results: Any, *, budget: float | None = None, max_latency: float | None = None,
              margin: float = DEFAULT_MARGIN, alpha: float = DEFAULT_ALPHA, quality_floor: float | None = None,
              exclude: Sequence[str] = (), summary: pd.DataFrame | None = None,
              scores: pd.DataFrame | None = None) -> Recommendation:
    """The cheapest strategy that meets the constraints and is non-inferior to the best feasible one.

    ``results``: a :class:`~routerlab.harness.Results`. ``budget``: USD per 1,000 prompts;
    ``max_latency``: p95 latency objective in seconds; ``quality_floor``: minimum mean quality; ``None``
    applies no constraint. ``margin`` (score units, default :data:`DEFAULT_MARGIN`) and ``alpha``
    (one-sided, default 0.05) set the non-inferiority test (see the module doc for the rule). Oracles
    (``results.oracles``) and ``exclude`` are never recommended. ``summary`` / ``scores``
    (:func:`score_matrix`) may be passed precomputed (the dashboard does, to redraw quickly).

    Raises :class:`~routerlab.errors.ConfigError` (a ``ValueError``) for a margin outside [0, 1) (scores
    are in [0, 1]), an alpha outside (0, 0.5], a budget or latency that is not a positive number, a quality
    floor outside [0, 1], or an ``exclude`` name that is not a strategy of the results.
    """
    _check_arguments(results, budget, max_latency, margin, alpha, quality_floor, exclude)
    s = (summary if summary is not None else results.summary()).copy()
    never = {*results.oracles, *exclude}
    s["why_not"] = [_why_not(str(n), r, budget, max_latency, quality_floor, never) for n, r in s.iterrows()]
    s["eligible"] = s["why_not"] == ""
    s["noninferior"], s["ni_lower"], s["ni_p"] = False, np.nan, np.nan
    cons = _constraints(budget, max_latency, quality_floor)
    feasible = s[s["eligible"]].sort_values(["quality", "cost_per_1k"], ascending=[False, True], kind="stable")
    if feasible.empty:
        cheapest = s.sort_values("cost_per_1k").index[0] if len(s) else "—"
        return Recommendation(None, None, margin, alpha, s, {}, f"No strategy meets {cons}; relax a constraint "
                              f"(the cheapest shown is {cheapest}).", cons)
    best = str(feasible.index[0])
    scores = scores if scores is not None else score_matrix(results)
    tests: dict[str, NonInferiority] = {}
    for name in feasible.index[1:]:
        if feasible.loc[name, "cost_per_1k"] >= feasible.loc[best, "cost_per_1k"]:
            continue  # not cheaper: never preferred to the best
        pair = scores[[name, best]].dropna() if {name, best} <= set(scores.columns) else pd.DataFrame()
        if len(pair) < 2:
            continue
        tests[str(name)] = noninferiority(pair[name].to_numpy(), pair[best].to_numpy(), margin=margin, alpha=alpha)
    if tests:  # one assignment per column: row-wise .loc writes dominated a dashboard redraw
        s["noninferior"] = [bool(tests[n].noninferior) if n in tests else False for n in map(str, s.index)]
        s["ni_lower"] = [tests[n].lower if n in tests else np.nan for n in map(str, s.index)]
        s["ni_p"] = [tests[n].p_value if n in tests else np.nan for n in map(str, s.index)]
    winners = [best, *(n for n, t in tests.items() if t.noninferior)]
    choice = str(min(winners, key=lambda n: (feasible.loc[n, "cost_per_1k"], -feasible.loc[n, "quality"])))
    rec = Recommendation(choice, best, margin, alpha, s, tests, "", cons)
    return Recommendation(choice, best, margin, alpha, s, tests, _reason(rec, feasible), cons)


def _finite(value: Any) -> bool:
    """A finite real number that is not a bool."""
    return is_real(value) and bool(np.isfinite(value))


def _check_arguments(results: Any, budget: float | None, max_latency: float | None, margin: float, alpha: float,
                     quality_floor: float | None, exclude: Sequence[str]) -> None:
    if not (_finite(margin) and 0 <= margin < 1):
        raise ConfigError(f"margin must be in [0, 1) score units (the quality a cheaper strategy may lose, e.g. "
                          f"0.02), got {margin!r}")
    if not (_finite(alpha) and 0 < alpha <= 0.5):
        raise ConfigError(f"alpha must be in (0, 0.5] (one-sided level, e.g. 0.05), got {alpha!r}")
    for name, value, unit in (("budget", budget, "USD per 1,000 prompts"), ("max_latency", max_latency, "seconds")):
        if value is not None and not (_finite(value) and value > 0):
            raise ConfigError(f"{name} must be a positive number ({unit}) or None for no limit, got {value!r}")
    if quality_floor is not None and not (_finite(quality_floor) and 0 <= quality_floor <= 1):
        raise ConfigError(f"quality_floor must be in [0, 1] or None, got {quality_floor!r}")
    unknown = [n for n in exclude if n not in results.strategies]
    if unknown:
        raise ConfigError(f"exclude names no strategy of these results: {unknown}; they are {results.strategies}")


def _reason(rec: Recommendation, feasible: pd.DataFrame) -> str:
    name, best = rec.strategy, rec.best
    assert name is not None and best is not None
    t = rec.test
    level = f"{1 - rec.alpha:.0%}"
    within = "of all strategies" if rec.constraints == "no constraint" else f"within {rec.constraints}"
    if name != best and t is not None:
        return (f"Use {name}: ${feasible.loc[name, 'cost_per_1k']:,.3f} per 1k prompts against "
                f"${feasible.loc[best, 'cost_per_1k']:,.3f} for {best}, the best {within}, and "
                f"non-inferior at margin {rec.margin:.3f} (one-sided paired t-test, {_p_is(t.p_value)}, "
                f"below α = {rec.alpha:g}): it may lose up to {max(0.0, -t.lower):.3f} quality ({level} lower "
                "confidence bound of the difference).")
    among = f"of the {len(feasible)} strategies" if len(feasible) > 1 else "of the only strategy"
    head = (f"Use {name}: the best quality ({feasible.loc[name, 'quality']:.3f}) {among}"
            + ("" if rec.constraints == "no constraint" else f" within {rec.constraints}"))
    if t is None:
        return head + "; no cheaper strategy meets them."
    other = rec.runner_up
    return (head + f"; no cheaper one is shown non-inferior at margin {rec.margin:.3f} (closest: {other}, "
            f"${feasible.loc[other, 'cost_per_1k']:,.3f} per 1k, may lose up to {max(0.0, -t.lower):.3f} "
            f"quality, {_p_is(t.p_value)}, α = {rec.alpha:g}).")
