from ._common import Difference as Difference
from ._common import InsufficientDataError as InsufficientDataError
from .bootstrap import (
    BootstrapResult as BootstrapResult,
)
from .bootstrap import (
    bca_interval as bca_interval,
)
from .bootstrap import (
    paired_bootstrap as paired_bootstrap,
)
from .bootstrap import (
    percentile_interval as percentile_interval,
)
from .intervals import (
    cluster_robust_se as cluster_robust_se,
)
from .intervals import (
    mcnemar_exact as mcnemar_exact,
)
from .intervals import (
    mean_interval as mean_interval,
)
from .intervals import (
    newcombe_paired_ci as newcombe_paired_ci,
)
from .intervals import (
    newcombe_unpaired_ci as newcombe_unpaired_ci,
)
from .intervals import (
    t_interval as t_interval,
)
from .intervals import (
    t_quantile as t_quantile,
)
from .intervals import (
    wilson_interval as wilson_interval,
)
from .live import (
    ABTest as ABTest,
)
from .live import (
    LiveResult as LiveResult,
)
from .live import (
    SRMResult as SRMResult,
)
from .live import (
    always_valid_pvalues as always_valid_pvalues,
)
from .live import (
    msprt_pvalue as msprt_pvalue,
)
from .live import (
    sequential_pvalues as sequential_pvalues,
)
from .live import (
    srm_check as srm_check,
)
from .multiple import (
    adjust_pvalues as adjust_pvalues,
)
from .multiple import (
    benjamini_hochberg as benjamini_hochberg,
)
from .multiple import (
    bradley_terry as bradley_terry,
)
from .multiple import (
    compare_many as compare_many,
)
from .multiple import (
    holm as holm,
)
from .paired import ABResult as ABResult
from .paired import compare as compare
from .pareto import pareto_front as pareto_front
from .pareto import pareto_mask as pareto_mask
from .planning import PowerPlan as PowerPlan
from .planning import plan as plan
from .power import mde_paired as mde_paired
from .power import n_paired as n_paired
from .power import power_paired as power_paired
from .signed_rank import wilcoxon_signed_rank as wilcoxon_signed_rank
