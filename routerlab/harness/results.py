"""Results: the long-form table of an experiment, and everything derived from it.

One row per strategy × prompt × sample (columns in ``RESULT_COLUMNS``, documented in
``docs/results-schema.md``). Summaries, frontiers, routing metrics, A/B tests, plots and the
dashboard are all computed from this table; nothing is recomputed from raw calls.

Example::

    >>> res = Results.load("runs/zeroeval.parquet")       # doctest: +SKIP
    >>> res.summary().loc["gpt-4o", ["quality", "cost"]]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import stats
from ..errors import ConfigError
from ..stats import routing as _m
from . import schema, views
from .schema import RESULT_COLUMNS

__all__ = ["Results", "RESULT_COLUMNS", "is_oracle_name"]


def is_oracle_name(name: str) -> bool:
    """Whether a strategy name denotes an oracle (``oracle…``): the fallback for tables whose ``meta``
    does not say which strategies are oracles (a hand-made table, a file from an older routerlab)."""
    return str(name).lower().startswith("oracle")


_SUMMARY_COLUMNS = ["n", "missing", "quality", "quality_lo", "quality_hi", "cost", "cost_per_1k", "cost_per_correct",
                    "latency_p50", "latency_p95", "latency_p99", "simulated_latency", "error_rate",
                    "calls_per_prompt", "top_model", "top_model_share"]


def _summary_row(g: pd.DataFrame, level: float) -> dict[str, Any]:
    """The summary numbers of one group of rows (see :meth:`Results.summary`)."""
    ok = g[g["error_type"] == ""]
    q = ok["score"].dropna().to_numpy(dtype=float)
    lo, hi = stats.mean_interval(q, 1 - level)
    lat = ok.loc[~ok["cached"], "latency"].dropna().to_numpy(dtype=float)
    pct = np.percentile(lat, [50, 95, 99]) if len(lat) else [np.nan] * 3
    share = ok["final_model"].value_counts(normalize=True)
    cost, correct = float(g["cost"].sum(skipna=False)), float(q.sum())  # an unknown cost is not $0
    calls = g["models_called"].str.count(r"\|").add(1).where(g["models_called"] != "", 0)
    return {
        "n": len(g), "missing": int(ok["score"].isna().sum()), "quality": float(q.mean()) if len(q) else np.nan, "quality_lo": lo, "quality_hi": hi,
        "cost": cost, "cost_per_1k": 1000 * cost / max(len(g), 1),
        "cost_per_correct": cost / correct if correct else np.nan,
        "latency_p50": pct[0], "latency_p95": pct[1], "latency_p99": pct[2],
        "simulated_latency": bool(ok["simulated_latency"].any()),
        "error_rate": float((g["error_type"] != "").mean()), "calls_per_prompt": float(calls.mean()),
        "top_model": share.index[0] if len(share) else "",
        "top_model_share": float(share.iloc[0]) if len(share) else np.nan,
    }


def _check_not_summary(columns: Sequence[str], path: Path) -> None:
    """A summary table (``summary.csv``: one row per strategy) is the mistake users make most here."""
    cols = set(columns)
    if "prompt_id" not in cols and {"strategy", "quality"} <= cols:
        raise ConfigError(f"{path} is a summary (one row per strategy), not a results table (one row per "
                          f"strategy and prompt): pass the results.parquet written next to it "
                          f"({path.with_name('results.parquet')})")


def _check_readable(path: Path) -> None:
    """A missing path is FileNotFoundError with a real message; a directory a ConfigError naming the
    results file inside it when there is one."""
    import errno

    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    if path.is_dir():
        inside = path / "results.parquet"
        hint = f"pass {inside}" if inside.is_file() else "pass the results.parquet that 'routerlab run --out DIR' writes"
        raise ConfigError(f"{path} is a directory, not a results file: {hint}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else "unreadable"


@dataclass
class Results:
    """An experiment's results: ``df`` (long form, :mod:`~routerlab.harness.schema`'s columns) plus
    ``meta`` (data set, split, seed, ...).

    ``meta["oracles"]`` lists the strategies that read the recorded answers (an
    :class:`~routerlab.routers.OracleRouter`, any strategy with ``reads_answers = True``); the
    Experiment fills it in. They are upper bounds: marked in every view, never on the Pareto frontier,
    never recommended. Without that key, strategies named ``oracle…`` are taken to be oracles.
    """

    df: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    #: the strategies' whole cost-quality curves (:class:`~routerlab.harness.curves.Curves`), once attached
    #: by :meth:`with_curves`; not saved by ``to_parquet``/``to_csv``
    curves: Any = None

    def __post_init__(self) -> None:
        self.df = schema.normalise(self.df)

    @property
    def oracles(self) -> list[str]:
        """The strategies that read the recorded answers: upper bounds, not choices (see the class doc)."""
        named = self.meta.get("oracles")
        if named is None:
            return [s for s in self.strategies if is_oracle_name(s)]
        return [s for s in self.strategies if s in set(named)]

    # ------------------------------------------------------------------------ basic views
    @property
    def strategies(self) -> list[str]:
        """The strategies in order of first appearance."""
        return [str(x) for x in pd.unique(self.df["strategy"])]

    def __len__(self) -> int:
        return len(self.df)

    def select(self, strategies: Sequence[str] | None = None, tasks: Sequence[str] | None = None) -> Results:
        """A Results restricted to some strategies and/or tasks."""
        df = self.df
        if strategies is not None:
            unknown = set(strategies) - set(self.strategies)
            if unknown:
                raise ConfigError(f"unknown strategies {sorted(unknown)}; available: {self.strategies}")
            df = df[df["strategy"].isin(list(strategies))]
        if tasks is not None:
            df = df[df["task"].isin(list(tasks))]
        return Results(df, dict(self.meta))

    def shares(self) -> pd.DataFrame:
        """Share of answers each model gave, per strategy (rows: strategy, columns: model)."""
        ok = self.df[self.df["error_type"] == ""]
        tab = pd.crosstab(ok["strategy"], ok["final_model"], normalize="index")
        return tab.reindex([s for s in self.strategies if s in tab.index])

    # ------------------------------------------------------------------------ summary
    def summary(self, by: str | None = None, level: float = 0.95) -> pd.DataFrame:
        """Per strategy (and per ``by`` column, e.g. ``"task"``): n, quality with CI, cost, cost per
        correct answer, latency percentiles (cache hits and errors excluded), error rate, and the
        share of answers per model. Quality's interval is :func:`routerlab.stats.mean_interval` (Wilson
        for 0/1 scores, Student t otherwise) at ``level``. Without ``by``: sorted by quality, best
        first; ``oracle`` marks the upper bounds (:attr:`oracles`) and ``pareto`` the cost-quality
        frontier of the realisable strategies (:meth:`pareto`).

        Missing is missing: answers without a score (``missing``) are left out of quality, never
        counted as 0; a cost is NaN when any call's cost is unknown (a model the catalog does not
        price, with no recorded cost)."""
        keys = ["strategy"] + ([by] if by else [])
        rows = [{**dict(zip(keys, key if isinstance(key, tuple) else (key,))), **_summary_row(g, level)}
                for key, g in self.df.groupby(keys, sort=False)]
        out = pd.DataFrame(rows, columns=[*keys, *_SUMMARY_COLUMNS])
        if by is None:
            front = self.pareto().set_index("strategy")["pareto"]
            out["oracle"] = out["strategy"].isin(self.oracles)
            out["pareto"] = out["strategy"].map(front).fillna(False).astype(bool)
            out = out.sort_values(["quality", "cost"], ascending=[False, True], kind="stable")
        return out.set_index(keys)

    def pareto(self) -> pd.DataFrame:
        """Per strategy: ``cost`` (USD, total), ``cost_per_1k`` (USD per 1,000 rows), ``quality`` (mean
        score of the answered rows), ``oracle`` (reads the recorded answers: a bound), ``pareto``
        (on the cost-quality frontier, :func:`routerlab.stats.pareto_mask` on cost per prompt and
        quality: no realisable strategy is at least as cheap and as good and better on one; an oracle
        never is) and ``hull`` (a vertex of RouterBench's non-decreasing convex hull of the realisable
        strategies). Sorted by cost per prompt. Strategies without a scored answer are left out.

        Example::

            >>> res.pareto().query("pareto")["strategy"].tolist()    # routerlab run's results  # doctest: +SKIP
            ['gemma-2-2b', 'llama-3.1-8b', 'gemini-1.5-flash', 'gpt-4o-mini', 'consensus', 'cascade-agreement',
             'cascade-judge', 'gpt-4o']
        """
        ok = self.df[self.df["error_type"] == ""]
        g = self.df.groupby("strategy", sort=False)
        pts = pd.DataFrame({"cost": g["cost"].sum(), "cost_per_1k": 1000 * g["cost"].mean(),
                            "quality": ok.groupby("strategy", sort=False)["score"].mean()})
        pts = pts.rename_axis("strategy").reset_index().dropna(subset=["quality"])
        c, q = pts["cost_per_1k"].to_numpy(dtype=float), pts["quality"].to_numpy(dtype=float)
        oracle = pts["strategy"].isin(self.oracles).to_numpy(dtype=bool)
        pts["oracle"] = oracle
        pts["pareto"] = stats.pareto_mask(c, q, bound=oracle)
        pts["hull"] = False
        if pts["pareto"].any():
            hx, hy = _m.nondecreasing_convex_hull(c[~oracle], q[~oracle])
            on = set(zip(hx.tolist(), hy.tolist()))
            pts["hull"] = [not o and (a, b) in on for a, b, o in zip(c.tolist(), q.tolist(), oracle)]
        return pts.sort_values("cost_per_1k", kind="stable").reset_index(drop=True)

    # ------------------------------------------------------------------------ routing metrics
    def _matrix(self, column: str) -> pd.DataFrame:
        ok = self.df[self.df["sample"] == 0]
        return ok.pivot(index="prompt_id", columns="strategy", values=column)

    def routing_metrics(self, strong: str, weak: str, *, strategies: Sequence[str] | None = None,
                        pgr_targets: Sequence[float] = (0.5, 0.8), n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
        """RouteLLM's APGR and CPT(x %) for a strong/weak pair, and RouterBench's AIQ, with
        percentile-bootstrap 95 % CIs over prompts.

        ``strong`` and ``weak`` name the single-model strategies of the pair. The router family is
        ``strategies`` (default: every other strategy); each contributes one point: its share of
        answers the strong model produced and its quality (APGR/CPT), and its cost per prompt and
        quality (AIQ, over the cost range of the weak and strong models).

        Attribution: a prompt counts as a strong call when the final answer came from the strong
        model (``final_model``). Judge and verification calls, even to the strong model, count as
        cost only (they are in ``cost``, not in the share), as RouteLLM counts the calls whose
        answer the user gets.
        """
        names = [s for s in (strategies or self.strategies) if s not in (strong, weak)]
        for s in (strong, weak, *names):
            if s not in self.strategies:
                raise ConfigError(f"unknown strategy {s!r}; available: {self.strategies}")
        q = self._matrix("score")
        ids = q.dropna().index
        q = q.loc[ids]
        cost = self._matrix("cost").loc[ids]
        answered = self._matrix("final_model").loc[ids]
        strong_model = self.df.loc[self.df["strategy"] == strong, "final_model"].mode().iloc[0]
        uses = _m.strong_share_matrix(answered[names].to_numpy(dtype=object), strong_model)
        Q, C, U = q[names].to_numpy(), cost[names].to_numpy(), uses
        qs, qw = q[strong].to_numpy(), q[weak].to_numpy()
        cs, cw = cost[strong].to_numpy(), cost[weak].to_numpy()

        def compute(idx: np.ndarray) -> dict[str, float]:
            rs, rw = qs[idx].mean(), qw[idx].mean()
            share, qual, cst = U[idx].mean(0), Q[idx].mean(0), C[idx].mean(0)
            out = {"apgr": _m.apgr(share, qual, r_weak=rw, r_strong=rs) if rs != rw else np.nan,
                   "aiq": _m.aiq(np.r_[cw[idx].mean(), cst, cs[idx].mean()], np.r_[rw, qual, rs],
                                 c_min=min(cw[idx].mean(), cs[idx].mean()), c_max=max(cw[idx].mean(), cs[idx].mean()))}
            for t in pgr_targets:
                out[f"cpt_{int(round(t * 100))}"] = (_m.cpt(share, qual, r_weak=rw, r_strong=rs, target=t)
                                                      if rs != rw else np.nan)
            return out

        n = len(ids)
        point = compute(np.arange(n))
        rng = np.random.default_rng(seed)
        boots = [compute(rng.integers(0, n, n)) for _ in range(n_boot)]
        rows = []
        for k, v in point.items():
            vals = np.array([b[k] for b in boots], dtype=float)
            vals = vals[np.isfinite(vals)]
            lo, hi = (np.quantile(vals, [0.025, 0.975]) if len(vals) else (np.nan, np.nan))
            rows.append({"metric": k, "value": v, "ci_lo": float(lo), "ci_hi": float(hi)})
        return pd.DataFrame(rows).set_index("metric")

    def routing_table(self, strategy: str, **kwargs: Any) -> Any:
        """The routing table ``strategy`` reduces to: per task, the model its answers came from most;
        fallbacks = the next models by quality then cost; metrics with CIs in ``provenance``.
        Returns a :class:`~routerlab.routers.RoutingTable`; ``kwargs`` go to
        :func:`routerlab.harness.tables.document_from_results` (``n_fallbacks``, ``catalog``, ``tasks`` ...).

        Example::

            >>> res.routing_table("task").save("routing_table.json")   # doctest: +SKIP
        """
        from ..routers import RoutingTable
        from .tables import document_from_results

        return RoutingTable.from_dict(document_from_results(self, strategy, **kwargs), source=f"results[{strategy!r}]")

    # ------------------------------------------------------------------------ statistics and views
    def recommend(self, *, budget: float | None = None, max_latency: float | None = None,
                  margin: float | None = None, alpha: float | None = None, quality_floor: float | None = None,
                  exclude: Sequence[str] = ()) -> Any:
        """The cheapest strategy that meets the constraints and is non-inferior to the best feasible one.

        ``budget``: USD per 1,000 prompts; ``max_latency``: p95 latency in seconds; ``quality_floor``:
        minimum mean quality; ``margin``: the quality loss (score units) a cheaper strategy may be shown
        not to exceed (default 0.02); ``alpha``: one-sided level of that paired test (default 0.05).
        Returns a :class:`~routerlab.harness.recommend.Recommendation` (``.strategy``, ``.reason``: one
        sentence with the quality the choice may lose, ``.ab_text()``, ``.table``). The rule, its
        sources and the default margin: :mod:`routerlab.harness.recommend`.

        Example::

            >>> rec = res.recommend(budget=1.0, margin=0.03)   # doctest: +SKIP
            >>> rec.strategy, rec.reason                        # doctest: +SKIP
        """
        from .recommend import DEFAULT_ALPHA, DEFAULT_MARGIN, recommend

        return recommend(self, budget=budget, max_latency=max_latency,
                         margin=DEFAULT_MARGIN if margin is None else margin,
                         alpha=DEFAULT_ALPHA if alpha is None else alpha, quality_floor=quality_floor, exclude=exclude)

    def compare(self, a: str, b: str, metric: str = "quality", **kwargs: Any) -> Any:
        """Paired A/B test of strategy ``b`` against ``a`` (see :func:`routerlab.stats.compare`)."""
        from ..stats import compare

        return compare(self, a, b, metric=metric, **kwargs)

    def with_curves(self, strategies: Any, dataset: Any, **kwargs: Any) -> Results:
        """Attach the whole cost-quality curves (with AIQ, APGR, CPT and bootstrap CIs) of the strategies
        that have one, on ``dataset`` (the held-out split these results replayed); returns self.

        See :func:`routerlab.harness.curves.sweep_curves` for ``kwargs``; ``res.curves`` then holds them,
        ``res.plot("curves")`` draws them and the dashboard shows them.
        """
        from .curves import sweep_curves

        self.curves = sweep_curves(strategies, dataset, **kwargs)
        return self

    def log_to_mlflow(self, *, run_name: str | None = None, experiment: str | None = None,
                      tracking_uri: str | None = None, tags: dict[str, str] | None = None) -> str:
        """Log strategy parameters, metrics with their CIs, the frontier plot, the summary and the
        recommended strategy's routing table to an MLflow run (extra ``mlflow``); returns the run id.
        Details: :mod:`routerlab.harness.tracking`.

        Example::

            >>> res.log_to_mlflow(run_name="zeroeval replay", tracking_uri="sqlite:///mlflow.db")  # doctest: +SKIP
        """
        from .tracking import log_to_mlflow

        return log_to_mlflow(self, run_name=run_name, experiment=experiment, tracking_uri=tracking_uri, tags=tags)

    def plot(self, kind: str = "frontier", **kwargs: Any) -> Any:
        """Plot: ``frontier`` (cost vs quality), ``latency``, ``heatmap``, ``shares``, ``curves`` (after
        :meth:`with_curves`) (a matplotlib Figure; see :func:`routerlab.viz.plot`)."""
        return views.get("plot")(self, kind, **kwargs)

    def dashboard(self, **kwargs: Any) -> Any:
        """The interactive trade-off dashboard (ipywidgets); a static table + PNG without widgets
        (see :class:`routerlab.viz.Dashboard`)."""
        return views.get("dashboard")(self, **kwargs)

    # ------------------------------------------------------------------------ persistence
    def to_parquet(self, path: str | Path) -> Path:
        """Write the table and its meta; ``Results.load`` reads it back exactly."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(self.df, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"routerlab": json.dumps(self.meta, default=str).encode()})
        pq.write_table(table, path, compression="zstd")
        return path

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV plus ``<path>.meta.json``; floats written exactly (repr). Rows end in
        CRLF as RFC 4180 says, so a text cell holding a lone ``\r`` or ``\n`` (a model's answer or an error
        message) is quoted and reads back as one cell."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.df.to_csv(path, index=False, float_format="%.17g", lineterminator="\r\n")
        path.with_suffix(path.suffix + ".meta.json").write_text(json.dumps(self.meta, default=str, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Results:
        """Read a table written by ``to_parquet`` or ``to_csv`` (Parquet is recognised by its ``PAR1``
        magic bytes, whatever the suffix; anything else is read as CSV).

        Raises ``FileNotFoundError`` (errno ENOENT, the path as ``filename``) for a missing file and
        :class:`~routerlab.errors.ConfigError` for anything that is not a results table: a directory, a
        PNG or other binary, a truncated Parquet file, a CSV without the results columns, or the
        ``summary.csv`` written next to ``results.parquet`` (one row per strategy, which cannot be
        replayed or exported). Each message names the file and what to pass instead.
        """
        path = Path(path)
        _check_readable(path)
        try:
            return cls._read(path)
        except (ConfigError, OSError):
            raise
        except Exception as exc:  # noqa: BLE001 - any parser's complaint means "not a results table"
            raise ConfigError(f"{path} is not a results table ({type(exc).__name__}: {_first_line(exc)}): pass "
                              "the results.parquet (or results CSV) that 'routerlab run --out DIR' or "
                              "Results.to_parquet writes") from exc

    @classmethod
    def _read(cls, path: Path) -> Results:
        with path.open("rb") as f:
            magic = f.read(4)
        if magic == b"PAR1":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            _check_not_summary(table.column_names, path)
            meta = json.loads((table.schema.metadata or {}).get(b"routerlab", b"{}"))
            return cls(table.to_pandas(), meta)
        if path.suffix == ".parquet":
            raise ConfigError(f"{path} is not a Parquet file (it does not start with PAR1; truncated or "
                              "another format): write it again with 'routerlab run --out DIR' or Results.to_parquet")
        _check_not_summary(pd.read_csv(path, nrows=0).columns, path)
        df = schema.read_csv(path)
        meta_file = path.with_suffix(path.suffix + ".meta.json")
        meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
        return cls(df, meta)

    # ------------------------------------------------------------------------ display
    def _headline(self) -> str:
        """One line: data set, size, split, the best realisable strategy, oracles, what the run reused."""
        name = self.meta.get("dataset") or "results"
        head = (f"{name}: {len(self.strategies)} strategies × {self.df['prompt_id'].nunique():,} prompts "
                f"({len(self):,} rows), split {self.meta.get('split', 'all')}")
        ok = self.df[(self.df["error_type"] == "") & ~self.df["strategy"].isin(self.oracles)]
        if len(ok):
            q = ok.groupby("strategy", sort=False)["score"].mean().dropna()
            if len(q):
                head += f"; best quality {q.idxmax()} {q.max():.3f}"
        errors = float((self.df["error_type"] != "").mean()) if len(self) else 0.0
        if errors:
            head += f"; {errors:.1%} of rows failed"
        if self.oracles:
            head += f"; oracle (upper bound): {', '.join(self.oracles)}"
        run = self.meta.get("run") or {}
        if run.get("reused") or run.get("retried"):
            head += f"; reused {run['reused']:,} stored rows, retried {run['retried']:,}"
        return head

    def __repr__(self) -> str:
        return f"Results({self._headline()})"

    def _repr_html_(self) -> str:
        s = self.summary()
        cols = ["n", "quality", "quality_lo", "quality_hi", "cost", "cost_per_correct", "latency_p50",
                "latency_p95", "error_rate", "pareto", "oracle"]
        fmt = {"quality": "{:.3f}", "quality_lo": "{:.3f}", "quality_hi": "{:.3f}", "cost": "${:.4f}",
               "cost_per_correct": "${:.6f}", "latency_p50": "{:.2f}s", "latency_p95": "{:.2f}s",
               "error_rate": "{:.1%}"}
        table = s[cols].style.format(fmt, na_rep="—").to_html()
        sim = " (latency simulated from catalog profiles)" if self.df["simulated_latency"].any() else ""
        bound = (f"; oracle: {', '.join(self.oracles)} (reads the recorded answers: an upper bound, never on "
                 "the Pareto frontier)") if self.oracles else ""
        from html import escape

        return f"<div><b>{escape(self._headline())}</b>{escape(sim)}{escape(bound)}{table}</div>"
