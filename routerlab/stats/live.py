"""Live-traffic A/B tests: hashed assignment, unpaired analysis, SRM check, always-valid p-values.

The sequential p-value is the mixture sequential probability ratio test (mSPRT) of Johari,
Koomen, Pekelis & Walsh (2017, "Peeking at A/B Tests", KDD; 2022 Operations Research, "Always
Valid Inference"), with a normal mixing distribution ``N(0, tau^2)`` over the difference in means.
For an estimate ``theta_hat`` with variance ``V`` the mixture likelihood ratio is

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * theta_hat^2 / (2 V (V + tau^2)))

and the always-valid p-value is the running minimum of ``min(1, 1 / Lambda)``; with equal arms of
n units each (``V = 2 sigma^2 / n``) this is the paper's formula. Rejecting whenever it drops below
alpha keeps the false positive rate at or below alpha however often one peeks. Variances are
plug-in estimates, so the guarantee is asymptotic; the first ``min_n`` units of each arm are a
burn-in during which no p-value is issued.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from routerlab.errors import ConfigError

from ._common import (
    Difference,
    InsufficientDataError,
    check_alpha,
    fmt_num,
    fmt_p,
    html_table,
    plain,
    text_table,
)
from .intervals import newcombe_unpaired_ci

__all__ = [
    "ABTest",
    "LiveResult",
    "SRMResult",
    "srm_check",
    "msprt_pvalue",
    "always_valid_pvalues",
    "sequential_pvalues",
]


# ----------------------------------------------------------------------------- SRM

@dataclass(frozen=True)
class SRMResult:
    """Sample-ratio-mismatch check: chi-square goodness of fit of arm counts to the planned split.

    Example::

        >>> srm_check([5000, 5400]).flagged
        True
    """

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi2: float
    p_value: float
    flagged: bool
    threshold: float

    def _repr_html_(self) -> str:
        rows = [("observed", str(list(self.observed))),
                ("expected", str([round(e, 1) for e in self.expected])),
                ("chi-square", f"{self.chi2:.3f}"), ("p-value", fmt_p(self.p_value))]
        verdict = f"MISMATCH (p < {self.threshold:g})" if self.flagged else "ok"
        return html_table("Sample ratio check", rows, [], highlight=verdict)

    def __str__(self) -> str:
        verdict = "MISMATCH" if self.flagged else "ok"
        return (f"SRM check: observed {list(self.observed)}, expected "
                f"{[round(e, 1) for e in self.expected]}, chi2 = {self.chi2:.3f}, "
                f"p = {fmt_p(self.p_value)} ({verdict} at p < {self.threshold:g})")


def srm_check(counts: Sequence[int], weights: Sequence[float] | None = None,
              threshold: float = 0.001) -> SRMResult:
    """Flag a sample ratio mismatch when the chi-square p-value is below ``threshold``.

    A mismatch means assignment or logging is broken (bots, crashes in one arm, caching): the
    test's results cannot be trusted, whatever they say. ``weights`` default to an even split.

    Example::

        >>> srm_check([5000, 5200]).flagged
        False
    """
    obs = np.asarray(counts, dtype=float)
    if obs.ndim != 1 or obs.size < 2 or (obs < 0).any():
        raise ConfigError(f"srm_check: counts must be >= 0, one per arm (2+), got {list(counts)}")
    w = np.ones_like(obs) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != obs.shape or (w <= 0).any():
        raise ConfigError(f"srm_check: weights must be > 0, one per arm, got {weights}")
    total = obs.sum()
    if total == 0:
        raise InsufficientDataError("srm_check: no units recorded yet")
    expected = total * w / w.sum()
    res = stats.chisquare(obs, expected)
    p = float(res.pvalue)
    return SRMResult(tuple(int(c) for c in obs), tuple(float(e) for e in expected),
                     float(res.statistic), p, p < threshold, threshold)


# ----------------------------------------------------------------------------- mSPRT

def msprt_pvalue(estimate: Any, variance: Any, tau: Any, null: float = 0.0) -> np.ndarray:
    """``min(1, 1 / Lambda)`` of the normal-mixture SPRT at one look (not yet a running minimum).

    ``estimate`` ~ N(theta, ``variance``); ``tau`` is the mixing SD on the estimate's scale.
    Arrays broadcast. Where the variance is 0 or undefined the p-value is 1.

    Example::

        >>> float(msprt_pvalue(0.0, 1.0, 1.0)).__round__(4)  # sqrt(2) > 1: capped at 1
        1.0
    """
    est = np.asarray(estimate, dtype=float)
    v = np.asarray(variance, dtype=float)
    t2 = np.asarray(tau, dtype=float) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lr = 0.5 * np.log(v / (v + t2)) + t2 * (est - null) ** 2 / (2 * v * (v + t2))
        p = np.minimum(1.0, np.exp(-log_lr))
    return np.where(np.isfinite(p) & (v > 0), p, 1.0)


def always_valid_pvalues(estimate: Any, variance: Any, tau: Any, null: float = 0.0,
                         axis: int = -1) -> np.ndarray:
    """Running minimum of :func:`msprt_pvalue` along ``axis`` (the order of the looks).

    Example::

        >>> always_valid_pvalues([0.1, 0.3, 0.2], [0.01, 0.01, 0.01], 0.3).round(4).tolist()
        [1.0, 0.0551, 0.0551]
    """
    return np.minimum.accumulate(msprt_pvalue(estimate, variance, tau, null), axis=axis)


def sequential_pvalues(n_a: Any, sum_a: Any, sumsq_a: Any, n_b: Any, sum_b: Any, sumsq_b: Any,
                       *, tau: float = 0.1, binary: bool = False, min_n: int = 30) -> np.ndarray:
    """Always-valid p-values for mean(B) − mean(A) from cumulative sums at each look.

    Inputs are cumulative counts, sums and sums of squares per arm, with the looks along the last
    axis. ``tau`` is the mixing SD in units of the outcome's pooled SD (so the test is
    scale-free); looks before both arms reach ``min_n`` units give p = 1. Binary outcomes use
    ``p(1 - p)`` as each arm's variance.

    Example::

        >>> import numpy as np
        >>> n = np.arange(1, 201)
        >>> p = sequential_pvalues(n, n * 0.0, n * 1.0, n, n * 0.5, n * 1.25, tau=0.5)
        >>> bool(p[-1] < 0.05)
        True
    """
    n_a, s_a, q_a = (np.asarray(x, dtype=float) for x in (n_a, sum_a, sumsq_a))
    n_b, s_b, q_b = (np.asarray(x, dtype=float) for x in (n_b, sum_b, sumsq_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        m_a, m_b = s_a / n_a, s_b / n_b
        if binary:
            v_a, v_b = m_a * (1 - m_a), m_b * (1 - m_b)
        else:
            v_a = (q_a - n_a * m_a**2) / (n_a - 1)
            v_b = (q_b - n_b * m_b**2) / (n_b - 1)
        v_a, v_b = np.maximum(v_a, 0.0), np.maximum(v_b, 0.0)
        variance = v_a / n_a + v_b / n_b
        pooled_sd = np.sqrt((v_a + v_b) / 2)
    ready = (n_a >= min_n) & (n_b >= min_n)
    p = msprt_pvalue(np.where(ready, m_b - m_a, 0.0), np.where(ready, variance, 0.0),
                     tau * np.where(ready, pooled_sd, 1.0))
    return np.minimum.accumulate(np.where(ready, p, 1.0), axis=-1)


# ----------------------------------------------------------------------------- ABTest

@dataclass(frozen=True)
class LiveResult(Difference):
    """Analysis of a live :class:`ABTest` (unpaired: different units in each arm).

    ``p_value``/``ci`` are fixed-horizon (valid if the sample size was fixed in advance);
    ``always_valid_p`` (mSPRT) is valid however often the test is peeked at, and ``decision`` is
    based on it. ``srm`` is the sample-ratio-mismatch check; when it is flagged the decision is
    ``"sample ratio mismatch"``.

    Example::

        >>> t = ABTest("demo")
        >>> for i in range(400):
        ...     _ = t.record(f"u{i}", float(i % 3 == 0))
        >>> t.analyze().test
        'two-proportion z (pooled)'
    """

    name: str
    n_a: int
    n_b: int
    alt_tests: dict[str, float]
    always_valid_p: float
    tau: float
    srm: SRMResult

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain Python."""
        out = asdict(self)
        out["srm"] = asdict(self.srm)
        return plain(out)

    def _rows(self) -> list[tuple[str, str]]:
        rows = [
            ("units", f"{self.a}: {self.n_a}, {self.b}: {self.n_b}"),
            (f"mean {self.a} (A)", fmt_num(self.value_a)),
            (f"mean {self.b} (B)", fmt_num(self.value_b)),
            *self._estimate_rows(),
            ("p-value (fixed horizon)", f"{fmt_p(self.p_value)}  {self.test}"),
            ("always-valid p (mSPRT)", f"{fmt_p(self.always_valid_p)}  tau = {self.tau:g} SD"),
        ]
        rows += [("check (p)", f"{fmt_p(v)}  {k}") for k, v in self.alt_tests.items()]
        rows.append(("sample ratio", f"p = {fmt_p(self.srm.p_value)}"
                     + ("  MISMATCH" if self.srm.flagged else "  ok")))
        rows.append(("decision", self.decision))
        return rows

    def __str__(self) -> str:
        return text_table(f"Live A/B test {self.name!r}", self._rows(), self.warnings)

    def _repr_html_(self) -> str:
        return html_table(f"Live A/B test {self.name!r}", self._rows(), self.warnings,
                          highlight=self.decision)


