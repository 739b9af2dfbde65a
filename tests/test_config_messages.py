"""routerlab._validation: the one formatter of pydantic errors (issue 11), for every configuration routerlab
reads — the gateway config, the fault spec, the catalog file, routing tables — in one vocabulary, naming
source and field path, never quoting a value that may be a secret."""

from __future__ import annotations

import re
import traceback
from typing import Annotated, Literal

import pytest
from pydantic import Field

from routerlab import runtime
from routerlab._validation import Validated, config_error, validate
from routerlab.catalog import Catalog
from routerlab.errors import ConfigError
from routerlab.routers import RoutingTable
from routerlab.server.app import Faults

from helpers import catalog_entry as _entry

CANARY = "sk-proj-CANARY-7f3a9c1e5b2d4f60a8c7e9b1d3f5a7c9"


def _message(make) -> str:
    with pytest.raises(ConfigError) as err:
        make()
    return str(err.value)


# --- one vocabulary ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, catalog, table, faults, expected", [
    ("at least 0", ("price.input", -1), ("retry", {"num_retries": -1}), ("delay", -1), "must be at least 0, got -1"),
    ("positive", ("context", 0), ("retry", {"timeout": 0}), ("error_status", 0), None),
    ("a number", ("price.output", "free"), ("retry", {"timeout": "free"}), ("delay", "free"),
     "must be a number, got 'free'"),
    ("not empty", ("provider", ""), ("models", {}), ("context_marker", ""), "must not be empty"),
])
def test_the_catalog_a_routing_table_and_the_fault_spec_say_one_thing_in_one_way(kind, catalog, table, faults,
                                                                                 expected):
    cat = _message(lambda: Catalog.from_dict({"models": {"m": _entry(**{catalog[0]: catalog[1]})}}, "c.yaml"))
    tab = _message(lambda: RoutingTable.from_dict({"default": "m", "models": {"m": {"provider": "openai",
                                                                                      "api_name": "m"}},
                                                   table[0]: table[1]}, source="t.json"))
    flt = _message(lambda: Faults.from_dict({faults[0]: faults[1]}))
    assert cat.startswith(f"c.yaml: models.m.{catalog[0]}: ")
    assert re.match(rf"routing table t\.json: {table[0]}(\.\w+)?: ", tab)
    assert flt.startswith(f"faults.{faults[0]}: ")
    words = {m.split(": ", 2)[-1] if not m.startswith("routing") else m.split(": ", 3)[-1] for m in (cat, tab, flt)}
    if expected is not None:
        assert words == {expected}, (cat, tab, flt)
    else:  # the bounds differ (0 < x, 100 <= status): the same phrase around them
        assert all(w.startswith(("must be a positive number, got 0", "must be at least 100, got 0")) for w in words)


def test_an_unknown_field_is_named_at_the_object_holding_it_with_the_known_ones():
    assert _message(lambda: Catalog.from_dict({"models": {"m": _entry(pricing=1)}}, "c.yaml")).startswith(
        "c.yaml: models.m: unknown field(s) ['pricing']; known fields: ['aliases', 'api_name', 'capabilities'")
    assert _message(lambda: Catalog.from_dict({"models": {"m": _entry(**{"price.usd": 1})}}, "c.yaml")).startswith(
        "c.yaml: models.m.price: unknown field(s) ['usd']; known fields: ['as_of', 'cache_write',")
    faults = _message(lambda: Faults.from_dict({"stauts": 500}))
    assert faults.startswith("faults: unknown field(s) ['stauts']; known fields: ['auth_fail', ")
    assert "'status'" in faults and "'windows'" in faults


def test_a_union_is_described_at_its_own_path_not_at_a_member_tag():
    """pydantic puts the union member it tried into the error's location ('hang.bool',
    'hang.constrained-float'): that is no place in the file. One line says what the field accepts."""
    assert _message(lambda: Faults.from_dict({"hang": "x"})) == \
        "faults.hang: must be true or false or a number, got 'x'"
    assert _message(lambda: Faults.from_dict({"malformed": 3})) == \
        "faults.malformed: must be true or false or one of 'text' or 'json', got 3"
    assert _message(lambda: Faults.from_dict({"windows": [{"start": 0, "end": 1, "hang": -1}]})) == \
        "faults.windows[0].overrides: hang: must be true or false or at least 0, got -1"
    table = {"default": "m", "provenance": {"metrics": {"q": [1, 2]}}}
    assert _message(lambda: RoutingTable.from_dict(table)) == (
        "routing table <dict>: provenance.metrics.q: must be true or false or a number or a string, got [1, 2]")


