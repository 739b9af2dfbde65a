"""The routing-table schema file is the contract: routerlab's pydantic types, the runtime's stdlib
validator and the reference validator (jsonschema) agree on it, field by field and document by document."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from routerlab import runtime
from routerlab.errors import ConfigError
from routerlab.routers import RoutingTable
from routerlab.routers.schema import COMPLETE_KEYS, check_document, document_adapter

jsonschema = pytest.importorskip("jsonschema")

#: A valid document with every field of the schema present, so every field gets mutated.
FULL: dict[str, Any] = {
    "format": "routerlab.routing_table", "version": 1, "name": "full", "router": "task",
    "tasks": [{"task": "math", "patterns": [r"\bsolve\b", r"\d+\s*\+\s*\d+"], "flags": ["IGNORECASE", "DOTALL"]}],
    "default_task": "chat", "routes": {"math": "mini"}, "default": "big",
    "models": {
        "big": {"provider": "openai", "api_name": "gpt-4o", "context_window": 128000, "max_output": 16384,
                "api_key_env": "OPENAI_API_KEY", "api_base": "http://127.0.0.1:9/v1", "price": {"input": 2.5, "output": 10},
                "deployments": [{"name": "east-1", "api_base": None, "api_key_env": "OPENAI_EAST", "weight": 2,
                                 "provider": "openai", "api_name": "gpt-4o-2024-08-06", "rpm": 500, "tpm": 30000.5}]},
        "mini": {"provider": "openai", "api_name": "gpt-4o-mini"},
    },
    "fallbacks": {"mini": ["big"]}, "context_window_fallbacks": {"mini": ["big"]}, "output_reserve": 1024,
    "cascade": {"signal": "agreement", "min_votes": 2, "judge": None,
                "stages": [{"models": ["mini"], "threshold": 0.5}, {"models": ["big"], "threshold": None}],
                "per_task": {"math": [{"models": ["mini", "big"]}]}},
    "learned": {"kind": "LearnedRouter", "exportable": False, "note": "n", "thresholds": {"lam": 0.3},
                "params": {"k": 32}},
    "balancer": {"strategy": "round-robin", "allowed_fails": 3, "cooldown_time": 30},
    "retry": {"num_retries": 2, "timeout": 10, "on_status_codes": [429, 500]},
    "provenance": {"dataset": "zeroeval", "split": "test", "strategy": "task", "routerlab_version": "0.1",
                   "created": "2024-01-01T00:00:00+00:00", "metrics": {"quality": 0.8, "n": 3, "ok": True, "x": None},
                   "per_task": {"math": {}}, "anything": [1]},
}

#: What a field is replaced with: every JSON type, empty and boundary values, and near-misses.
PROBES: list[Any] = ["x", "", "bad value!", "nope", 7, 0, 1, -1, 1.0, 1.5, 599, 600, 99, True, None, [], ["x"], {},
                     {"k": "v"}]


def _set(doc: Any, path: tuple, value: Any) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DELETE = object()


def _mutations(sch: dict, value: Any, path: tuple) -> Iterator[tuple[tuple, Any]]:
    """(path, new value or _DELETE) for every field of ``value`` that ``sch`` describes."""
    if path:
        for probe in PROBES:
            yield path, probe
    if isinstance(value, dict):
        for key in sch.get("required", ()):
            if key in value:
                yield (*path, key), _DELETE
        yield (*path, "zz_extra"), "x"
        props, extra = sch.get("properties", {}), sch.get("additionalProperties", True)
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                yield from _mutations(sub, item, (*path, key))
    if isinstance(value, list) and "items" in sch:
        for i, item in enumerate(value):
            yield from _mutations(sch["items"], item, (*path, i))


def _corpus() -> list[tuple[str, dict]]:
    seen, out = set(), []
    for path, new in _mutations(runtime.schema(), FULL, ()):
        doc = _set(FULL, path, new)
        key = json.dumps(doc, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append((".".join(map(str, path)) + ("=<deleted>" if new is _DELETE else f"={new!r}"), doc))
    return out


CORPUS = _corpus()


def _ours(doc: dict, *, schema_only: bool) -> str | None:
    """The path our pydantic validation rejects ``doc`` at (None: accepted)."""
    try:
        if schema_only:
            document_adapter().validate_python(doc)
            missing = [k for k in COMPLETE_KEYS if k not in doc]
            return missing[0] if missing else None
        check_document(doc, complete=True)
    except ConfigError as exc:
        return re.match(r"routing table <dict>: (.+?): ", str(exc)).group(1)
    except Exception as exc:  # noqa: BLE001 - a pydantic ValidationError in schema-only mode
        return str(exc)
    return None


def _runtime(doc: dict) -> str | None:
    try:
        runtime.validate(doc)
    except runtime.RoutingTableError as exc:
        return re.match(r"<routing table>: (.+?): ", str(exc)).group(1)
    return None


def test_the_corpus_exercises_both_verdicts():
    verdicts = [jsonschema.Draft202012Validator(runtime.schema()).is_valid(doc) for _, doc in CORPUS]
    assert len(CORPUS) > 600 and 100 < sum(verdicts) < len(verdicts) - 300


def test_pydantic_types_accept_exactly_what_the_schema_file_accepts():
    validator = jsonschema.Draft202012Validator(runtime.schema())
    disagree = [(label, validator.is_valid(doc)) for label, doc in CORPUS
                if validator.is_valid(doc) != (_ours(doc, schema_only=True) is None)]
    assert disagree == []


def test_pydantic_and_the_runtime_reject_the_same_documents_at_the_same_path():
    """Cross-field rules included (models named but not defined, self-fallbacks, bad regexes)."""
    extra = [("routes.math=undefined", _set(FULL, ("routes", "math"), "gpt-9")),
             ("fallbacks self", _set(FULL, ("fallbacks", "mini"), ["mini"])),
             ("regex", _set(FULL, ("tasks", 0, "patterns", 1), "(unclosed")),
             ("task twice", _set(FULL, ("tasks",), FULL["tasks"] * 2)),
             ("stage model", _set(FULL, ("cascade", "per_task", "math", 0, "models", 1), "gpt-9"))]
    disagree = []
    for label, doc in CORPUS + extra:
        ours, theirs = _ours(doc, schema_only=False), _runtime(doc)
        if ours != theirs:
            disagree.append((label, ours, theirs))
    assert disagree == []
    assert all(_runtime(doc) is not None for _, doc in extra)


def _canon(node: dict, defs: dict) -> dict:
    """A JSON Schema node reduced to what validation depends on (types, fields, bounds), refs resolved."""
    out: dict[str, Any] = {"types": set(), "props": {}, "required": set(), "extra": True, "items": None, "bounds": {}}
    for member in node.get("anyOf", [node]):
        while "$ref" in member:
            member = defs[member["$ref"].split("/")[-1]]
        t = member.get("type")
        out["types"] |= set([t] if isinstance(t, str) else t or [])
        values = member.get("enum", [member["const"]] if "const" in member else None)
        if values is not None:
            out["enum"] = set(values)
            out["types"] |= {"string" for v in values if isinstance(v, str)}
        out["props"].update({k: _canon(v, defs) for k, v in member.get("properties", {}).items()})
        out["required"] |= set(member.get("required", ()))
        extra = member.get("additionalProperties", True)
        out["extra"] = _canon(extra, defs) if isinstance(extra, dict) else extra if out["extra"] is True else out["extra"]
        if "items" in member:
            out["items"] = _canon(member["items"], defs)
        out["bounds"].update({k: member[k] for k in ("minLength", "minimum", "maximum", "exclusiveMinimum",
                                                     "minItems", "minProperties", "pattern") if k in member})
    return out


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str) for d in _differences(a.get(k), b.get(k), f"{path}/{k}")]
    return [] if a == b else [f"{path}: file {a!r} != pydantic {b!r}"]


def test_every_object_of_the_schema_file_has_the_same_fields_and_bounds_in_pydantic():
    file = _canon(runtime.schema(), {})
    generated = document_adapter().json_schema()
    ours = _canon(generated, generated.get("$defs", {}))
    # a table's own to_dict form leaves out what only a complete document needs
    assert file["required"] - ours["required"] == set(COMPLETE_KEYS)
    ours["required"] |= set(COMPLETE_KEYS)
    assert _differences(file, ours) == []


def test_a_table_round_trips_through_every_validator(tmp_path):
    t = RoutingTable.from_dict({k: v for k, v in FULL.items() if k != "tasks"} | {"tasks": [
        {"task": "math", "patterns": [r"\bsolve\b"]}]})
    doc = t.to_document()
    jsonschema.validate(doc, runtime.schema())
    assert runtime.validate(doc) == doc
    assert RoutingTable.from_dict(doc) == t
    assert RoutingTable.load(t.save(tmp_path / "t.json")) == t
    (tmp_path / "doc.json").write_text(json.dumps(doc))
    assert RoutingTable.load(tmp_path / "doc.json") == t
    assert runtime.Router.load(tmp_path / "doc.json").route("please solve x") == "mini"
