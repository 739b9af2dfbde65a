"""The examples in the live path's docstrings run as written (errors, configs, breakers, providers' helpers)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["routerlab.errors", "routerlab._validation", "routerlab.live.breaker", "routerlab.live.balancer",
           "routerlab.live.quota", "routerlab.live.config", "routerlab.live.caching", "routerlab.providers.classify",
           "routerlab.providers.compat", "routerlab.providers.base", "routerlab.providers.secret",
           "routerlab.server.app"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, name
