"""Views of results are plug-ins: the harness names them, the face (:mod:`routerlab.viz`) provides them.

``Results.plot``, ``Results.dashboard`` and ``Experiment.run(dashboard=True)`` need matplotlib and
ipywidgets, which live in :mod:`routerlab.viz`, a layer above the harness. The harness never imports
it: it asks this registry for a view by name. :mod:`routerlab.viz` registers its views when it is
imported, and declares itself under the entry-point group ``routerlab.views`` (``pyproject.toml``), so
the first ``res.plot()`` loads it. Another package can register views of its own the same way
(pandas' plotting backends work like this).

Example::

    >>> from routerlab.harness import views
    >>> views.register("hello", lambda results, **kw: "hi")
    >>> views.get("hello")(None)
    'hi'
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import metadata
from typing import Any

from ..errors import ConfigError

__all__ = ["GROUP", "register", "get", "names"]

#: The entry-point group that view providers declare themselves under.
GROUP = "routerlab.views"

_views: dict[str, Callable[..., Any]] = {}
_loaded = False
_lock = threading.Lock()


def register(name: str, view: Callable[..., Any]) -> None:
    """Provide the view ``name`` (a later registration replaces an earlier one)."""
    _views[name] = view


def _load_providers() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True
        for entry in metadata.entry_points(group=GROUP):
            entry.load()  # importing a provider registers its views


def get(name: str) -> Callable[..., Any]:
    """The view ``name``; raises :class:`~routerlab.errors.ConfigError` saying what to install when no
    provider offers it."""
    if name not in _views:
        _load_providers()
    try:
        return _views[name]
    except KeyError:
        raise ConfigError(
            f"no provider offers the view {name!r}: it comes with routerlab.viz (matplotlib, ipywidgets). "
            "Install routerlab with pip (entry point 'routerlab.views'), or `import routerlab.viz` first."
        ) from None


def names() -> list[str]:
    """The views available now (after loading the declared providers)."""
    _load_providers()
    return sorted(_views)
