from . import schema as schema
from .curves import Curves as Curves, sweep_curves as sweep_curves
from .experiment import Experiment as Experiment
from .experiment import fingerprint as fingerprint
from .replay import replay_curve as replay_curve, replay_rows as replay_rows
from .local import local_gateway as local_gateway
from .recommend import Recommendation as Recommendation
from .recommend import recommend as recommend
from .results import Results as Results
from .results import is_oracle_name as is_oracle_name
from .schema import RESULT_COLUMNS as RESULT_COLUMNS
from .store import MemoryStore as MemoryStore
from .store import ResultStore as ResultStore
from .units import caller_fingerprint as caller_fingerprint
from .units import retryable_failure as retryable_failure
