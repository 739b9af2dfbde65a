"""Validation of routing-table documents with the standard library only.

The packaged JSON Schema (``routerlab/data/routing_table.schema.json``) is the contract; this module
checks a document against the subset of JSON Schema that file uses (``type``, ``const``, ``enum``,
``required``, ``properties``, ``additionalProperties``, ``items``, ``minItems``, ``minProperties``,
``minLength``, ``pattern``, ``minimum``, ``maximum``, ``exclusiveMinimum``), then the cross-field rules a
schema cannot say (every model named is defined, patterns compile, no fallback loops to itself).
``jsonschema`` is not needed at run time; the tests check both validators agree.

Every error is a :class:`RoutingTableError` (a ``ValueError``) naming the field path, e.g.
``routes.math: 'gpt-5' is not a model of this table; models: gpt-4o, gpt-4o-mini``. A message quotes
the offending value except where it may be a secret: a value that fails a pattern (the pattern is named:
it is what a key pasted into ``api_key_env`` fails) and any value of a field whose name says it holds
or names one (``api_key_env``, ``token``, ...), so a table error copied into a log never carries a key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any


class RoutingTableError(ValueError):
    """A routing table that is not valid: the message names the source and the field path.

    The runtime imports nothing of routerlab, so this is its own class; routerlab's own loaders
    (:meth:`routerlab.routers.RoutingTable.load`) re-raise it as :class:`routerlab.errors.ConfigError`.
    """


__all__ = ["SCHEMA_PATH", "SCHEMA_VERSION", "FORMAT", "RoutingTableError", "schema", "validate", "check_schema_rules"]

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "routing_table.schema.json"
SCHEMA_VERSION = 1
FORMAT = "routerlab.routing_table"

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list, tuple), "string": (str,), "integer": (int,), "number": (int, float),
    "boolean": (bool,), "null": (type(None),),
}


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The packaged JSON Schema of a routing table (a dict)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _is(value: Any, typ: str) -> bool:
    if typ in ("integer", "number") and isinstance(value, bool):
        return False
    if typ == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[typ])


#: Words in a field's name that say its value is, or names, a secret (the same as routerlab's pydantic
#: formatter, :mod:`routerlab._validation`, which this stdlib-only module cannot import).
_SECRET_WORDS = frozenset({"key", "secret", "token", "password", "passwd", "credential", "credentials",
                           "auth", "authorization", "bearer", "cookie"})


def _quoted(value: Any, path: str) -> str:
    """``value`` as an error quotes it (cut at 60 characters), or nothing at a field that may hold a secret."""
    if _SECRET_WORDS & set(re.split(r"[^a-z0-9]+", path.lower())):
        return ""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _check(value: Any, sch: Mapping[str, Any], path: str) -> None:
    where = path or "<document>"
    shown = _quoted(value, path)
    got = f", got {shown}" if shown else ""
    if "const" in sch and value != sch["const"]:
        raise RoutingTableError(f"{where}: must be {sch['const']!r}{got}")
    if "enum" in sch and value not in sch["enum"]:
        raise RoutingTableError(f"{where}: {shown + ' ' if shown else ''}is not one of "
                                f"{', '.join(map(repr, sch['enum']))}")
    _check_type(value, sch, where, shown)
    if isinstance(value, str):
        _check_string(value, sch, where)
    if _is(value, "number"):
        _check_bounds(value, sch, where, got)
    if isinstance(value, (list, tuple)):
        if len(value) < sch.get("minItems", 0):
            raise RoutingTableError(f"{where}: {_too_few(sch['minItems'], 'item(s)')}")
        if "items" in sch:
            for i, item in enumerate(value):
                _check(item, sch["items"], _join(path, i))
    if isinstance(value, dict):
        _check_object(value, sch, path)


def _check_type(value: Any, sch: Mapping[str, Any], where: str, shown: str) -> None:
    typ = sch.get("type")
    if typ is None:
        return
    types = [typ] if isinstance(typ, str) else list(typ)
    if not any(_is(value, t) for t in types):
        raise RoutingTableError(f"{where}: must be {' or '.join(types)}, got {type(value).__name__}"
                                + (f" {shown}" if shown else ""))


def _check_string(value: str, sch: Mapping[str, Any], where: str) -> None:
    if len(value) < sch.get("minLength", 0):
        raise RoutingTableError(f"{where}: must not be empty")
    if "pattern" in sch and not re.search(sch["pattern"], value):
        raise RoutingTableError(f"{where}: does not match {sch['pattern']}")  # never the value: see the module doc


def _check_bounds(value: float, sch: Mapping[str, Any], where: str, got: str) -> None:
    if "minimum" in sch and value < sch["minimum"]:
        raise RoutingTableError(f"{where}: must be at least {sch['minimum']}{got}")
    if "maximum" in sch and value > sch["maximum"]:
        raise RoutingTableError(f"{where}: must be at most {sch['maximum']}{got}")
    if "exclusiveMinimum" in sch and value <= sch["exclusiveMinimum"]:
        bound = sch["exclusiveMinimum"]
        raise RoutingTableError(f"{where}: must be {'a positive number' if bound == 0 else f'more than {bound}'}{got}")


def _too_few(minimum: int, unit: str) -> str:
    return "must not be empty" if minimum <= 1 else f"needs at least {minimum} {unit}"


def _check_object(value: dict[str, Any], sch: Mapping[str, Any], path: str) -> None:
    where = path or "<document>"
    if len(value) < sch.get("minProperties", 0):
        raise RoutingTableError(f"{where}: {_too_few(sch['minProperties'], 'entries')}")
    for key in sch.get("required", ()):
        if key not in value:
            raise RoutingTableError(f"{_join(path, key)}: is required")
    props = sch.get("properties", {})
    extra = sch.get("additionalProperties", True)
    for key, item in value.items():
        if not isinstance(key, str):
            raise RoutingTableError(f"{where}: keys must be strings, got {key!r}")
        if key in props:
            _check(item, props[key], _join(path, key))
        elif extra is False:
            raise RoutingTableError(f"{_join(path, key)}: unknown field; known fields: {', '.join(sorted(props))}")
        elif isinstance(extra, Mapping):
            _check(item, extra, _join(path, key))


def check_schema_rules(doc: Mapping[str, Any]) -> None:
    """The rules a JSON Schema cannot express: names refer to defined models, patterns compile, no
    model falls back to itself, no task appears twice. ``doc`` has passed the schema; without a
    ``models`` section (a notebook table's own form) model names are not checked against it."""
    models = doc.get("models")
    known = ", ".join(models or ())

    def model_ref(path: str, name: str) -> None:
        if models is not None and name not in models:
            raise RoutingTableError(f"{path}: {name!r} is not a model of this table; models: {known}")

    model_ref("default", doc["default"])
    for task, model in (doc.get("routes") or {}).items():
        model_ref(f"routes.{task}", model)
    for key in ("fallbacks", "context_window_fallbacks"):
        for model, chain in (doc.get(key) or {}).items():
            model_ref(f"{key}.{model}", model)
            for i, target in enumerate(chain):
                model_ref(f"{key}.{model}[{i}]", target)
                if target == model:
                    raise RoutingTableError(f"{key}.{model}[{i}]: a model cannot fall back to itself")
    seen: set[str] = set()
    for i, spec in enumerate(doc.get("tasks") or ()):
        if spec["task"] in seen:
            raise RoutingTableError(f"tasks[{i}].task: {spec['task']!r} appears twice; merge its patterns")
        seen.add(spec["task"])
        for j, pattern in enumerate(spec["patterns"]):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise RoutingTableError(f"tasks[{i}].patterns[{j}]: not a valid regular expression: {exc}") from None
    cascade = doc.get("cascade")
    if cascade:
        plans = {"cascade.stages": cascade["stages"],
                 **{f"cascade.per_task.{t}": s for t, s in (cascade.get("per_task") or {}).items()}}
        for where, stages in plans.items():
            for i, stage in enumerate(stages):
                for j, model in enumerate(stage["models"]):
                    model_ref(f"{where}[{i}].models[{j}]", model)


def validate(doc: Any, *, source: str = "<routing table>") -> dict[str, Any]:
    """Check ``doc`` against the packaged schema and the cross-field rules; return it as a dict.

    Raises :class:`RoutingTableError` whose message starts with ``source`` and names the
    offending field path.

    Example::

        >>> validate({"format": "routerlab.routing_table", "version": 1, "default": "m",
        ...           "models": {"m": {"provider": "openai", "api_name": "gpt-4o-mini"}}})["default"]
        'm'
        >>> validate({"format": "routerlab.routing_table", "version": 1, "default": "x",
        ...           "models": {"m": {"provider": "openai", "api_name": "gpt-4o-mini"}}})
        Traceback (most recent call last):
        ...
        routerlab.runtime._validate.RoutingTableError: <routing table>: default: 'x' is not a model of this table; models: m
    """
    try:
        if not isinstance(doc, Mapping):
            raise RoutingTableError(f"must be a JSON object, got {type(doc).__name__}")
        version = doc.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            raise RoutingTableError(f"version: {version} is newer than this routerlab reads ({SCHEMA_VERSION}); "
                              "upgrade routerlab")
        _check(dict(doc), schema(), "")
        check_schema_rules(doc)
    except RoutingTableError as exc:
        raise RoutingTableError(f"{source}: {exc}") from None
    return dict(doc)
