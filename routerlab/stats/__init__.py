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
- :func:`pareto_mask` — the one cost-quality Pareto frontier (realisable points only; an oracle is a
  bound, never on it), :func:`pareto_front` the same as positions, cheapest first; routing metrics
  (APGR, CPT, AIQ) in :mod:`routerlab.stats.routing`.
- Building blocks: :func:`wilson_interval`, :func:`t_interval`, :func:`t_quantile`, :func:`mean_interval`,
  :func:`newcombe_paired_ci`,
  :func:`newcombe_unpaired_ci`, :func:`mcnemar_exact`, :func:`cluster_robust_se`,
  :func:`paired_bootstrap`, :func:`holm`, :func:`benjamini_hochberg`, :func:`srm_check`,
  :func:`msprt_pvalue`, :func:`always_valid_pvalues`, :func:`wilcoxon_signed_rank` (R's ``wilcox.test``
  p-value, exact or normal with R's tie and continuity corrections).

Names load on first use (declared in ``__init__.pyi``), so ``Results.summary()`` can use an interval
without importing scipy.stats.

Example::

    >>> from routerlab.stats import compare
    >>> # result = compare(results, "gpt-4o-mini", "cascade", metric="quality", cluster="task")
    >>> # result.decision, result.ci, result.p_value
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
