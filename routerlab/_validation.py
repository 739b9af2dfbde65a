"""Configuration models on pydantic, with errors that name the file and the field path.

:class:`Validated` is the base of routerlab's configuration objects (the gateway config, the local
server's fault spec): frozen, unknown fields rejected, no ``inf``/``NaN``, positional arguments in field
order. Every validation failure, whether from a file or from direct construction, is a
:class:`~routerlab.errors.ConfigError` whose lines read ``<source>: <path>: <what is wrong>``, e.g.
``gateway.yaml: models.gpt-4o-mini.deployments[1].rpm: must be a positive number, got -5``; an unknown
field lists the known ones.

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

import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError

__all__ = ["Validated", "config_error", "validate"]

M = TypeVar("M", bound="Validated")


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


def validate(model: type[M], data: Any, *, source: str | None = None, prefix: str = "") -> M:
    """``model`` validated from plain data (a mapping from a file); errors name ``source`` and the path.

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
def config_error(exc: ValidationError, *, source: str | None = None, model: type[BaseModel] | None = None,
                 prefix: str = "") -> ConfigError:
    """One ConfigError for a pydantic ``ValidationError``: a line per problem, ``source: path: message``.

    ``model`` (the validated class) lets an unknown field list the known ones; ``prefix`` is prepended
    to every path (the section the model sits in).
    """
    lines: list[str] = []
    unknown: dict[tuple[Any, ...], list[str]] = {}
    for err in exc.errors():
        loc = tuple(err["loc"])
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument") and loc:
            unknown.setdefault(loc[:-1], []).append(str(loc[-1]))
            continue
        lines.append(_line(_path(prefix, loc), _message(err)))
    for parent, names in unknown.items():
        known = _known_fields(model, parent)
        tail = f"; known fields: {known}" if known else ""
        lines.insert(0, _line(_path(prefix, parent), f"unknown field(s) {sorted(names)}{tail}"))
    head = f"{source}: " if source else ""
    return ConfigError("\n".join(head + line for line in lines) or f"{head}invalid configuration")


def _path(prefix: str, loc: tuple[Any, ...]) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _line(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


_MESSAGES = {
    "missing": "is required",
    "finite_number": "must be a finite number, got {input!r}",
    "float_type": "must be a number, got {input!r}",
    "float_parsing": "must be a number, got {input!r}",
    "int_type": "must be a whole number, got {input!r}",
    "int_parsing": "must be a whole number, got {input!r}",
    "int_from_float": "must be a whole number, got {input!r}",
    "bool_type": "must be true or false, got {input!r}",
    "bool_parsing": "must be true or false, got {input!r}",
    "string_type": "must be a string, got {input!r}",
    "string_too_short": "must be a non-empty string",
    "too_short": "must not be empty",
    "dict_type": "must be a mapping, got {type}",
    "model_type": "must be a mapping, got {type}",
    "model_attributes_type": "must be a mapping, got {type}",
    "list_type": "must be a list, got {type}",
    "tuple_type": "must be a list, got {type}",
    "literal_error": "{input!r} is not one of {expected}",
    "less_than_equal": "must be at most {le}, got {input!r}",
    "less_than": "must be less than {lt}, got {input!r}",
    "greater_than_equal": "must not be negative, got {input!r}",
}


def _message(err: Mapping[str, Any]) -> str:
    kind, ctx, value = err["type"], dict(err.get("ctx") or {}), err.get("input")
    if kind == "greater_than":
        return (f"must be a positive number, got {value!r}" if ctx.get("gt") == 0
                else f"must be greater than {ctx.get('gt')}, got {value!r}")
    if kind == "greater_than_equal" and ctx.get("ge") != 0:
        return f"must be at least {ctx.get('ge')}, got {value!r}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error") or err["msg"])
    template = _MESSAGES.get(kind)
    if template is None:
        return str(err["msg"])
    return template.format(input=value, type=type(value).__name__, **ctx)


def _known_fields(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """The field names (aliases where set) of the model found at ``loc`` under ``model``."""
    target: Any = model
    for part in loc:
        target = _step(target, part)
        if target is None:
            return []
    target = _unwrap(target)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return sorted(f.alias or n for n, f in target.model_fields.items())
    return []


def _step(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        fields = tp.model_fields
        for name, f in fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin in (dict, Mapping) or (origin is not None and getattr(origin, "__name__", "") == "Mapping"):
        return args[1] if len(args) == 2 else None
    if origin in (list, tuple) or (origin is not None and getattr(origin, "__name__", "") == "Sequence"):
        return args[0] if args else None
    return None


def _unwrap(tp: Any) -> Any:
    """``X`` from ``Annotated[X, ...]`` and ``X | None``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp
