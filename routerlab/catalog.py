"""The model catalog: prices, context windows, capability scores and latency profiles.

The packaged catalog (``routerlab/data/catalog.yaml``) covers every model of the bundled data. Load
your own with ``Catalog.from_file(path)`` or extend the default with ``catalog.merge(other)``.

A catalog file is validated by pydantic models (:class:`Price`, :class:`LatencyProfile`,
:class:`ModelSpec`): every bad value raises :class:`~routerlab.errors.ConfigError` naming the file
and the field path (``models.gpt-4o.price.input``), all problems at once. Prices are USD per
million tokens (``>= 0``; ``cached_input`` / ``cache_write`` optional, ``None`` = not published);
``context`` is a positive whole number of tokens, also written ``128k`` (= 128,000: k is 1,000, as
providers quote windows) or ``1M`` (= 1,000,000); token rates and times to first token are ``> 0``.

Model names are never hard-coded in your code: ``ROUTERLAB_MODEL_<NAME>`` (for example
``ROUTERLAB_MODEL_GPT_4O=gpt-4o-2024-11-20``) swaps the provider model a catalog name points at, or
points the name at another catalog entry, without touching code.

Example::

    >>> from routerlab import Catalog
    >>> cat = Catalog.default()
    >>> cat["gpt-4o-mini"].cost(1_000, 500)
    0.00045
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import field
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.dataclasses import dataclass

from ._validation import known_provider, load_yaml, validate
from .errors import ConfigError, UnknownModelError

__all__ = ["Capability", "Price", "LatencyProfile", "ModelSpec", "Catalog", "ModelDeprecationWarning"]


class Capability(str, Enum):
    """The eight capability axes scored 1-10 in the catalog."""

    REASONING = "reasoning"
    CODING = "coding"
    CREATIVITY = "creativity"
    SPEED = "speed"
    CONTEXT = "context"
    COST = "cost"
    VISION = "vision"
    TOOLS = "tools"


CAPABILITIES: tuple[str, ...] = tuple(c.value for c in Capability)


class ModelDeprecationWarning(UserWarning):
    """A model past (or near) its provider's retirement date was used."""


# ---------------------------------------------------------------------------------------------------
# field types: one rule each, shared by every model below

def _no_bool(value: Any) -> Any:
    # YAML reads `yes`/`no` as booleans; a price of `yes` is a typo, not 1.0
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _date_text(value: Any) -> Any:
    # YAML reads 2024-08-06 as a date; the catalog keeps the text
    return value.isoformat() if isinstance(value, _dt.date) else value


def _iso_date(value: str | None) -> str | None:
    if value:  # None or "": no date given
        try:
            _dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. 2024-08-06") from None
    return value


_SUFFIX = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kKmM])\s*")


def _tokens(value: Any) -> Any:
    """``128k`` -> 128,000 and ``1M`` -> 1,000,000 (k = 1,000, as providers quote windows)."""
    value = _no_bool(value)
    if isinstance(value, str):
        match = _SUFFIX.fullmatch(value)
        if match:
            scaled = float(match.group(1)) * (1_000 if match.group(2) in "kK" else 1_000_000)
            if scaled != int(scaled):
                raise ValueError(f"{value!r} is not a whole number of tokens")
            return int(scaled)
    return value


def _capabilities(value: Mapping[str, float]) -> Mapping[str, float]:
    unknown = sorted(set(value) - set(CAPABILITIES))
    if unknown:
        raise ValueError(f"unknown capabilities {unknown}; known: {list(CAPABILITIES)}")
    return value


_Config = ConfigDict(extra="forbid", allow_inf_nan=False)
UsdPerMillion = Annotated[float, BeforeValidator(_no_bool), Field(ge=0)]
Positive = Annotated[float, BeforeValidator(_no_bool), Field(gt=0)]
NonNegative = Annotated[float, BeforeValidator(_no_bool), Field(ge=0)]
TokenCount = Annotated[int, BeforeValidator(_tokens), Field(gt=0)]
DateText = Annotated[str, BeforeValidator(_date_text), AfterValidator(_iso_date)]  # "" when unknown
IsoDate = Annotated[str | None, BeforeValidator(_date_text), AfterValidator(_iso_date)]
Scores = Annotated[dict[str, Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=10)]],
                   AfterValidator(_capabilities)]


@dataclass(frozen=True, config=_Config)
class Price:
    """USD per million tokens, with when and where the price was read.

    ``input`` / ``output``: list prices (>= 0). ``cached_input``: the price of input tokens read
    from the provider's prompt cache, ``cache_write``: of input tokens written to it; ``None`` when
    the provider publishes none (then the input price applies). ``estimated``: no first-party API
    publishes this price (an assumed cost).

    Example::

        >>> Price(2.5, 10.0, cached_input=1.25).cached_input
        1.25
    """

    input: UsdPerMillion
    output: UsdPerMillion
    as_of: DateText = ""
    source: str = ""
    estimated: bool = False
    cached_input: UsdPerMillion | None = None
    cache_write: UsdPerMillion | None = None


@dataclass(frozen=True, config=_Config)
class LatencyProfile:
    """Log-normal time to first token (seconds) and output token rate (tokens per second).

    ``latency = ttft + output_tokens / tokens_per_second``; both factors are log-normal around their
    medians (``ttft_p50`` > 0 s, ``tps_p50`` > 0 tokens/s) with the given log-sd (>= 0). ``basis``
    names the measurements behind it (or ``estimate``).
    """

    ttft_p50: Positive
    ttft_sigma: NonNegative
    tps_p50: Positive
    tps_sigma: NonNegative
    basis: str = "estimate"
    estimated: bool = True

    def expected(self, output_tokens: float | np.ndarray) -> float | np.ndarray:
        """Median-based latency in seconds for a given number of output tokens."""
        return self.ttft_p50 + np.asarray(output_tokens, dtype=float) / self.tps_p50

    def sample(self, output_tokens: np.ndarray | float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw (ttft, total latency) arrays, one per element of ``output_tokens``."""
        out = np.asarray(output_tokens, dtype=float)
        ttft = self.ttft_p50 * np.exp(self.ttft_sigma * rng.standard_normal(out.shape))
        tps = self.tps_p50 * np.exp(self.tps_sigma * rng.standard_normal(out.shape))
        return ttft, ttft + out / tps


@dataclass(frozen=True, config=_Config)
class ModelSpec:
    """One model as a provider serves it: ``context_window`` and ``max_output`` in tokens, prices in
    USD per million tokens, capability scores 0-10, a latency profile, and its retirement date."""

    name: str
    provider: Annotated[str, Field(min_length=1)]
    api_name: str
    context_window: TokenCount
    max_output: TokenCount
    price: Price
    capabilities: Scores
    latency: LatencyProfile
    aliases: tuple[str, ...] = ()
    deprecated: IsoDate = None
    replacement: str | None = None

    def cost(self, input_tokens: Any, output_tokens: Any, *, cached_tokens: Any = 0,
             cache_write_tokens: Any = 0) -> Any:
        """USD for the given token counts (scalars or numpy arrays).

        ``cached_tokens`` (read from the prompt cache) and ``cache_write_tokens`` (written to it) are
        counted *inside* ``input_tokens`` (OpenAI's convention; Anthropic reports them apart, so add
        them in first): they are charged at ``price.cached_input`` / ``price.cache_write`` where
        published, else at the input price.

        Example::

            >>> Catalog.default()["gpt-4o"].cost(1_000, 500)
            0.0075
        """
        p = self.price
        if all(type(x) in (int, float) for x in (input_tokens, output_tokens, cached_tokens, cache_write_tokens)):
            # one call (the Gateway prices every answer): plain floats, the same IEEE operations in the
            # same order as the array path below, ~30x quicker than going through numpy
            cin = p.input if p.cached_input is None else p.cached_input
            cw = p.input if p.cache_write is None else p.cache_write
            return ((float(input_tokens) - float(cached_tokens) - float(cache_write_tokens)) * p.input
                    + float(cached_tokens) * cin + float(cache_write_tokens) * cw
                    + float(output_tokens) * p.output) / 1e6
        n_in = np.asarray(input_tokens, dtype=float)
        cached = np.asarray(cached_tokens, dtype=float)
        written = np.asarray(cache_write_tokens, dtype=float)
        value = ((n_in - cached - written) * p.input
                 + cached * (p.input if p.cached_input is None else p.cached_input)
                 + written * (p.input if p.cache_write is None else p.cache_write)
                 + np.asarray(output_tokens, dtype=float) * p.output) / 1e6
        return float(value) if np.ndim(value) == 0 else value

    def score(self, capability: str | Capability) -> float:
        return float(self.capabilities.get(Capability(capability).value, 0))

    def is_deprecated(self, today: _dt.date | None = None) -> bool:
        if not self.deprecated:
            return False
        return _dt.date.fromisoformat(self.deprecated) <= (today or _dt.date.today())


class _Entry(BaseModel):
    """One model in a catalog file: :class:`ModelSpec`'s fields, the window under the key ``context``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    provider: Annotated[str, Field(min_length=1), AfterValidator(known_provider)]  # the gateway config's rule
    api_name: str | None = None
    aliases: tuple[str, ...] = ()
    context: TokenCount
    max_output: TokenCount = 4096
    price: Price
    capabilities: Scores
    latency: LatencyProfile
    deprecated: IsoDate = None
    replacement: str | None = None

    def spec(self, name: str) -> ModelSpec:
        return ModelSpec(name=name, provider=self.provider, api_name=self.api_name or name,
                         context_window=self.context, max_output=self.max_output, price=self.price,
                         capabilities=self.capabilities, latency=self.latency, aliases=self.aliases,
                         deprecated=self.deprecated, replacement=self.replacement)


class _File(BaseModel):
    """A catalog file: ``version`` and a non-empty ``models`` mapping of name -> entry."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    models: Annotated[dict[str, _Entry], Field(min_length=1)]


def _env_key(name: str) -> str:
    return "ROUTERLAB_MODEL_" + re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


@dataclasses.dataclass(frozen=True)
class Catalog:
    """An immutable set of ModelSpecs looked up by name or alias.

    ``catalog[name]`` resolves aliases and environment overrides and raises
    :class:`~routerlab.errors.UnknownModelError` with the closest names when nothing matches.
    """

    models: Mapping[str, ModelSpec]
    source: str = "<memory>"
    _alias: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        alias: dict[str, str] = {}
        for spec in self.models.values():
            for a in (spec.name, spec.api_name, *spec.aliases):
                alias.setdefault(a, spec.name)
                alias.setdefault(a.lower(), spec.name)
        object.__setattr__(self, "_alias", alias)

    # construction -----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<memory>") -> Catalog:
        """A catalog from parsed file data (``{"models": {name: fields}}``); ``source`` names the file
        in error messages. Raises :class:`ConfigError` naming each bad field's path."""
        if not isinstance(data, Mapping) or not isinstance(data.get("models"), Mapping) or not data["models"]:
            raise ConfigError(f"{source}: a catalog needs a top-level 'models:' mapping of name -> fields")
        parsed = validate(_File, data, source=source)
        return cls({str(n): e.spec(str(n)) for n, e in parsed.models.items()}, source)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Catalog:
        """Load a catalog from a YAML (or JSON) file in the packaged format."""
        p = Path(path)
        try:
            data = load_yaml(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read catalog {p}: {exc}") from None
        return cls.from_dict(data, str(p))

    @classmethod
    def default(cls) -> Catalog:
        """The packaged catalog (cached)."""
        global _DEFAULT
        if _DEFAULT is None:
            text = resources.files("routerlab").joinpath("data/catalog.yaml").read_text(encoding="utf-8")
            _DEFAULT = cls.from_dict(load_yaml(text), "routerlab/data/catalog.yaml")
        return _DEFAULT

    def merge(self, other: Catalog) -> Catalog:
        """A catalog with ``other``'s entries added (and replacing same-named ones)."""
        return Catalog({**self.models, **other.models}, f"{self.source}+{other.source}")

    def subset(self, names: Iterable[str]) -> Catalog:
        return Catalog({(s := self[n]).name: s for n in names}, self.source)

    # lookup ----------------------------------------------------------------------------------
    def canonical(self, name: str, *, strict: bool = True) -> str:
        """The catalog name for ``name`` (an alias, an API name, or any letter case).

        Unknown names raise :class:`UnknownModelError` with the closest names; with ``strict=False``
        they are returned unchanged (data may hold models the catalog does not know).
        """
        found = self._alias.get(name) or self._alias.get(name.lower())
        if found is None:
            if not strict:
                return name
            close = difflib.get_close_matches(name.lower(), sorted(set(self._alias)), n=4, cutoff=0.5)
            close = list(dict.fromkeys(self._alias[c] for c in close))
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise UnknownModelError(
                f"unknown model {name!r} in catalog {self.source}.{hint} "
                f"Known models: {', '.join(self.models)}. Add it with Catalog.from_file(...) and catalog.merge(...)."
            )
        return found

    def require(self, model: str, field: str, purpose: str) -> ModelSpec:
        """The spec of ``model`` for a feature that needs its catalog ``field`` (``price``, ``latency``,
        ``capabilities``, ``context``); a model the catalog lacks raises :class:`UnknownModelError`
        naming the model, the field and the feature.

        Example::

            >>> Catalog.default().require("acme-1", "latency", "simulated latency")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            routerlab.errors.UnknownModelError: simulated latency needs the catalog field 'latency' of model 'acme-1', ...
        """
        if model in self:
            return self[model]
        raise UnknownModelError(
            f"{purpose} needs the catalog field {field!r} of model {model!r}, which catalog {self.source} does "
            f"not know: add the model (Catalog.from_file(path) and catalog.merge(...), then pass catalog=) "
            f"or leave {purpose} out", model=model, field=field)

    def __getitem__(self, name: str) -> ModelSpec:
        spec = self.models[self.canonical(name)]
        override = os.environ.get(_env_key(spec.name))
        if override:
            if override in self._alias or override.lower() in self._alias:
                target = self.models[self._alias.get(override) or self._alias[override.lower()]]
                if target.name != spec.name:
                    return target
            else:
                return dataclasses.replace(spec, api_name=override)
        return spec

    def get(self, name: str, *, warn_deprecated: bool = True) -> ModelSpec:
        """Like ``catalog[name]``, and warns once if the model is past its retirement date."""
        spec = self[name]
        if warn_deprecated and spec.is_deprecated():
            warnings.warn(
                f"model {spec.name!r} ({spec.api_name}) was retired by {spec.provider} on {spec.deprecated}; "
                f"move to {spec.replacement or 'a current model'!r} (set {_env_key(spec.name)} to redirect it "
                "without changing code)",
                ModelDeprecationWarning,
                stacklevel=2,
            )
        return spec

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._alias or name.lower() in self._alias)

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)

    @property
    def names(self) -> list[str]:
        return list(self.models)

    # vectorised views -------------------------------------------------------------------------
    def to_frame(self) -> Any:
        """One row per model: provider, prices, context, capabilities, latency medians."""
        import pandas as pd

        rows = []
        for s in self:
            rows.append({
                "model": s.name, "provider": s.provider, "api_name": s.api_name,
                "input_per_m": s.price.input, "output_per_m": s.price.output,
                "price_estimated": s.price.estimated, "context_window": s.context_window, "max_output": s.max_output,
                **{c: s.score(c) for c in CAPABILITIES},
                "ttft_p50": s.latency.ttft_p50, "tps_p50": s.latency.tps_p50,
                "latency_estimated": s.latency.estimated, "deprecated": s.deprecated,
            })
        return pd.DataFrame(rows).set_index("model")

    def __repr__(self) -> str:
        """One line: ``Catalog: 11 models, 5 providers (anthropic, gemini, ...), prices as of 2024-02-26..2024-08-06``."""
        providers = sorted({s.provider for s in self})
        dates = sorted(str(s.price.as_of) for s in self if getattr(s.price, "as_of", None))
        when = f", prices as of {dates[0]}..{dates[-1]}" if dates else ""
        return (f"Catalog: {len(self)} models, {len(providers)} providers ({', '.join(providers)}){when}; "
                f"source {self.source}")

    def _repr_html_(self) -> str:
        """The one line, then one row per model: provider, list prices (USD per million tokens), context."""
        from html import escape

        table = self.to_frame()[["provider", "input_per_m", "output_per_m", "context_window", "max_output",
                                 "deprecated"]]
        return (f"<div><b>{escape(repr(self))}</b>"
                + table.to_html(float_format=lambda v: f"{v:,.2f}", na_rep="—", border=0) + "</div>")


_DEFAULT: Catalog | None = None
