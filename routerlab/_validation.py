"""Configuration models on pydantic, and the one formatter of pydantic errors, naming file and field path.

:class:`Validated` is the base of routerlab's configuration objects (the gateway config, the local
server's fault spec): frozen, unknown fields rejected, no ``inf``/``NaN``, positional arguments in field
order. Every validation failure, whether from a file or from direct construction, is a
:class:`~routerlab.errors.ConfigError` whose lines read ``<source>: <path>: <what is wrong>``, e.g.
``gateway.yaml: models.gpt-4o-mini.deployments[1].rpm: must be a positive number, got -5``; an unknown
field lists the known ones.

:func:`config_error` is that formatter for every pydantic model routerlab reads (these configuration
objects, the catalog file, the routing-table document): one vocabulary, one path notation, and one rule
for values: the offending value is quoted (up to 60 characters), except where a field's name says it
holds or names a secret (``api_key_env``, ``token``, ...) or a value fails a pattern (what a key pasted
into a name field does), so an error message, and a log it ends up in, never repeats a key.

Example::

    >>> from pydantic import Field
    >>> class Retry(Validated):
    ...     attempts: int = Field(3, gt=0)
    >>> Retry(attempts=0)
    Traceback (most recent call last):
    ...
    routerlab.errors.ConfigError: attempts: must be a positive number, got 0
"""

from __future__ import annotations

import difflib
import numbers
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import NotRequired, Required, get_type_hints, is_typeddict

from .errors import ConfigError

__all__ = ["Validated", "config_error", "validate", "format_path", "load_yaml", "PROVIDER_KINDS",
           "known_provider", "is_real"]

M = TypeVar("M", bound="Validated")
B = TypeVar("B", bound=BaseModel)


class Validated(BaseModel):
    """A frozen pydantic model whose validation errors are :class:`~routerlab.errors.ConfigError` s.

    ``section`` (a class attribute) prefixes the field paths of errors raised by direct construction (e.g.
    ``breaker`` → ``breaker.failure_rate: ...``). Positional arguments fill the fields in order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, validate_by_name=True,
                              validate_by_alias=True, arbitrary_types_allowed=True)
    section: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = list(type(self).model_fields)
        if len(args) > len(names):
            raise ConfigError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
        kwargs.update(zip(names, args))
        try:
            super().__init__(**kwargs)
        except ValidationError as exc:
            raise config_error(exc, model=type(self), prefix=type(self).section) from None

    # Direct construction only: nested models validated from a file's data must not go through this
    # __init__ (its ConfigError would be wrapped into the parent's error), so pydantic treats it as its own.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def replace(self: M, **changes: Any) -> M:
        """A validated copy with ``changes`` (unknown fields and bad values raise ConfigError)."""
        return type(self)(**{**self.__dict__, **changes})

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain data (nested models as dicts)."""
        return self.model_dump()


def validate(model: type[B], data: Any, *, source: str | None = None, prefix: str = "") -> B:
    """``model`` (a pydantic model) validated from plain data (a mapping from a file); every problem is
    one line of the :class:`~routerlab.errors.ConfigError`, naming ``source`` and the path.

    Example::

        >>> class Retry(Validated):
        ...     attempts: int = 3
        >>> validate(Retry, {"attemps": 2}, source="gateway.yaml", prefix="retry")
        Traceback (most recent call last):
        ...
        routerlab.errors.ConfigError: gateway.yaml: retry: unknown field(s) ['attemps']; known fields: ['attempts']
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, source=source, model=model, prefix=prefix) from None


# --- messages --------------------------------------------------------------------------------------
#: The most problems one error lists (then "... and N more problems").
#: The provider kinds routerlab has an adapter for (``routerlab.providers`` maps each to its class; a
#: test holds the two equal). The one list the gateway config and the catalog file check against.
PROVIDER_KINDS: tuple[str, ...] = ("openai", "gemini", "openai-compatible", "anthropic", "groq")


def is_real(value: Any) -> bool:
    """A real number (Python's or numpy's, NaN and infinities included) that is not a bool: ``True`` is no
    count, weight, budget or temperature."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def known_provider(value: str) -> str:
    """``value`` if it is one of :data:`PROVIDER_KINDS`, else ValueError naming the closest kind (a
    pydantic validator: the error then names the file and the field path).

    Example::

        >>> known_provider("opneai")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: 'opneai' is not a provider routerlab knows; did you mean 'openai'? known providers: openai, ...
    """
    if value not in PROVIDER_KINDS:
        close = difflib.get_close_matches(value, PROVIDER_KINDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"{value!r} is not a provider routerlab knows; {hint}known providers: "
                         f"{', '.join(PROVIDER_KINDS)}")
    return value