class ABTest:
    """A live A/B test: deterministic assignment, recorded outcomes, analysis on demand.

    ``assign(unit_id)`` hashes ``salt:unit_id`` with SHA-256, so the same unit always lands in the
    same arm, across processes and machines; a new ``salt`` reshuffles. ``record`` stores an
    outcome (a number or a bool) for a unit; a unit recorded several times is analysed by its mean.
    ``analyze`` runs the unpaired analysis (two-proportion z for 0/1 outcomes, Welch t with a
    Mann-Whitney check otherwise), the SRM check, and the always-valid mSPRT p-value.

    Example::

        >>> t = ABTest("router-v2", arms=("control", "cascade"), salt="2024-06")
        >>> t.assign("user-42") == t.assign("user-42")
        True
        >>> _ = t.record("user-42", 0.7)
    """

    def __init__(self, name: str, arms: Sequence[str] = ("A", "B"), *,
                 weights: Sequence[float] | None = None, salt: str | None = None,
                 alpha: float = 0.05, tau: float = 0.1, min_n: int = 30,
                 higher_is_better: bool = True, srm_threshold: float = 0.001) -> None:
        arms = tuple(str(a) for a in arms)
        if len(arms) != 2 or arms[0] == arms[1]:
            raise ConfigError(f"ABTest needs exactly two distinct arms (control, treatment), got {arms}")
        w = (1.0, 1.0) if weights is None else tuple(float(x) for x in weights)
        if len(w) != 2 or min(w) <= 0:
            raise ConfigError(f"weights={weights}: two positive numbers, e.g. (0.5, 0.5)")
        check_alpha(alpha)
        if not tau > 0:
            raise ConfigError(f"tau={tau!r}: the mixing SD (in outcome SDs) must be > 0, e.g. 0.1")
        self.name = name
        self.arms = arms
        self.weights = (w[0] / sum(w), w[1] / sum(w))
        self.salt = name if salt is None else salt
        self.alpha = alpha
        self.tau = tau
        self.min_n = min_n
        self.higher_is_better = higher_is_better
        self.srm_threshold = srm_threshold
        self._units: list[str] = []
        self._arm: list[str] = []
        self._values: list[float] = []

    def __repr__(self) -> str:
        return (f"ABTest(name={self.name!r}, arms={self.arms}, weights={self.weights}, "
                f"records={len(self._values)})")

    def bucket(self, unit_id: Any) -> float:
        """The unit's position in [0, 1): the first 8 bytes of SHA-256(salt:unit_id)."""
        digest = hashlib.sha256(f"{self.salt}:{unit_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64

    def assign(self, unit_id: Any) -> str:
        """The arm of ``unit_id``: stable for a given salt."""
        return self.arms[0] if self.bucket(unit_id) < self.weights[0] else self.arms[1]

    def record(self, unit_id: Any, value: float | bool, *, arm: str | None = None) -> str:
        """Store an outcome for ``unit_id`` (in its assigned arm unless ``arm`` is given)."""
        chosen = self.assign(unit_id) if arm is None else str(arm)
        if chosen not in self.arms:
            raise ConfigError(f"arm={arm!r} is not one of this test's arms {list(self.arms)}")
        v = float(value)
        if not math.isfinite(v):
            raise ConfigError(f"record({unit_id!r}): outcome {value!r} is not a finite number")
        self._units.append(str(unit_id))
        self._arm.append(chosen)
        self._values.append(v)
        return chosen

    @property
    def counts(self) -> dict[str, int]:
        """Units per arm so far."""
        frame = self.to_frame()
        units = frame.drop_duplicates("unit_id")["arm"].value_counts()
        return {a: int(units.get(a, 0)) for a in self.arms}

    def to_frame(self) -> pd.DataFrame:
        """Every record in arrival order: ``unit_id``, ``arm``, ``value``."""
        return pd.DataFrame({"unit_id": self._units, "arm": self._arm, "value": self._values})

    def srm(self) -> SRMResult:
        """Sample-ratio-mismatch check of units per arm against the planned weights."""
        c = self.counts
        return srm_check([c[a] for a in self.arms], self.weights, self.srm_threshold)

    def analyze(self) -> LiveResult:
        """Unpaired analysis of B (second arm) against A (first arm); see :class:`LiveResult`.

        The unit of analysis is the unit of assignment: a unit recorded several times counts once,
        with its mean outcome, and enters the sequential p-value at its first record.
        """
        frame = self.to_frame()
        warnings: list[str] = []
        if frame.empty:
            raise InsufficientDataError(f"ABTest {self.name!r}: nothing recorded yet")
        arms_per_unit = frame.groupby("unit_id", sort=False)["arm"].nunique()
        if (arms_per_unit > 1).any():
            raise ConfigError(f"ABTest {self.name!r}: {int((arms_per_unit > 1).sum())} units were "
                              f"recorded in both arms; a unit belongs to one arm")
        units = frame.groupby("unit_id", sort=False).agg(arm=("arm", "first"), value=("value", "mean"),
                                                         records=("value", "size"))
        if (units["records"] > 1).any():
            warnings.append(f"{int((units['records'] > 1).sum())} units have several records: "
                            f"each unit is analysed by its mean outcome")
        a, b = self.arms
        xa = units.loc[units["arm"] == a, "value"].to_numpy()
        xb = units.loc[units["arm"] == b, "value"].to_numpy()
        if len(xa) < 2 or len(xb) < 2:
            raise InsufficientDataError(f"ABTest {self.name!r}: need 2+ units per arm, have "
                                        f"{a}: {len(xa)}, {b}: {len(xb)}")
        binary = bool(np.isin(units["value"], (0.0, 1.0)).all())
        ma, mb = float(xa.mean()), float(xb.mean())
        alt: dict[str, float] = {}
        if binary:
            ka, kb, na, nb = int(xa.sum()), int(xb.sum()), len(xa), len(xb)
            pooled = (ka + kb) / (na + nb)
            se0 = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
            p = 1.0 if se0 == 0 else float(2 * special.ndtr(-abs(mb - ma) / se0))
            ci = newcombe_unpaired_ci(kb, nb, ka, na, self.alpha)
            test, ci_method = "two-proportion z (pooled)", "Newcombe (1998) hybrid score"
        elif np.ptp(xa) == 0 and np.ptp(xb) == 0:
            same = ma == mb
            p, ci = (1.0 if same else 0.0), (mb - ma, mb - ma)
            test, ci_method = "none (no variation within either arm)", "exact (no variation)"
            warnings.append("every unit in each arm has the same outcome: nothing to test against")
        else:
            tt = stats.ttest_ind(xb, xa, equal_var=False)
            c = tt.confidence_interval(1 - self.alpha)
            p, ci = float(tt.pvalue), (float(c.low), float(c.high))
            test, ci_method = f"Welch t (df = {float(tt.df):.1f})", "Welch t"
            alt["Mann-Whitney U"] = float(stats.mannwhitneyu(xb, xa).pvalue)
        # Always-valid p over the arrival order of units.
        is_a = (units["arm"] == a).to_numpy()
        v = units["value"].to_numpy()
        va, vb = np.where(is_a, v, 0.0), np.where(is_a, 0.0, v)
        seq = sequential_pvalues(np.cumsum(is_a), np.cumsum(va), np.cumsum(va**2),
                                 np.cumsum(~is_a), np.cumsum(vb), np.cumsum(vb**2),
                                 tau=self.tau, binary=binary, min_n=self.min_n)
        av = float(seq[-1])
        if min(len(xa), len(xb)) < self.min_n:
            warnings.append(f"fewer than min_n = {self.min_n} units in an arm: the always-valid "
                            f"p-value is not issued yet (reported as 1)")
        srm = srm_check([len(xa), len(xb)], self.weights, self.srm_threshold)
        est = mb - ma
        if srm.flagged:
            decision = "sample ratio mismatch"
            warnings.append(f"sample ratio mismatch (p = {srm.p_value:.2g}): assignment or logging "
                            f"is broken; do not trust this test's results")
        elif av < self.alpha and est != 0:
            decision = "B better" if (est > 0) == self.higher_is_better else "A better"
        else:
            decision = "no difference detected"
        return LiveResult(
            name=self.name, a=a, b=b, n_a=len(xa), n_b=len(xb), value_a=ma, value_b=mb,
            estimate=est, relative_change=est / abs(ma) if ma != 0 else math.nan, ci=ci,
            ci_method=ci_method, p_value=p, test=test, alt_tests=alt, always_valid_p=av,
            tau=self.tau, srm=srm, alpha=self.alpha, decision=decision, warnings=tuple(warnings),
        )
