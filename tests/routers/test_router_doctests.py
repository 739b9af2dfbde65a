"""The examples in routerlab.routers docstrings run and give what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["params", "base", "baselines", "capability", "cascade", "checks", "context", "document", "ensemble", "judge",
           "schema", "table", "task"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"routerlab.routers.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} example(s) failed in {module.__name__}"


def test_the_types_examples_run() -> None:
    module = importlib.import_module("routerlab.types")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("method", ["routerlab.types:Caller.complete", "routerlab.types:Strategy.answer",
                                    "routerlab.routers.base:Router.route", "routerlab.routers.base:BaseRouter.route_many"])
def test_extension_points_say_what_goes_in_and_out(method: str) -> None:
    module, qualname = method.split(":")
    owner, name = qualname.split(".")
    doc = getattr(getattr(importlib.import_module(module), owner), name).__doc__ or ""
    assert "Returns" in doc and "Raises" in doc, f"{method} must say what it returns and raises"
    assert any(unit in doc for unit in ("USD", "seconds", "numpy")), f"{method} must give shapes or units"
