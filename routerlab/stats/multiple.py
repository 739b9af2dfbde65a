"""Many strategies at once: adjusted p-values, :func:`compare_many`, :func:`bradley_terry`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from routerlab.errors import ConfigError

from ._common import (
    InsufficientDataError,
    SeedLike,
    as_frame,
    check_alpha,
    check_strategy,
    require_columns,
    seed_sequence,
    strategies_of,
)

__all__ = ["holm", "benjamini_hochberg", "adjust_pvalues", "compare_many", "bradley_terry"]


def _as_p(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ConfigError(f"p-values must be a 1-D sequence, got shape {p.shape}")
    bad = ~np.isnan(p) & ((p < 0) | (p > 1))
    if bad.any():
        raise ConfigError(f"p-values must lie in [0, 1]; got {p[bad].tolist()}")
    return p


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values: controls the family-wise error rate.

    Use it for confirmatory claims ("B beats A and C beats A"). NaNs stay NaN and are not counted.

    Example::

        >>> holm([0.01, 0.04, 0.03, 0.005]).round(4).tolist()
        [0.03, 0.06, 0.06, 0.02]
    """
    p = _as_p(pvalues)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="mergesort")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def benjamini_hochberg(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``).

    Controls the false discovery rate: for exploratory screens of many strategies. NaNs stay NaN.

    Example::

        >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.005]).round(4).tolist()
        [0.02, 0.04, 0.04, 0.02]
    """
    p = _as_p(pvalues)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out


def adjust_pvalues(pvalues: Sequence[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjust p-values for multiple comparisons: ``"holm"`` (FWER) or ``"bh"`` (FDR).

    Example::

        >>> adjust_pvalues([0.01, 0.02], "bh").tolist()
        [0.02, 0.02]
    """
    if method == "holm":
        return holm(pvalues)
    if method in ("bh", "fdr_bh", "benjamini-hochberg"):
        return benjamini_hochberg(pvalues)
    raise ConfigError(f"adjust={method!r}: choose 'holm' (confirmatory, family-wise error) or "
                      f"'bh' (exploratory, false discovery rate)")


def compare_many(results: Any, strategies: Sequence[str] | None = None, *,
                 baseline: str | None = None, metric: str = "quality", adjust: str = "holm",
                 alpha: float = 0.05, **compare_kwargs: Any) -> pd.DataFrame:
    """All-pairs (or each-vs-``baseline``) paired comparisons with adjusted p-values.

    Returns one row per comparison: ``a``, ``b``, ``n``, ``estimate`` (B − A), ``ci_low``,
    ``ci_high`` (per-comparison, not adjusted), ``p_value`` (raw), ``p_adjusted``, ``test``,
    ``significant`` (adjusted p < alpha) and ``decision`` from the adjusted p. The
    :class:`ABResult` objects are in ``df.attrs["results"]``. Extra keywords go to :func:`compare`.

    Example::

        >>> import pandas as pd
        >>> rows = [{"strategy": s, "prompt_id": str(i), "score": float((i * k) % 3 == 0)}
        ...         for k, s in enumerate(["a", "b", "c"], 1) for i in range(60)]
        >>> table = compare_many(pd.DataFrame(rows), baseline="a")
        >>> table[["a", "b"]].values.tolist()
        [['a', 'b'], ['a', 'c']]
    """
    from .paired import compare

    check_alpha(alpha)
    adjust_pvalues([], adjust)  # validate the method name early
    df = as_frame(results)
    require_columns(df, ("strategy",), "compare_many")
    available = strategies_of(df)
    names = list(available) if strategies is None else list(strategies)
    for s in names:
        check_strategy(s, available, "strategies")
    if len(set(names)) != len(names):
        raise ConfigError(f"strategies={names}: each strategy once")
    if baseline is not None:
        check_strategy(baseline, available, "baseline")
        pairs = [(baseline, s) for s in names if s != baseline]
    else:
        pairs = list(itertools.combinations(names, 2))
    if not pairs:
        raise ConfigError(f"compare_many needs at least two strategies; got {names}")
    results_list = [compare(df, a, b, metric, alpha=alpha, **compare_kwargs) for a, b in pairs]
    raw = np.array([r.p_value for r in results_list])
    adj = adjust_pvalues(raw, adjust)
    rows = []
    for r, pa in zip(results_list, adj):
        sig = bool(pa < alpha)
        if sig and r.estimate != 0:
            decision = "B better" if (r.estimate > 0) == r.higher_is_better else "A better"
        else:
            decision = "underpowered" if r.power < r.target_power else "no difference detected"
        rows.append({
            "a": r.a, "b": r.b, "metric": r.metric, "n": r.n, "estimate": r.estimate,
            "relative_change": r.relative_change, "ci_low": r.ci[0], "ci_high": r.ci[1],
            "p_value": r.p_value, "p_adjusted": float(pa), "adjust": adjust, "test": r.test,
            "significant": sig, "decision": decision, "warnings": len(r.warnings),
        })
    table = pd.DataFrame(rows)
    table.attrs["results"] = results_list
    table.attrs["alpha"] = alpha
    return table


