"""Tables people paste into a report: the run summary as Markdown, A/B tests as a compact table.

Numbers are written the way a reader reads them: quality with its 95 % CI in one cell, USD with a
fixed number of decimals, p-values as ``<0.001`` rather than ``8.4e-14`` (no e-notation anywhere).

Example::

    >>> from routerlab.viz import summary_markdown, ab_table          # doctest: +SKIP
    >>> print(summary_markdown(res))                                   # doctest: +SKIP
    >>> ab_table(stats.compare_many(res, baseline="gpt-4o"))           # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["summary_markdown", "summary_table", "ab_table", "fmt_p", "fmt_usd"]


def fmt_p(p: float) -> str:
    """A p-value for a reader: ``<0.001``, else three decimals; ``—`` when undefined."""
    if p is None or not np.isfinite(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_usd(x: float, digits: int = 4) -> str:
    """USD with ``digits`` decimals and thousands separators, ``—`` when undefined (never e-notation)."""
    if x is None or not np.isfinite(x):
        return "—"
    return f"${x:,.{digits}f}"


def summary_table(results: Any, summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """``results.summary()`` as display strings, one row per strategy, best quality first.

    Columns: ``""`` (``*`` on the Pareto frontier, ``^`` oracle: an upper bound), ``strategy``,
    ``quality [95% CI]``, ``$ / 1k prompts``, ``$ / correct``, ``p50 s``, ``p95 s`` (latency; marked
    simulated when it is), ``errors``.
    """
    s = (summary if summary is not None else results.summary()).reset_index()
    sim = " (sim.)" if bool(s["simulated_latency"].any()) else ""
    return pd.DataFrame({
        "": ["^" if o else "*" if p else "" for o, p in zip(s["oracle"], s["pareto"])],
        "strategy": s["strategy"].astype(str),
        "quality [95% CI]": [f"{q:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite(q) else "—"
                             for q, lo, hi in zip(s["quality"], s["quality_lo"], s["quality_hi"])],
        "$ / 1k prompts": [fmt_usd(c, 3) for c in s["cost_per_1k"]],
        "$ / correct": [fmt_usd(c, 6) for c in s["cost_per_correct"]],
        f"p50 s{sim}": [f"{v:.2f}" if np.isfinite(v) else "—" for v in s["latency_p50"]],
        f"p95 s{sim}": [f"{v:.2f}" if np.isfinite(v) else "—" for v in s["latency_p95"]],
        "errors": [f"{e:.1%}" for e in s["error_rate"]],
    })


def summary_markdown(results: Any, summary: pd.DataFrame | None = None) -> str:
    """The run's summary as a Markdown document: a heading, what the marks mean, a pipe table.

    Needs ``tabulate`` (a dependency of routerlab; pandas' ``to_markdown`` uses it).
    """
    table = summary_table(results, summary)
    meta = results.meta
    prompts = results.df["prompt_id"].nunique()
    head = (f"# routerlab results: {meta.get('dataset', 'data set')}\n\n"
            f"{prompts:,} prompts (split `{meta.get('split', 'all')}`), {len(table)} strategies. "
            "`*` on the cost-quality Pareto frontier of the realisable strategies; `^` oracle: it reads the "
            "recorded answers, an upper bound never on the frontier. Quality is the mean score with its 95% "
            "confidence interval.\n\n")
    return head + table.to_markdown(index=False, disable_numparse=True,  # keep "2.30", never re-read as 2.3
                                    colalign=["center", "left"] + ["right"] * (table.shape[1] - 2)) + "\n"


def ab_table(tests: pd.DataFrame) -> pd.DataFrame:
    """A compact, readable view of :func:`routerlab.stats.compare_many`'s table: one row per test with
    ``B vs A``, the estimate and its CI in one cell, raw and adjusted p-values (``<0.001``, never
    e-notation), the test and the decision. Fits a notebook's width; the full table stays in ``tests``.
    """
    lo = tests.get("ci_low", tests.get("ci_lo"))
    hi = tests.get("ci_high", tests.get("ci_hi"))
    out = pd.DataFrame({
        "B vs A": [f"{b} vs {a}" for a, b in zip(tests["a"], tests["b"])],
        "n": [f"{int(n):,}" for n in tests["n"]],
        "B − A [CI]": [f"{e:+.3f} [{x:+.3f}, {y:+.3f}]" for e, x, y in zip(tests["estimate"], lo, hi)],
        "p": [fmt_p(p) for p in tests["p_value"]],
    })
    if "p_adjusted" in tests.columns:
        method = str(tests["adjust"].iloc[0]) if "adjust" in tests.columns and len(tests) else "adjusted"
        out[f"p ({method})"] = [fmt_p(p) for p in tests["p_adjusted"]]
    if "decision" in tests.columns:
        out["decision"] = [str(d).replace("B better", f"{b} better").replace("A better", f"{a} better")
                           for d, a, b in zip(tests["decision"], tests["a"], tests["b"])]
    if "test" in tests.columns:
        out["test"] = tests["test"].astype(str)
    return out
