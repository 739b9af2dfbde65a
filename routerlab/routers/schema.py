"""The routing-table document as pydantic types: what :class:`~routerlab.routers.RoutingTable` loads.

The JSON Schema file ``routerlab/data/routing_table.schema.json`` is the contract (exports are checked
against it, the stdlib-only :mod:`routerlab.runtime` validates with its own reader of it). The
TypedDicts below say the same thing to pydantic, one per object of the schema, so a document is a
plain dict, validated declaratively; ``tests/routers/test_table_schema.py`` checks that the two agree
on every object's fields and on which documents they accept, and that both name the same field path.

The rules a JSON Schema cannot state (every model named is defined, patterns compile, no model falls
back to itself, no task twice) are :func:`routerlab.runtime.check_schema_rules`, shared with the runtime.

Example::

    >>> check_document({"default": "gpt-4o", "routes": {"math": ""}}, source="t.json")
    Traceback (most recent call last):
    ...
    routerlab.errors.ConfigError: routing table t.json: routes.math: must be a model name (a non-empty string), got ''
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, StrictStr, TypeAdapter, ValidationError, with_config
from pydantic_core import PydanticCustomError
from typing_extensions import Required, TypedDict

from .. import runtime
from .._validation import config_error, format_path
from ..errors import ConfigError

__all__ = ["TableDocument", "check_document", "document_adapter", "format_path", "table_error"]


def _model_name(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        raise PydanticCustomError("model_name", "must be a model name (a non-empty string)")
    return value


def _regex(value: Any) -> Any:
    if isinstance(value, str):
        try:
            re.compile(value)
        except re.error as exc:
            raise PydanticCustomError("regex", "is not a valid regular expression ({error})", {"error": str(exc)})
    return value


def _integral(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; bool is not a number
    return int(value) if isinstance(value, float) and not isinstance(value, bool) and value.is_integer() else value


def _version(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value != runtime.SCHEMA_VERSION:
        raise PydanticCustomError("version", "is {version}; this routerlab reads version {known}"
                                  + ("; upgrade routerlab" if value > runtime.SCHEMA_VERSION else ""),
                                  {"version": value, "known": runtime.SCHEMA_VERSION})
    return value


# One Annotated per constrained type (constraints nested in a second Annotated would not reach the
# JSON Schema pydantic derives, which the tests compare with the schema file).
ModelName = Annotated[str, Field(min_length=1), BeforeValidator(_model_name)]
Text = Annotated[StrictStr, Field(min_length=1)]
Regex = Annotated[StrictStr, Field(min_length=1), BeforeValidator(_regex)]
EnvName = Annotated[StrictStr, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Count = Annotated[int, Field(strict=True, ge=0), BeforeValidator(_integral)]
Size = Annotated[int, Field(strict=True, ge=1), BeforeValidator(_integral)]
Votes = Annotated[int, Field(strict=True, ge=2), BeforeValidator(_integral)]
StatusCode = Annotated[int, Field(strict=True, ge=100, le=599), BeforeValidator(_integral)]
Version = Annotated[int, Field(strict=True, ge=1, le=1), BeforeValidator(_version), BeforeValidator(_integral)]
Number = Annotated[float, Field(strict=True)]
NonNegative = Annotated[float, Field(strict=True, ge=0)]
Positive = Annotated[float, Field(strict=True, gt=0)]
ModelChain = list[ModelName]
Flag = Literal["IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE", "ASCII"]

_CLOSED = ConfigDict(extra="forbid")


@with_config(_CLOSED)
class TaskSpec(TypedDict, total=False):
    """One task detector: its regexes (``re.search``), applied with ``flags``."""

    task: Required[Text]
    patterns: Required[list[Regex]]
    flags: list[Flag]


@with_config(_CLOSED)
class Price(TypedDict, total=False):
    """USD per million input and output tokens."""

    input: NonNegative
    output: NonNegative


@with_config(_CLOSED)
class Deployment(TypedDict, total=False):
    """One deployment of a model (a key, a region, a host) the balancer spreads calls over."""

    name: Required[Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_.\-]+$")]]
    api_base: StrictStr | None
    api_key_env: EnvName
    weight: NonNegative
    provider: Text
    api_name: Text
    rpm: Positive
    tpm: Positive


@with_config(_CLOSED)
class ModelEntry(TypedDict, total=False):
    """How to reach one model; the key of ``models`` is the alias routes and fallbacks use."""

    provider: Required[Text]
    api_name: Required[Text]
    context_window: Size
    max_output: Size
    api_key_env: EnvName
    api_base: StrictStr | None
    price: Price
    deployments: Annotated[list[Deployment], Field(min_length=1)]


@with_config(_CLOSED)
class Stage(TypedDict, total=False):
    """One cascade stage: models called in parallel (usually one)."""

    models: Required[Annotated[ModelChain, Field(min_length=1)]]
    threshold: Number | None


Stages = Annotated[list[Stage], Field(min_length=1)]


@with_config(_CLOSED)
class CascadeSection(TypedDict, total=False):
    """A cascade: its stages, per task or for every task, and the signal that accepts an answer."""

    signal: StrictStr
    min_votes: Votes
    judge: StrictStr | None
    stages: Required[Stages]
    per_task: dict[str, Stages]


@with_config(_CLOSED)
class LearnedSection(TypedDict, total=False):
    """What is exportable of a learned router."""

    kind: StrictStr
    exportable: StrictBool
    note: StrictStr
    thresholds: dict[str, Number]
    params: dict[str, Any]


@with_config(_CLOSED)
class BalancerSection(TypedDict, total=False):
    """Load balancing and circuit breaking across deployments."""

    strategy: Literal["weighted", "best", "round-robin", "least-latency", "least-busy", "simple-shuffle"]
    allowed_fails: Count
    cooldown_time: NonNegative


@with_config(_CLOSED)
class RetrySection(TypedDict, total=False):
    """Retries per request: how many, the per-attempt timeout (seconds), on which status codes."""

    num_retries: Count
    timeout: Positive
    on_status_codes: list[StatusCode]


@with_config(ConfigDict(extra="allow"))
class Provenance(TypedDict, total=False):
    """Where the table came from (any further key is kept as it is)."""

    dataset: StrictStr | None
    split: StrictStr | None
    strategy: StrictStr | None
    routerlab_version: StrictStr
    created: StrictStr
    metrics: dict[str, StrictBool | Number | StrictStr | None]
    per_task: dict[str, Any]


@with_config(_CLOSED)
class TableDocument(TypedDict, total=False):
    """A routing table as JSON: the schema's top level. ``format``, ``version`` and ``models`` are
    required of a complete document (:func:`check_document` with ``complete=True``); a table's own
    :meth:`~routerlab.routers.RoutingTable.to_dict` form leaves them out."""

    format: Literal["routerlab.routing_table"]
    version: Version
    name: StrictStr
    router: StrictStr
    tasks: list[TaskSpec]
    default_task: StrictStr | None
    routes: dict[str, ModelName]
    default: Required[ModelName]
    models: Annotated[dict[str, ModelEntry], Field(min_length=1)]
    fallbacks: dict[str, ModelChain]
    context_window_fallbacks: dict[str, ModelChain]
    output_reserve: Count
    cascade: CascadeSection | None
    learned: LearnedSection | None
    balancer: BalancerSection
    retry: RetrySection
    provenance: Provenance


#: Keys a complete document must have besides ``default`` (the schema's ``required``).
COMPLETE_KEYS = ("format", "version", "models")

_ADAPTER: TypeAdapter[TableDocument] | None = None


def document_adapter() -> TypeAdapter[TableDocument]:
    """The pydantic validator of :class:`TableDocument` (built once; ~50 ms)."""
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(TableDocument)
    return _ADAPTER


def table_error(exc: ValidationError, source: str,
                rename: Callable[[tuple[str | int, ...]], str] | None = None) -> ConfigError:
    """The ConfigError for a routing table that failed validation: ``routing table <source>: <path>: <what>``,
    the first problem (and how many more), in the words and notation of the runtime's validator
    (:func:`routerlab._validation.config_error` with ``first_only``). ``rename`` turns a document path
    into the caller's notation (a :class:`~routerlab.routers.RoutingTable`'s attribute names)."""
    return config_error(exc, source=f"routing table {source}", model=TableDocument, first_only=True, rename=rename)


def check_document(data: Any, *, source: str = "<dict>", complete: bool = False) -> None:
    """Validate a routing table given as a dict; raise :class:`~routerlab.errors.ConfigError` naming
    ``source`` and the first bad field path (``routing table t.json: routes.math: ...``).

    ``complete``: also require what a complete document has (``format``, ``version``, ``models``).
    The data is not changed (the caller keeps using its own dict).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"routing table {source}: expected a JSON object, got {type(data).__name__}")
    try:
        document_adapter().validate_python(dict(data))
    except ValidationError as exc:
        raise table_error(exc, source) from None
    missing = [k for k in COMPLETE_KEYS if k not in data] if complete else []
    if missing:
        raise ConfigError(f"routing table {source}: {missing[0]}: is required in a complete document")
    try:
        runtime.check_schema_rules(data)
    except runtime.RoutingTableError as exc:
        raise ConfigError(f"routing table {source}: {exc}") from None
