"""The Wilcoxon signed-rank test against R's wilcox.test (R 4.2.2, values printed with %.15g).

The inputs are formulas both languages evaluate; R read the same doubles from text files:

    for (k in cases) { d <- scan(paste0(k, ".txt"))
      for (alt in c("two.sided", "greater", "less")) cat(k, alt, sprintf("%.15g", wilcox.test(d, alternative = alt)$p.value)) }
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from routerlab.stats import compare
from routerlab.stats.signed_rank import wilcoxon_signed_rank

i = np.arange
CASES = {
    # no ties, n >= 50: the normal approximation *with* R's continuity correction (scipy omits it)
    "n200": np.sin(i(1, 201) * 1.7) + 0.12,
    "n50": np.sin(i(1, 51) * 0.9) + 0.2,  # n = 50: R is already approximate (exact only for n < 50)
    # no ties, n < 50: exact
    "n49": np.sin(i(1, 50) * 0.9) + 0.2,
    "n30": np.cos(i(1, 31) * 2.3) + 0.3,
    "n12": np.cos(i(1, 13) * 0.7) + 0.5,
    # ties and zeros: normal with tie-corrected variance and continuity correction
    "ties40": np.round(np.sin(i(1, 41) * 1.3) * 3 + 0.4),
    "doc_ties": np.array([1, 2, 2, -1, 3, 0, 4], dtype=float),
}
R = {
    ("n200", "two-sided"): 0.00647293192797824, ("n200", "greater"): 0.00323646596398912,
    ("n200", "less"): 0.996775466940318,
    ("n50", "two-sided"): 0.035342283783223, ("n50", "greater"): 0.0176711418916115,
    ("n50", "less"): 0.982745271348178,
    ("n49", "two-sided"): 0.0543562164886531, ("n49", "greater"): 0.0271781082443265,
    ("n49", "less"): 0.973455253358502,
    ("n30", "two-sided"): 0.0426517054438591, ("n30", "greater"): 0.0213258527219296,
    ("n30", "less"): 0.979755138978362,
    ("n12", "two-sided"): 0.04248046875, ("n12", "greater"): 0.021240234375, ("n12", "less"): 0.98291015625,
    ("ties40", "two-sided"): 0.15409531252103, ("ties40", "greater"): 0.0770476562605151,
    ("ties40", "less"): 0.925142519925702,
    ("doc_ties", "two-sided"): 0.0731397996589089, ("doc_ties", "greater"): 0.0365698998294545,
    ("doc_ties", "less"): 0.977399323511739,
}


@pytest.mark.parametrize("case, alternative", sorted(R))
def test_matches_r_wilcox_test(case, alternative):
    assert wilcoxon_signed_rank(CASES[case], alternative) == pytest.approx(R[case, alternative], rel=1e-10)


def test_where_scipy_default_differs_from_r():
    """The two places the old code (scipy's defaults) was off: continuity correction above 50 pairs,
    and n = 50 exactly, where R is approximate and scipy exact."""
    for case in ("n200", "n50"):
        scipy_p = stats.wilcoxon(CASES[case]).pvalue
        assert abs(scipy_p / R[case, "two-sided"] - 1) > 1e-3
        assert wilcoxon_signed_rank(CASES[case]) == pytest.approx(R[case, "two-sided"], rel=1e-10)


def test_all_zero_differences_and_bad_input():
    assert wilcoxon_signed_rank([0.0, 0.0, 0.0]) == 1.0
    with pytest.raises(ValueError, match="finite"):
        wilcoxon_signed_rank([1.0, float("nan")])
    with pytest.raises(ValueError, match="alternative"):
        wilcoxon_signed_rank([1.0, 2.0], "both")


def test_compare_reports_r_value():
    """compare() on graded scores runs the test on B − A and reports R's p-value."""
    d = CASES["n200"]
    a = 0.5 + 0.2 * np.cos(i(200) * 0.37)
    df = pd.DataFrame({"strategy": ["a"] * 200 + ["b"] * 200, "prompt_id": [f"p{k}" for k in range(200)] * 2,
                       "score": np.r_[a, a + d * 0.2]})
    r = compare(df, "a", "b", "quality", n_boot=200)
    # B − A = 0.2 d: the same ranks, the same signs, so R's p-value for d
    assert r.alt_tests["Wilcoxon signed-rank"] == pytest.approx(R["n200", "two-sided"], rel=1e-9)


def test_docstring_examples_run():
    import doctest

    import routerlab.stats.signed_rank as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 2 and result.failed == 0