MAX_PROBLEMS = 20


def config_error(exc: ValidationError, *, source: str | None = None, model: Any = None, prefix: str = "",
                 first_only: bool = False, rename: Callable[[tuple[Any, ...]], str] | None = None) -> ConfigError:
    """One ConfigError for a pydantic ``ValidationError``: a line per problem, ``source: path: message``.

    ``model`` (the validated type: a pydantic model or dataclass, or a TypedDict) lets an unknown field
    list the known ones and tells pydantic's union-member tags from the data's keys; ``prefix`` is
    prepended to every path (the section the model sits in). ``first_only`` reports the first problem
    and how many more there are, with each unknown field at its own path (``models.a.api_key: unknown
    field; known fields: ...``): the notation of the standard-library routing-table validator
    (:mod:`routerlab.runtime`), so a notebook and production name a bad table the same way.
    ``rename`` turns a path (a tuple of keys and indexes) into the caller's notation.
    """
    found = _problems(exc, model)
    if first_only:
        lines = [_render_first(found, model, prefix, rename)] if found else []
    else:
        lines = _render_all(found, model, prefix, rename)
    head = f"{source}: " if source else ""
    return ConfigError("\n".join(head + line for line in lines) or f"{head}invalid configuration")


def format_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    """``("tasks", 0, "patterns", 1)`` → ``tasks[0].patterns[1]`` (after ``prefix``; ``""`` for the top)."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")


def _problems(exc: ValidationError, model: Any) -> dict[tuple[Any, ...], list[Any]]:
    """pydantic's errors by the data path they concern (a union reports each member's error at one)."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    for err in exc.errors(include_url=False):
        out.setdefault(_data_loc(model, tuple(err["loc"])), []).append(err)
    return out


def _render_all(found: Mapping[tuple[Any, ...], list[Any]], model: Any, prefix: str,
                rename: Callable[[tuple[Any, ...]], str] | None) -> list[str]:
    lines: list[str] = []
    unknown: dict[tuple[Any, ...], list[str]] = {}
    for loc, errors in found.items():
        if errors[0]["type"] in _UNKNOWN and loc:
            unknown.setdefault(loc[:-1], []).append(str(loc[-1]))
        else:
            lines.append(_line(_where(loc, prefix, rename), _message(loc, errors)))
    for parent, names in reversed(unknown.items()):
        known = _known_fields(model, parent)
        tail = f"; known fields: {known}" if known else ""
        lines.insert(0, _line(_where(parent, prefix, rename), f"unknown field(s) {sorted(names)}{tail}"))
    more = len(lines) - MAX_PROBLEMS
    return lines[:MAX_PROBLEMS] + ([f"... and {more} more problems"] if more > 0 else [])


def _render_first(found: Mapping[tuple[Any, ...], list[Any]], model: Any, prefix: str,
                  rename: Callable[[tuple[Any, ...]], str] | None) -> str:
    loc, errors = next(iter(found.items()))
    if errors[0]["type"] in _UNKNOWN and loc:
        known = ", ".join(_known_fields(model, loc[:-1]))
        message = "unknown field" + (f"; known fields: {known}" if known else "")
    else:
        message = _message(loc, errors)
    n = len(found) - 1
    return _line(_where(loc, prefix, rename), message) + (f" (and {n} more problem{'s' * (n > 1)})" if n else "")


