"""The model catalog: prices, context windows, capability scores and latency profiles.

The packaged catalog (``routerlab/data/catalog.yaml``) covers every model of the bundled data. Load
your own with ``Catalog.from_file(path)`` or extend the default with ``catalog.merge(other)``.

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
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

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


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens, with when and where the price was read.

    ``cached_input`` is the price of input tokens read from the provider's prompt cache and
    ``cache_write`` of input tokens written to it (USD per million; ``None``: not published, the
    ``input`` price applies).
    """

    input: float
    output: float
    as_of: str = ""
    source: str = ""
    estimated: bool = False
    cached_input: float | None = None
    cache_write: float | None = None


@dataclass(frozen=True)
class LatencyProfile:
    """Log-normal time to first token and output token rate.

    ``latency = ttft + output_tokens / tokens_per_second``; both factors are log-normal around their
    medians with the given log-sd. ``basis`` names the measurements behind it (or ``estimate``).
    """

    ttft_p50: float
    ttft_sigma: float
    tps_p50: float
    tps_sigma: float
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


@dataclass(frozen=True)
class ModelSpec:
    """One model as a provider serves it."""

    name: str
    provider: str
    api_name: str
    context_window: int
    max_output: int
    price: Price
    capabilities: Mapping[str, float]
    latency: LatencyProfile
    aliases: tuple[str, ...] = ()
    deprecated: str | None = None
    replacement: str | None = None

    def cost(self, input_tokens: Any, output_tokens: Any, *, cached_tokens: Any = 0, cache_write_tokens: Any = 0) -> Any:
        """USD for the given token counts (scalars or numpy arrays).

        ``cached_tokens`` (read from the prompt cache) and ``cache_write_tokens`` (written to it) are
        counted inside ``input_tokens`` (OpenAI's convention) and priced at ``price.cached_input`` and
        ``price.cache_write`` (the input price where those are not published).

        Example::

            >>> Catalog.default()["gpt-4o-mini"].cost(2006, 300, cached_tokens=1920)
            0.0003369
        """
        p = self.price
        if all(isinstance(x, (int, float)) for x in (input_tokens, output_tokens, cached_tokens, cache_write_tokens)):
            total = float(input_tokens) * p.input + float(output_tokens) * p.output  # the same IEEE sums as arrays
            if cached_tokens and p.cached_input is not None:
                total += float(cached_tokens) * (p.cached_input - p.input)
            if cache_write_tokens and p.cache_write is not None:
                total += float(cache_write_tokens) * (p.cache_write - p.input)
            return total / 1e6
        value = np.asarray(input_tokens, dtype=float) * p.input + np.asarray(output_tokens, dtype=float) * p.output
        if np.any(cached_tokens) and p.cached_input is not None:
            value = value + np.asarray(cached_tokens, dtype=float) * (p.cached_input - p.input)
        if np.any(cache_write_tokens) and p.cache_write is not None:
            value = value + np.asarray(cache_write_tokens, dtype=float) * (p.cache_write - p.input)
        value = value / 1e6
        return float(value) if np.ndim(value) == 0 else value

    def score(self, capability: str | Capability) -> float:
        return float(self.capabilities.get(Capability(capability).value, 0))

    def is_deprecated(self, today: _dt.date | None = None) -> bool:
        if not self.deprecated:
            return False
        return _dt.date.fromisoformat(self.deprecated) <= (today or _dt.date.today())


def _spec_from_dict(name: str, raw: Mapping[str, Any], where: str) -> ModelSpec:
    def need(key: str) -> Any:
        if key not in raw:
            raise ConfigError(f"{where}: model {name!r} has no {key!r} field; add it (see the packaged catalog.yaml)")
        return raw[key]

    try:
        fields: dict[str, Any] = {k: (str(v) if k in ("as_of", "source") else v) for k, v in need("price").items()}
        price = Price(**fields)
        latency = LatencyProfile(**need("latency"))
    except TypeError as exc:
        raise ConfigError(f"{where}: model {name!r}: {exc}") from None
    caps = dict(need("capabilities"))
    unknown = set(caps) - set(CAPABILITIES)
    if unknown:
        raise ConfigError(f"{where}: model {name!r} has unknown capabilities {sorted(unknown)}; "
                          f"known: {list(CAPABILITIES)}")
    for cap, value in caps.items():
        if not 0 <= float(value) <= 10:
            raise ConfigError(f"{where}: model {name!r} capability {cap!r}={value} is outside 0-10")
    deprecated = raw.get("deprecated")
    return ModelSpec(
        name=name,
        provider=str(need("provider")),
        api_name=str(raw.get("api_name", name)),
        context_window=int(need("context")),
        max_output=int(raw.get("max_output", 4096)),
        price=price,
        capabilities=caps,
        latency=latency,
        aliases=tuple(str(a) for a in raw.get("aliases", ())),
        deprecated=None if deprecated is None else str(deprecated),
        replacement=raw.get("replacement"),
    )


def _env_key(name: str) -> str:
    return "ROUTERLAB_MODEL_" + re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


@dataclass(frozen=True)
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
        models = data.get("models") if isinstance(data, Mapping) else None
        if not isinstance(models, Mapping) or not models:
            raise ConfigError(f"{source}: a catalog needs a top-level 'models:' mapping of name -> fields")
        return cls({str(n): _spec_from_dict(str(n), raw, source) for n, raw in models.items()}, source)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Catalog:
        """Load a catalog from a YAML (or JSON) file in the packaged format."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read catalog {p}: {exc}") from None
        return cls.from_dict(data, str(p))

    @classmethod
    def default(cls) -> Catalog:
        """The packaged catalog (cached)."""
        global _DEFAULT
        if _DEFAULT is None:
            text = resources.files("routerlab").joinpath("data/catalog.yaml").read_text(encoding="utf-8")
            _DEFAULT = cls.from_dict(yaml.safe_load(text), "routerlab/data/catalog.yaml")
        return _DEFAULT

    def merge(self, other: Catalog) -> Catalog:
        """A catalog with ``other``'s entries added (and replacing same-named ones)."""
        return Catalog({**self.models, **other.models}, f"{self.source}+{other.source}")

    def subset(self, names: Iterable[str]) -> Catalog:
        return Catalog({(s := self[n]).name: s for n in names}, self.source)

    # lookup ----------------------------------------------------------------------------------
    def canonical(self, name: str) -> str:
        """The catalog name for ``name`` (an alias, an API name, or any letter case)."""
        found = self._alias.get(name) or self._alias.get(name.lower())
        if found is None:
            close = difflib.get_close_matches(name.lower(), sorted(set(self._alias)), n=4, cutoff=0.5)
            close = list(dict.fromkeys(self._alias[c] for c in close))
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise UnknownModelError(
                f"unknown model {name!r} in catalog {self.source}.{hint} "
                f"Known models: {', '.join(self.models)}. Add it with Catalog.from_file(...) and catalog.merge(...)."
            )
        return found

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

    def _repr_html_(self) -> str:
        return self.to_frame()._repr_html_()


_DEFAULT: Catalog | None = None
