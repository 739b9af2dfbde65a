"""Paired A/B comparison of two strategies replayed on the same prompts: :func:`compare`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from routerlab.errors import ConfigError

from ._common import (
    Difference,
    InsufficientDataError,
    SeedLike,
    as_frame,
    check_alpha,
    check_power,
    fmt_ci,
    fmt_num,
    fmt_p,
    html_table,
    plain,
    seed_sequence,
    text_table,
)
from ._data import MetricSpec, Pairs, pair_arms, resolve_metric
from .bootstrap import (
    _boot_p,
    bca_interval,
    mean_and_ratio,
    percentile_interval,
    quantile_diff_distribution,
    sign_flip_test,
)
from .intervals import cluster_robust_se, mcnemar_exact, newcombe_paired_ci, t_interval
from .power import mde_paired, n_paired, normal_power, power_paired
from .signed_rank import wilcoxon_signed_rank

__all__ = ["ABResult", "compare"]

_SMALL_N = 30
_FEW_CLUSTERS = 30


@dataclass(frozen=True)
class ABResult(Difference):
    """The outcome of :func:`compare`: B minus A on one metric, over paired prompts.

    Main fields: ``n`` pairs used and ``dropped`` (per arm, per reason: error, missing value,
    cached, no partner); ``estimate`` (B − A, in the metric's units) and ``relative_change``
    (estimate / A's value); ``ci`` with ``ci_method``; ``p_value`` with ``test``; ``se`` with
    ``se_method`` (plain or clustered); ``correlation`` between arms; ``discordant`` counts
    (pairs where B is higher, A is higher, equal); ``power`` at ``effect``, ``mde`` (minimum
    detectable effect at ``target_power``) and ``prompts_required`` for ``effect``; ``alt_tests``
    and ``alt_cis`` (robustness checks); ``warnings``; and ``decision``, one of "B better",
    "A better", "no difference detected", "underpowered" (not significant and power at ``effect``
    below ``target_power``). "Better" respects ``higher_is_better`` (lower cost is better).

    Example::

        >>> import pandas as pd
        >>> df = pd.DataFrame({"strategy": ["a"] * 40 + ["b"] * 40,
        ...                    "prompt_id": [str(i) for i in range(40)] * 2,
        ...                    "score": [0, 1] * 20 + [1] * 40})
        >>> r = compare(df, "a", "b")
        >>> r.decision, r.test
        ('B better', 'exact McNemar (20 vs 0 discordant pairs)')
    """

    metric: str
    column: str
    kind: str
    statistic: str
    n: int
    dropped: dict[str, dict[str, int]]
    se: float
    se_method: str
    cluster: str | None
    n_clusters: int | None
    correlation: float
    discordant: dict[str, int]
    effect: float
    effect_source: str
    power: float
    target_power: float
    mde: float
    prompts_required: int | None
    higher_is_better: bool
    alt_tests: dict[str, float]
    alt_cis: dict[str, tuple[float, float]]
    n_boot: int | None

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain Python (JSON-serialisable apart from NaN)."""
        return plain(asdict(self))

    def _rows(self) -> list[tuple[str, str]]:
        rows = [
            ("pairs", str(self.n)),
            (f"{self.statistic} A ({self.a})", fmt_num(self.value_a)),
            (f"{self.statistic} B ({self.b})", fmt_num(self.value_b)),
            *self._estimate_rows(),
            ("p-value", f"{fmt_p(self.p_value)}  {self.test}"),
            ("SE", f"{fmt_num(self.se)}  {self.se_method}"),
            ("correlation A,B", fmt_num(self.correlation)),
            ("B higher / A higher / equal",
             " / ".join(str(self.discordant[k]) for k in ("b_higher", "a_higher", "equal"))),
            (f"power at effect {fmt_num(self.effect)}", f"{fmt_num(self.power, 3)}  ({self.effect_source})"),
            (f"MDE at power {self.target_power:g}", fmt_num(self.mde)),
            ("prompts required", "—" if self.prompts_required is None else str(self.prompts_required)),
        ]
        for name, p in self.alt_tests.items():
            rows.append(("check (p)", f"{fmt_p(p)}  {name}"))
        for name, ci in self.alt_cis.items():
            rows.append(("check (CI)", f"{fmt_ci(ci)}  {name}"))
        dropped = "; ".join(
            f"{arm}: " + (", ".join(f"{v} {k}" for k, v in d.items() if v) or "none")
            for arm, d in self.dropped.items()
        )
        rows.append(("dropped", dropped))
        rows.append(("decision", self.decision))
        return rows

    def _title(self) -> str:
        return f"{self.b} (B) vs {self.a} (A) on {self.metric}"

    def __str__(self) -> str:
        return text_table(self._title(), self._rows(), self.warnings)

    def _repr_html_(self) -> str:
        return html_table(self._title(), self._rows(), self.warnings, highlight=self.decision)


def compare(results: Any, a: str, b: str, metric: str = "quality", *,
            quantile: float | None = None, cluster: str | None = None, alpha: float = 0.05,
            effect: float | None = None, power: float = 0.8, n_boot: int = 10_000,
            n_perm: int = 9_999, seed: SeedLike = 0, on_error: str = "drop",
            kind: str | None = None, higher_is_better: bool | None = None) -> ABResult:
    """Paired comparison of strategy ``b`` against ``a`` on the prompts both answered.

    Pairs are matched on (prompt_id, sample). Rows with an error or a missing value (and, for
    latency, cache hits) are dropped and counted per arm in ``dropped``, with warnings when the arms
    lose rows unevenly. The test follows the metric:

    - quality with 0/1 scores: exact McNemar; Newcombe paired-proportion CI.
    - continuous scores: paired t (CI and p), Wilcoxon signed-rank and a BCa paired bootstrap CI as
      robustness checks.
    - cost, latency, tokens (means): sign-flip permutation test; BCa bootstrap CIs for the mean
      difference and (in ``alt_cis``) the ratio of sums B/A.
    - quantiles (``metric="latency_p95"`` or ``quantile=0.95``): paired percentile bootstrap of the
      quantile difference.

    ``cluster="task"`` makes the SE, CI and p cluster-robust (CR1 with t on G−1 df; the bootstrap
    resamples whole clusters), as prompts of one task are not independent (Miller 2024).
    ``effect`` is the smallest absolute difference that matters, for ``power`` and
    ``prompts_required`` (default: 0.05 on the 0-1 quality scale, 10% of A for cost and latency).
    ``on_error="zero"`` scores failed calls 0 instead of dropping them (quality only).

    Example::

        >>> import pandas as pd
        >>> df = pd.DataFrame({"strategy": ["a"] * 30 + ["b"] * 30,
        ...                    "prompt_id": [f"p{i}" for i in range(30)] * 2,
        ...                    "cost": [0.01 + 0.001 * i for i in range(30)]
        ...                            + [0.008 + 0.001 * i for i in range(30)]})
        >>> r = compare(df, "a", "b", "cost", n_boot=2000)
        >>> r.decision, round(r.estimate, 4)
        ('B better', -0.002)
    """
    check_alpha(alpha)
    check_power(power)
    df = as_frame(results)
    spec = resolve_metric(df, metric, quantile=quantile, kind=kind, higher_is_better=higher_is_better)
    pairs = pair_arms(df, a, b, spec, cluster=cluster, on_error=on_error)
    n = len(pairs.a)
    if n < 2:
        raise InsufficientDataError(
            f"compare({a!r}, {b!r}, metric={metric!r}): only {n} complete pair(s) after dropping "
            f"{pairs.dropped}; both strategies need results on the same (prompt_id, sample)"
        )
    x, y = pairs.a, pairs.b
    is01 = bool(np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all())
    kind = spec.kind or ("binary" if is01 else "continuous")
    if kind == "binary" and not is01:
        raise ConfigError(f"kind='binary' but {spec.column!r} has values other than 0 and 1")
    if (kind in ("binary", "continuous", "skewed") and n_perm < 99) or n_boot < 100:
        raise ConfigError(f"n_boot={n_boot}, n_perm={n_perm}: use at least 100 resamples")
    boot_seed, perm_seed = seed_sequence(seed).spawn(2)
    warnings = list(pairs.warnings)
    out = _analyse(kind, spec, pairs, alpha, n_boot, n_perm, boot_seed, perm_seed, cluster, warnings)

    d = y - x
    value_a, value_b = out["value_a"], out["value_b"]
    estimate = out["estimate"]
    relative = estimate / abs(value_a) if value_a != 0 else math.nan
    sx, sy = np.std(x), np.std(y)
    corr = float(np.corrcoef(x, y)[0, 1]) if sx > 0 and sy > 0 else math.nan
    discordant = {"b_higher": int(np.sum(d > 0)), "a_higher": int(np.sum(d < 0)),
                  "equal": int(np.sum(d == 0))}

    if effect is None:
        eff, effect_source = _default_effect(spec, kind, value_a, x)
    else:
        eff, effect_source = abs(float(effect)), "given"
    se = out["se"]
    if not (math.isfinite(eff) and eff > 0):
        pw, mde, n_req = math.nan, math.nan, None
        warnings.append("no effect of interest could be set: pass effect=... for power and "
                        "prompts required")
    elif kind == "quantile":
        pw = normal_power(se, eff, alpha)
        mde = float((special.ndtri(1 - alpha / 2) + special.ndtri(power)) * se)
        n_req = max(2, math.ceil(n * (mde / eff) ** 2)) if se > 0 else 2
    else:
        sd_eff = se * math.sqrt(n)
        pw = power_paired(n, eff, sd_eff, alpha, df=out["df"])
        mde = mde_paired(n, sd_eff, alpha, power, df=out["df"])
        n_req = n_paired(eff, sd_eff, alpha, power)

    p = out["p"]
    ci = out["ci"]
    if p < alpha and estimate != 0:
        decision = "B better" if (estimate > 0) == spec.higher_is_better else "A better"
    elif math.isfinite(pw) and pw < power:
        decision = "underpowered"
    else:
        decision = "no difference detected"
    _add_warnings(warnings, kind, n, d, out, alpha, p, ci, spec, n_boot)

    return ABResult(
        a=a, b=b, metric=metric, column=spec.column, kind=kind, statistic=spec.statistic, n=n,
        dropped=pairs.dropped, value_a=float(value_a), value_b=float(value_b),
        estimate=float(estimate), relative_change=float(relative),
        ci=(float(ci[0]), float(ci[1])), ci_method=out["ci_method"], alpha=alpha,
        p_value=float(p), test=out["test"], se=float(se), se_method=out["se_method"],
        cluster=cluster, n_clusters=out.get("g"), correlation=corr, discordant=discordant,
        effect=float(eff), effect_source=effect_source, power=float(pw), target_power=power,
        mde=float(mde), prompts_required=n_req, decision=decision,
        higher_is_better=spec.higher_is_better, alt_tests=out["alt_tests"],
        alt_cis=out["alt_cis"], warnings=tuple(warnings), n_boot=out.get("n_boot"),
    )


def _analyse(kind: str, spec: MetricSpec, pairs: Pairs, alpha: float, n_boot: int, n_perm: int,
             boot_seed: np.random.SeedSequence, perm_seed: np.random.SeedSequence,
             cluster: str | None, warnings: list[str]) -> dict[str, Any]:
    x, y, clusters = pairs.a, pairs.b, pairs.clusters
    n = len(x)
    d = y - x
    out: dict[str, Any] = {"alt_tests": {}, "alt_cis": {}, "df": n - 1,
                           "value_a": float(x.mean()), "value_b": float(y.mean()),
                           "estimate": float(d.mean()), "se_method": "plain (SD of paired differences / √n)"}
    # Differences equal up to rounding (e.g. a fixed price cut) have no variability to test.
    constant = bool(np.ptp(d) <= 1e-12 * float(np.max(np.abs(d))))
    sd = 0.0 if constant else float(np.std(d, ddof=1))
    out["se"] = sd / math.sqrt(n)

    if kind == "quantile":
        q = float(spec.quantile)  # type: ignore[arg-type]
        est, dist = quantile_diff_distribution(x, y, q, n_boot=n_boot, seed=boot_seed, clusters=clusters)
        unit = "cluster" if clusters is not None else "paired"
        out.update(value_a=float(np.quantile(x, q)), value_b=float(np.quantile(y, q)), estimate=est,
                   ci=percentile_interval(dist, alpha), p=_boot_p(dist, 0.0), n_boot=n_boot,
                   se=float(np.std(dist, ddof=1)),
                   ci_method=f"{unit} percentile bootstrap ({n_boot} resamples)",
                   test=f"{unit} percentile bootstrap of the {spec.statistic} difference",
                   se_method=f"{unit} bootstrap SD of the {spec.statistic} difference")
        if clusters is not None:
            out["g"] = len(np.unique(clusters))
            out["se_method"] += f" ({out['g']} clusters of {cluster!r})"
        return out

    # Mean-type metrics: the iid analysis first; clustering replaces the primary CI/p below.
    if kind == "binary":
        n11 = int(np.sum((x == 1) & (y == 1)))
        b_only = int(np.sum((y == 1) & (x == 0)))
        a_only = int(np.sum((x == 1) & (y == 0)))
        n00 = n - n11 - b_only - a_only
        out.update(p=mcnemar_exact(b_only, a_only),
                   test=f"exact McNemar ({b_only} vs {a_only} discordant pairs)",
                   ci=newcombe_paired_ci(n11, b_only, a_only, n00, alpha),
                   ci_method="Newcombe (1998) square-and-add CI for paired proportions")
        need_boot: tuple[str, ...] = ()
    elif kind == "continuous":
        if sd == 0:
            shift = float(d.mean())
            out.update(p=1.0 if shift == 0 else 0.0, ci=(shift, shift))
            warnings.append("every pair differs by the same amount: no variability to test against")
        else:
            tt = stats.ttest_rel(y, x)
            ci = tt.confidence_interval(1 - alpha)
            out.update(p=float(tt.pvalue), ci=(float(ci.low), float(ci.high)))
        out.update(test=f"paired t (df = {n - 1})", ci_method="paired t")
        out["alt_tests"]["Wilcoxon signed-rank"] = _wilcoxon(d)
        need_boot = ("mean_diff",)
    else:  # skewed: cost, latency, tokens
        p_perm, exact = sign_flip_test(d, n_perm, seed=perm_seed)
        flips = "all sign flips" if exact else f"{n_perm} random sign flips"
        out.update(p=p_perm, test=f"sign-flip permutation test of the mean difference ({flips})")
        if not constant:
            out["alt_tests"]["paired t"] = float(stats.ttest_rel(y, x).pvalue)
        need_boot = ("mean_diff", "ratio")

    if clusters is not None:
        g = len(np.unique(clusters))
        se_cl, _ = cluster_robust_se(d, clusters)
        se_cl = float(se_cl)
        est = float(d.mean())
        if "p" in out:
            out["alt_tests"][f"{out['test']}, ignoring clusters"] = out["p"]
        if "ci" in out:
            out["alt_cis"][f"{out['ci_method']}, ignoring clusters"] = out["ci"]
        if se_cl > 0:
            p = 2 * stats.t.sf(abs(est) / se_cl, g - 1)
        else:
            p = 1.0 if est == 0 else 0.0
        label = f"cluster-robust t (CR1, {g} clusters of {cluster!r}, df = {g - 1})"
        out.update(g=g, df=g - 1, se=se_cl, p=float(p), test=label,
                   ci=t_interval(est, se_cl, g - 1, alpha), ci_method=label,
                   se_method=f"clustered by {cluster!r} (CR1, {g} clusters)")
        need_boot = ("mean_diff", "ratio") if kind == "skewed" else ("mean_diff",)

    if need_boot:
        unit = "cluster" if clusters is not None else "paired"
        boots = mean_and_ratio(x, y, n_boot=n_boot, seed=boot_seed, clusters=clusters,
                               statistics=need_boot)
        out["n_boot"] = n_boot
        est, dist, jack = boots["mean_diff"]
        ci_md = bca_interval(est, dist, jack, alpha)
        if kind == "skewed" and clusters is None:
            out.update(ci=ci_md,
                       ci_method=f"BCa paired bootstrap of the mean difference ({n_boot} resamples)")
        else:
            out["alt_cis"][f"BCa {unit} bootstrap of the mean difference"] = ci_md
        if "ratio" in boots:
            r_est, r_dist, r_jack = boots["ratio"]
            ok = np.isfinite(r_dist)
            if math.isfinite(r_est) and ok.all():
                out["alt_cis"][f"BCa {unit} bootstrap of the ratio of sums B/A"] = bca_interval(
                    r_est, r_dist, r_jack[np.isfinite(r_jack)], alpha)
    return out


def _wilcoxon(d: np.ndarray) -> float:
    """Wilcoxon signed-rank p-value, as R's ``wilcox.test(paired = TRUE)`` computes it (exact below
    50 non-zero differences without ties, else normal with tie and continuity corrections)."""
    return wilcoxon_signed_rank(d)


def _default_effect(spec: MetricSpec, kind: str, value_a: float, x: np.ndarray) -> tuple[float, str]:
    if spec.column == "score":
        return 0.05, "default: 0.05 on the 0-1 quality scale"
    if kind in ("skewed", "quantile") and value_a != 0:
        return 0.1 * abs(value_a), f"default: 10% of A's {spec.statistic}"
    return 0.2 * float(np.std(x, ddof=1)), "default: 0.2 SD of A (a small effect)"


def _add_warnings(warnings: list[str], kind: str, n: int, d: np.ndarray, out: dict[str, Any],
                  alpha: float, p: float, ci: tuple[float, float], spec: MetricSpec,
                  n_boot: int) -> None:
    if kind == "binary":
        disc = int(np.count_nonzero(d))
        if disc < 10:
            warnings.append(f"only {disc} discordant pairs: the exact McNemar test has little power; "
                            f"concordant pairs carry no information about the difference")
    elif n < _SMALL_N:
        warnings.append(f"small sample: {n} pairs; t and bootstrap intervals are approximate below "
                        f"~{_SMALL_N} (bootstrap intervals tend to be too narrow)")
    if kind == "continuous":
        ties = int(np.sum(d == 0))
        if ties:
            warnings.append(f"ties: {ties} of {n} pairs have equal values; Wilcoxon drops them, so "
                            f"rely on the t-test and bootstrap if there are many")
    if kind == "quantile":
        q = float(spec.quantile or 0.5)
        tail = min(q, 1 - q) * n
        if tail < 10:
            warnings.append(f"only ~{tail:.0f} observations lie beyond the {spec.statistic}: its "
                            f"bootstrap interval is unreliable; collect more or use a central quantile")
    g = out.get("g")
    if g is not None and g < _FEW_CLUSTERS:
        warnings.append(f"only {g} clusters: cluster-robust SEs are unreliable with few clusters "
                        f"(t on {g - 1} df helps but does not fix it)")
    excludes_zero = ci[0] > 0 or ci[1] < 0
    if excludes_zero != (p < alpha) and math.isfinite(p):
        warnings.append(f"the CI ({out['ci_method']}) and the test ({out['test']}) disagree at "
                        f"alpha = {alpha:g}: the result is borderline")
    if out.get("n_boot") and n_boot < 2000:
        warnings.append(f"n_boot = {n_boot}: bootstrap interval ends carry Monte Carlo error; use "
                        f"2,000+ resamples for 95% intervals")
