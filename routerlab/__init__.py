"""routerlab: which LLM should answer which prompt, how sure you can be, and how to ship it.

The names a notebook needs are importable from here; everything else from its subpackage
(``routerlab.live``, ``routerlab.harness``, ``routerlab.stats``, ...). Names load on first use, so
``import routerlab`` is fast and the production runtime (``routerlab.runtime``) pulls in neither
pandas nor Jupyter. The public names are declared once, in ``__init__.pyi``, which type checkers read.

Example::

    >>> import routerlab as rl
    >>> ds = rl.datasets.load("zeroeval")
    >>> res = rl.Experiment(ds, models=["gpt-4o", "gpt-4o-mini"]).run()   # doctest: +SKIP
    >>> res.summary()                                                      # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import lazy_loader as _lazy

from ._version import __version__

__getattr__, __dir__, _names = _lazy.attach_stub(__name__, __file__)
__all__ = [*_names, "__version__", "load_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext routerlab`` registers the ``%route`` / ``%%route`` magics."""
    from .magic import load_ipython_extension as _load

    _load(ipython)