def test_every_problem_once_long_values_cut_and_a_bound_on_the_lines():
    class Many(Validated):
        a: Annotated[int, Field(gt=0)] = 1
        b: str = ""

    lines = _message(lambda: validate(Many, {"a": -1, "b": 5, "c": 1}, source="m.yaml")).splitlines()
    assert lines == ["m.yaml: unknown field(s) ['c']; known fields: ['a', 'b']",
                     "m.yaml: a: must be a positive number, got -1", "m.yaml: b: must be a string, got 5"]
    long = _message(lambda: validate(Many, {"a": "y" * 500}, source="m.yaml"))
    assert long == "m.yaml: a: must be a whole number, got '" + "y" * 56 + "..."
    cat = {"models": {f"m{i}": _entry(**{"price.input": -1}) for i in range(30)}}
    lines = _message(lambda: Catalog.from_dict(cat, "c.yaml")).splitlines()
    assert len(lines) == 21 and lines[-1] == "c.yaml: ... and 10 more problems"


# --- secrets --------------------------------------------------------------------------------------------
class _Endpoint(Validated):
    api_key_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)] = "OPENAI_API_KEY"
    auth_token: int = 0
    region: Literal["eu", "us"] = "eu"
    label: Annotated[str, Field(pattern=r"^[a-z]+$")] = "a"


@pytest.mark.parametrize("field, value", [
    ("api_key_env", CANARY),            # a key pasted where its variable's name goes: the pattern fails
    ("api_key_env", CANARY * 3),        # ... and the length
    ("api_key_env", [CANARY]),          # a wrong type at a secret's field
    ("auth_token", CANARY),
    ("label", CANARY),                  # any pattern: the value is what a pasted key looks like
])
def test_a_value_that_may_be_a_secret_is_never_quoted(field, value):
    for make in (lambda: _Endpoint(**{field: value}), lambda: validate(_Endpoint, {field: value}, source="e.yaml")):
        with pytest.raises(ConfigError) as err:
            make()
        text = "".join(traceback.format_exception(err.value))
        assert CANARY not in text and CANARY not in repr(err.value.args)
        assert re.search(rf"\b{field}: (does not match|must be)", str(err.value))
    assert "got 'x'" in _message(lambda: _Endpoint(region="x")) or "'x' is not one of" in \
        _message(lambda: _Endpoint(region="x"))  # an ordinary field still shows what it got


def test_the_routing_table_model_and_the_runtime_never_quote_a_pasted_key():
    doc = {"format": "routerlab.routing_table", "version": 1, "default": "m",
           "models": {"m": {"provider": "openai", "api_name": "m", "api_key_env": CANARY}}}
    with pytest.raises(ConfigError) as ours:
        RoutingTable.from_dict(doc, source="t.json")
    with pytest.raises(runtime.RoutingTableError) as theirs:
        runtime.validate(doc, source="t.json")
    assert str(ours.value) == "routing table t.json: models.m.api_key_env: does not match ^[A-Za-z_][A-Za-z0-9_]*$"
    assert str(theirs.value) == "t.json: models.m.api_key_env: does not match ^[A-Za-z_][A-Za-z0-9_]*$"


@pytest.mark.parametrize("change, words", [
    ({"retry": {"timeout": 0}}, "retry.timeout: must be a positive number, got 0"),
    ({"retry": {"num_retries": -2}}, "retry.num_retries: must be at least 0, got -2"),
    ({"models": {}}, "models: must not be empty"),
    ({"cascade": {"stages": []}}, "cascade.stages: must not be empty"),
    ({"balancer": {"strategy": "fastest"}}, "balancer.strategy: 'fastest' is not one of"),
    ({"retry": {"tries": 1}}, "retry.tries: unknown field; known fields: num_retries, on_status_codes, timeout"),
])
def test_a_notebook_and_the_production_runtime_word_a_bad_table_alike(change, words):
    doc = {"format": "routerlab.routing_table", "version": 1, "default": "m",
           "models": {"m": {"provider": "openai", "api_name": "m"}}, **change}
    assert _message(lambda: RoutingTable.from_dict(doc)).startswith(f"routing table <dict>: {words}")
    with pytest.raises(runtime.RoutingTableError) as err:
        runtime.validate(doc)
    assert str(err.value).startswith(f"<routing table>: {words}")


def test_config_error_takes_any_pydantic_error():
    from pydantic import BaseModel, ValidationError

    class Plain(BaseModel):
        n: int

    with pytest.raises(ValidationError) as err:
        Plain.model_validate({"n": "x", "m": 1})
    assert str(config_error(err.value, source="p.json", model=Plain)) == "p.json: n: must be a whole number, got 'x'"
