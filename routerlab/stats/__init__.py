"""Statistics for comparing routing strategies: paired and live A/B tests a statistician would sign.

- :func:`compare` — paired comparison of two strategies replayed on the same prompts
  (McNemar, paired t + Wilcoxon, sign-flip permutation, quantile bootstrap; clustered SEs;
  power, MDE, prompts required; warnings; a decision) → :class:`ABResult`.
- :func:`compare_many` — all pairs or vs a baseline with Holm / Benjamini-Hochberg adjustment;
  :func:`bradley_terry` — strengths from pairwise judge preferences with bootstrap CIs.
- :func:`plan` — prompts needed from a pilot's paired variance (Miller 2024); :func:`n_paired`,
  :func:`power_paired`, :func:`mde_paired`.
- :class:`ABTest` — live traffic: hashed assignment, unpaired tests, SRM check, always-valid
  mSPRT p-values.
- Building blocks: :func:`wilson_interval`, :func:`newcombe_paired_ci`,
  :func:`newcombe_unpaired_ci`, :func:`mcnemar_exact`, :func:`cluster_robust_se`,
  :func:`paired_bootstrap`, :func:`holm`, :func:`benjamini_hochberg`, :func:`srm_check`,
  :func:`msprt_pvalue`, :func:`always_valid_pvalues`.

Example::

    >>> from routerlab.stats import compare
    >>> # result = compare(results, "gpt-4o-mini", "cascade", metric="quality", cluster="task")
    >>> # result.decision, result.ci, result.p_value
"""

from __future__ import annotations

from ._common import InsufficientDataError
from .bootstrap import BootstrapResult, bca_interval, paired_bootstrap, percentile_interval
from .intervals import (
    cluster_robust_se,
    mcnemar_exact,
    newcombe_paired_ci,
    newcombe_unpaired_ci,
    wilson_interval,
)
from .live import (
    ABTest,
    LiveResult,
    SRMResult,
    always_valid_pvalues,
    msprt_pvalue,
    sequential_pvalues,
    srm_check,
)
from .multiple import adjust_pvalues, benjamini_hochberg, bradley_terry, compare_many, holm
from .paired import ABResult, compare
from .planning import PowerPlan, plan
from .power import mde_paired, n_paired, power_paired

__all__ = [
    "ABResult",
    "ABTest",
    "BootstrapResult",
    "InsufficientDataError",
    "LiveResult",
    "PowerPlan",
    "SRMResult",
    "adjust_pvalues",
    "always_valid_pvalues",
    "bca_interval",
    "benjamini_hochberg",
    "bradley_terry",
    "cluster_robust_se",
    "compare",
    "compare_many",
    "holm",
    "mcnemar_exact",
    "mde_paired",
    "msprt_pvalue",
    "n_paired",
    "newcombe_paired_ci",
    "newcombe_unpaired_ci",
    "paired_bootstrap",
    "percentile_interval",
    "plan",
    "power_paired",
    "sequential_pvalues",
    "srm_check",
    "wilson_interval",
]
