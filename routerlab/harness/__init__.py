"""The experiment harness: replay or run a data set across strategies, resumably, into Results.

::

    experiment   Experiment: units (config, strategy, prompt, sample) → one row each
    schema       the one definition of a result row: columns, dtypes, fill values, (de)serialisation
    results      Results: the long-form table and everything derived from it
    store        ResultStore (SQLite, one transaction per unit), MemoryStore
    local        local_gateway: a Gateway over routerlab's own local provider server

Example::

    >>> from routerlab.harness import Experiment
    >>> from routerlab import datasets
    >>> res = Experiment(datasets.load("zeroeval"), models=["gpt-4o-mini"]).run(progress=False)  # doctest: +SKIP
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
