from .curves import Curves as Curves, sweep_curves as sweep_curves
from .experiment import Experiment as Experiment, fingerprint as fingerprint, replay_rows as replay_rows
from .local import local_gateway as local_gateway
from .results import RESULT_COLUMNS as RESULT_COLUMNS, Results as Results
from .store import MemoryStore as MemoryStore, ResultStore as ResultStore
