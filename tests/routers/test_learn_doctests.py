"""The examples in the docstrings of the learned-routing modules run and give what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["routerlab.embeddings", "routerlab.stats.curves", "routerlab.routers.defaults", "routerlab.routers.task"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