# ----------------------------------------------------------------------------- Bradley-Terry

def _bt_mm(wins: np.ndarray, games: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """Minorise-maximise iterations (Hunter 2004) for Bradley-Terry strengths, batched on axis 0.

    ``wins`` (B, K) counts ties as half a win; ``games`` (B, K, K) is symmetric. Rows stop
    iterating as soon as they converge. A strategy with no win gets strength 0 (log: -inf).
    """
    p = np.ones(wins.shape)
    active = np.arange(wins.shape[0])
    k = wins.shape[1]
    for _ in range(max_iter):
        if active.size == 0:
            break
        pa, ga, wa = p[active], games[active], wins[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            # 0/0 only where no games were played (the diagonal, or a strength of 0): count as 0.
            denom = np.nansum(ga / (pa[:, :, None] + pa[:, None, :]), axis=2)
            new = np.where(denom > 0, wa / denom, 0.0)
        new *= k / new.sum(axis=1, keepdims=True)
        change = np.max(np.abs(new - pa), axis=1)
        p[active] = new
        active = active[change >= tol]
    return p


def _bt_fit(wins: np.ndarray, games: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """Log-strengths centred to mean 0 (over finite values); rows of a batch are independent.

    A strategy that never lost has an infinite MLE: such rows are fitted on the reversed outcomes
    (a never-lost strategy becomes a never-won one) and negated. Unplayed strategies are NaN.
    """
    played = games.sum(axis=2) > 0
    losses = games.sum(axis=2) - wins
    never_lost = (played & (losses <= 0)).any(axis=1)
    never_won = (played & (wins <= 0)).any(axis=1)
    out = np.full(wins.shape, np.nan)
    with np.errstate(divide="ignore"):
        fwd = ~never_lost
        if fwd.any():
            out[fwd] = np.log(_bt_mm(wins[fwd], games[fwd], max_iter, tol))
        rev = never_lost & ~never_won
        if rev.any():
            out[rev] = -np.log(_bt_mm(losses[rev], games[rev], max_iter, tol))
    out[~played] = np.nan
    finite = np.isfinite(out)
    centre = np.where(finite, out, 0.0).sum(axis=1) / np.maximum(finite.sum(axis=1), 1)
    return out - centre[:, None]


def bradley_terry(pairs: pd.DataFrame, *, n_boot: int = 1000, alpha: float = 0.05,
                  seed: SeedLike = 0, a: str = "a", b: str = "b", winner: str = "winner",
                  max_iter: int = 10_000, tol: float = 1e-10) -> pd.DataFrame:
    """Bradley-Terry strengths from pairwise judge preferences, with bootstrap CIs.

    ``pairs`` has one row per judged comparison: columns ``a`` and ``b`` name the two strategies,
    ``winner`` is the winning strategy's name (or ``"a"``/``"b"``), or ``"tie"``/empty for a tie
    (a tie counts as half a win each). Strengths are on the log scale, centred to mean 0:
    ``P(i beats j) = 1 / (1 + exp(s_j - s_i))``. CIs are percentile intervals over ``n_boot``
    resamples of the comparisons (drawn as one multinomial per resample; fits are batched).

    Returns a DataFrame indexed by strategy, best first, with ``strength``, ``ci_low``, ``ci_high``,
    ``wins``, ``losses``, ``ties``, ``comparisons`` and ``rank``; ``attrs["win_probability"]`` holds
    the fitted P(row beats column).

    Example::

        >>> import pandas as pd
        >>> games = pd.DataFrame({"a": ["x"] * 4, "b": ["y"] * 4, "winner": ["x", "x", "x", "y"]})
        >>> round(float(bradley_terry(games, n_boot=200).loc["x", "strength"]), 4)  # ln(3) / 2
        0.5493
    """
    check_alpha(alpha)
    if not isinstance(pairs, pd.DataFrame):
        raise ConfigError(f"bradley_terry expects a DataFrame of comparisons, got {type(pairs).__name__}")
    require_columns(pairs, (a, b, winner), "bradley_terry")
    if n_boot < 0:
        raise ConfigError(f"n_boot={n_boot}: must be >= 0")
    if len(pairs) == 0:
        raise InsufficientDataError("bradley_terry: no comparisons")
    left = pairs[a].astype(str).to_numpy()
    right = pairs[b].astype(str).to_numpy()
    if (left == right).any():
        raise ConfigError(f"bradley_terry: {int((left == right).sum())} rows compare a strategy "
                          f"with itself")
    names = sorted(set(left) | set(right))
    index = {s: i for i, s in enumerate(names)}
    k = len(names)
    if k < 2:
        raise InsufficientDataError("bradley_terry needs at least two strategies")
    li = np.array([index[s] for s in left])
    ri = np.array([index[s] for s in right])
    w = pairs[winner]
    wstr = w.astype("string").fillna("").str.strip().to_numpy(dtype=object)
    outcome = np.full(len(pairs), -1)  # 0: a wins, 1: b wins, 2: tie
    # The literal "a"/"b" name the side, unless a strategy is itself called "a" or "b".
    outcome[(wstr == left) | ((wstr == "a") & ("a" not in index))] = 0
    outcome[(wstr == right) | ((wstr == "b") & ("b" not in index))] = 1
    tie = np.isin(np.char.lower(wstr.astype(str)), ["tie", "draw", ""])
    outcome[(outcome == -1) & tie] = 2
    if (outcome == -1).any():
        bad = sorted(set(wstr[outcome == -1].tolist()))[:5]
        raise ConfigError(f"bradley_terry: winner values {bad} are neither the row's {a!r} or "
                          f"{b!r} strategy nor 'tie'")
    # Each comparison is one of k*k*3 cells; resampling rows = a multinomial over the cells.
    cell = (li * k + ri) * 3 + outcome
    counts = np.bincount(cell, minlength=k * k * 3).astype(float)

    def tables(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = c.reshape(-1, k, k, 3)
        games = c.sum(axis=3)
        games = games + np.transpose(games, (0, 2, 1))
        ties = c[..., 2].sum(axis=2) + c[..., 2].sum(axis=1)
        wins = c[..., 0].sum(axis=2) + c[..., 1].sum(axis=1) + 0.5 * ties
        return wins, games

    wins, games = tables(counts[None, :])
    losses_tot = games[0].sum(axis=1) - wins[0]
    if (wins[0] == 0).any() or (losses_tot == 0).any():
        never = [names[i] for i in range(k) if wins[0, i] == 0 or losses_tot[i] == 0]
        raise InsufficientDataError(
            f"bradley_terry: {never} never won or never lost, so their strength is infinite; "
            f"collect more comparisons (or count ties) before fitting"
        )
    if not _connected(games[0]):
        raise InsufficientDataError("bradley_terry: the comparison graph is not connected; "
                                    "strengths of separate groups cannot be put on one scale")
    strength = _bt_fit(wins, games, max_iter, tol)[0]
    lo = np.full(k, np.nan)
    hi = np.full(k, np.nan)
    if n_boot:
        rng = np.random.default_rng(seed_sequence(seed))
        n = len(pairs)
        probs = counts / counts.sum()
        boot = np.empty((n_boot, k))
        step = max(1, 200_000 // (k * k))
        for s in range(0, n_boot, step):
            draws = rng.multinomial(n, probs, size=min(step, n_boot - s)).astype(float)
            bw, bg = tables(draws)
            boot[s:s + draws.shape[0]] = _bt_fit(bw, bg, max_iter, tol)
        # A resample where a strategy never won (lost) gives it -inf (+inf); inverted-CDF quantiles
        # need no arithmetic on those. Unplayed strategies (NaN) are left out.
        lo, hi = np.nanquantile(boot, [alpha / 2, 1 - alpha / 2], axis=0, method="inverted_cdf")
    c = counts.reshape(k, k, 3)
    table = pd.DataFrame({
        "strength": strength, "ci_low": lo, "ci_high": hi,
        "wins": c[..., 0].sum(axis=1) + c[..., 1].sum(axis=0),
        "losses": c[..., 1].sum(axis=1) + c[..., 0].sum(axis=0),
        "ties": c[..., 2].sum(axis=1) + c[..., 2].sum(axis=0),
        "comparisons": games[0].sum(axis=1),
    }, index=pd.Index(names, name="strategy"))
    for col in ("wins", "losses", "ties", "comparisons"):
        table[col] = table[col].astype(int)
    table = table.sort_values("strength", ascending=False, kind="mergesort")
    table["rank"] = np.arange(1, k + 1)
    fitted = table["strength"].to_numpy()
    table.attrs["win_probability"] = pd.DataFrame(
        1 / (1 + np.exp(fitted[None, :] - fitted[:, None])), index=table.index, columns=table.index)
    table.attrs["n_boot"] = n_boot
    return table


def _connected(games: np.ndarray) -> bool:
    k = games.shape[0]
    seen = {0}
    frontier = [0]
    while frontier:
        i = frontier.pop()
        for j in np.flatnonzero(games[i] > 0):
            if int(j) not in seen:
                seen.add(int(j))
                frontier.append(int(j))
    return len(seen) == k and not math.isnan(games.sum())