def _where(loc: tuple[Any, ...], prefix: str, rename: Callable[[tuple[Any, ...]], str] | None) -> str:
    return rename(loc) if rename is not None else format_path(loc, prefix)


def _line(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


#: The words for pydantic's type errors; a union's members are joined with "or".
_TYPES = {
    "float_type": "a number", "float_parsing": "a number", "int_type": "a whole number",
    "int_parsing": "a whole number", "int_from_float": "a whole number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "typed_dict_type": "a mapping",
    "dataclass_type": "a mapping", "list_type": "a list", "tuple_type": "a list", "none_required": "null",
    "finite_number": "a finite number",
}
#: Type errors whose value is a structure: the message names its type, not its (long) text.
_STRUCTURES = {"dict_type", "model_type", "model_attributes_type", "typed_dict_type", "dataclass_type",
               "list_type", "tuple_type"}
_MISSING = ("missing", "missing_argument", "missing_keyword_argument")

#: Words in a field's name that say its value is, or names, a secret: that value is never quoted.
_SECRET_WORDS = frozenset({"key", "secret", "token", "password", "passwd", "credential", "credentials",
                           "auth", "authorization", "bearer", "cookie"})


def _may_be_secret(loc: tuple[Any, ...]) -> bool:
    return any(isinstance(part, str) and bool(_SECRET_WORDS & set(re.split(r"[^a-z0-9]+", part.lower())))
               for part in loc)


def _message(loc: tuple[Any, ...], errors: list[Any]) -> str:
    """What is wrong at ``loc``, in routerlab's words (one vocabulary for every configuration).

    Several errors at one path are the members of a union: what each would accept, joined by "or"."""
    first = errors[0]
    if any(e["type"] in _MISSING for e in errors):
        return "is required"
    got = "" if _may_be_secret(loc) else _got(first)
    if len(errors) > 1:
        wants = [_wants(e) for e in errors]
        if all(wants):
            return f"must be {' or '.join(dict.fromkeys(w for w in wants if w))}{got}"
    kind, ctx = first["type"], {k: _number(v) for k, v in (first.get("ctx") or {}).items()}
    if kind in ("value_error", "assertion_error"):  # our validators' own words (they quote what they need)
        return str(ctx.get("error") or first["msg"])
    if kind == "literal_error":
        return (f"{_shown(first.get('input'))} " if got else "") + f"is not one of {ctx['expected']}"
    if kind == "string_pattern_mismatch":  # never the value: what a key pasted into a name field fails
        return f"does not match {ctx['pattern']}"
    if kind in ("string_too_short", "too_short"):
        unit = "characters" if kind == "string_too_short" else "items"
        return "must not be empty" if ctx.get("min_length", 1) <= 1 else f"needs at least {ctx['min_length']} {unit}"
    want = _wants(first)
    return f"must be {want}{got}" if want else f"{first['msg']}{got}"  # else pydantic's (or our custom) words


def _wants(err: Mapping[str, Any]) -> str | None:
    """What a value must be to pass ``err``'s check ("a number", "at least 0", ...), None if it has no words."""
    kind, ctx = err["type"], {k: _number(v) for k, v in (err.get("ctx") or {}).items()}
    if kind in _TYPES:
        return _TYPES[kind]
    if kind == "greater_than":
        return "a positive number" if ctx.get("gt") == 0 else f"more than {ctx.get('gt')}"
    bounds = {"greater_than_equal": ("at least", "ge"), "less_than_equal": ("at most", "le"),
              "less_than": ("less than", "lt"), "string_too_long": ("at most", "max_length"),
              "too_long": ("at most", "max_length")}
    if kind in bounds:
        word, key = bounds[kind]
        unit = {"string_too_long": " characters long", "too_long": " items long"}.get(kind, "")
        return f"{word} {ctx.get(key)}{unit}"
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return f"text matching {ctx.get('pattern')}"
    if kind in ("string_too_short", "too_short"):
        return "not empty"
    return None


def _got(err: Mapping[str, Any]) -> str:
    """", got <value>": a structure by its type, anything else as its repr (cut at 60 characters)."""
    value = err.get("input")
    return f", got {type(value).__name__ if err['type'] in _STRUCTURES else _shown(value)}"


def _shown(value: Any) -> str:
    """A value as a message quotes it: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> Any:
    """``0.0`` → ``0`` in messages (pydantic reports a float field's bounds as floats)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# --- the types along a path ------------------------------------------------------------------------
def _data_loc(model: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` without what is not a key or an index of the data: pydantic's ``[key]`` marker and the
    tags it adds for the member of a union it tried (``('metrics', 'q', 'bool')``), found by walking
    ``model``'s types along the path (without a model, or past an ``Any``, parts are kept as they are)."""
    out: list[Any] = []
    types: list[Any] = [model] if model is not None else []
    for part in loc:
        if part == "[key]":
            types = []
            continue
        members = [m for tp in types for m in _members(tp)]
        if len(members) > 1:  # a union: this part names the member tried, not a place in the data
            types = members
            continue
        out.append(part)
        types = [t for t in (_step(tp, part) for tp in types) if t is not None][:1]
    return tuple(out)


def _known_fields(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The field names (aliases where set) of the object found at ``loc`` under ``model``."""
    target = model
    for part in loc:
        target = _step(target, part)
        if target is None:
            return []
    fields = _fields(_unwrap(target))
    return sorted(fields) if fields is not None else []


def _fields(tp: Any) -> dict[str, Any] | None:
    """Field name (or alias) → annotation of a pydantic model, a (pydantic) dataclass or a TypedDict."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {f.alias or n: f.annotation for n, f in tp.model_fields.items()}
    pydantic_fields = getattr(tp, "__pydantic_fields__", None)
    if isinstance(tp, type) and pydantic_fields is not None:  # a pydantic dataclass
        return {n: f.annotation for n, f in pydantic_fields.items()}
    if is_typeddict(tp):
        return dict(get_type_hints(tp, include_extras=True))
    return None


def _step(tp: Any, part: Any) -> Any:
    """The type found at key or index ``part`` of a value of type ``tp`` (None: not known)."""
    tp = _unwrap(tp)
    fields = _fields(tp)
    if fields is not None:
        if part in fields:
            return fields[part]
        names = {n: a for n, a in getattr(tp, "model_fields", {}).items()}  # a field given by its name
        return names[part].annotation if part in names else None
    args, origin = typing.get_args(tp), typing.get_origin(tp)
    if origin in (dict, Mapping) or (origin is not None and getattr(origin, "__name__", "") == "Mapping"):
        return args[1] if len(args) == 2 else None
    if origin in (list, tuple) or (origin is not None and getattr(origin, "__name__", "") == "Sequence"):
        return args[0] if args else None
    return None


def _members(tp: Any) -> list[Any]:
    """The members of a union other than ``None`` (pydantic tags each in an error's path), else []."""
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(tp) if a is not type(None)]
    return []


def _unwrap(tp: Any) -> Any:
    """``X`` from ``Annotated[X, ...]``, ``Required[X]``, ``NotRequired[X]`` and ``X | None``."""
    while True:
        origin = typing.get_origin(tp)
        if origin in (typing.Annotated, Required, NotRequired):
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


def load_yaml(text: str) -> Any:
    """Parse a YAML document as ``yaml.safe_load`` does, with libyaml's C parser when PyYAML has it
    (about 10x quicker on the packaged catalog; same result). Raises ``yaml.YAMLError``."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
