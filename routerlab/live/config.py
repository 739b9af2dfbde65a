"""The Gateway's configuration: deployments, fallback chains, retries, breakers, budgets, caches.

Loaded from a dict or a YAML/JSON file and validated up front (pydantic models); every error is a
:class:`~routerlab.errors.ConfigError` naming the file and the field path
(``gateway.yaml: models.gpt-4o-mini.deployments[1].rpm: must be a positive number, got -5``), and an
unknown field lists the known ones. Numbers must be finite. Keys never appear here: a deployment names
the environment variable that holds its key (``api_key_env``).

Example (YAML)::

    strategy: weighted            # weighted | best | round-robin | least-latency | least-busy
    seed: 0
    retry: {attempts: 3, timeout: 2.0, backoff_base: 0.25, backoff_cap: 8.0}
    breaker: {window: 20, minimum_calls: 10, failure_rate: 0.5, open_duration: 30, half_open_probes: 3}
    models:
      gpt-4o-mini:
        deployments:
          - {name: east, provider: openai, model: gpt-4o-mini, api_key_env: OPENAI_API_KEY, rpm: 500}
          - {name: groq, provider: groq, model: llama-3.1-8b, api_key_env: GROQ_API_KEY}
      claude-3-haiku:
        deployments:
          - {name: claude, provider: anthropic, model: claude-3-haiku, api_key_env: ANTHROPIC_API_KEY}
    fallbacks: {gpt-4o-mini: [claude-3-haiku]}
    budgets: {total: 20.0, per_model: {gpt-4o-mini: 5.0}, on_exceeded: fallback}
    cache: {directory: .routerlab/cache, semantic: {threshold: 0.92}}

    >>> cfg = GatewayConfig.from_dict({"models": {"m": {"deployments": [
    ...     {"name": "P1", "provider": "openai", "model": "gpt-4o-mini"}]}}})
    >>> cfg.models["m"][0].name, cfg.retry.attempts
    ('P1', 3)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, Strict, StrictBool, StrictInt, StrictStr, field_validator, model_validator
from pydantic_core import ArgsKwargs

from .._validation import Validated, known_provider, load_yaml, validate
from ..catalog import Catalog
from ..errors import ConfigError
from ..providers.compat import Compat
from ..providers.secret import ENV_NAME
from .breaker import BreakerConfig
from .cache import DEFAULT_THRESHOLD
from .balancer import STRATEGIES

__all__ = ["Deployment", "RetryPolicy", "BudgetPolicy", "CacheSettings", "StateSettings", "GatewayConfig"]

Positive = Annotated[float, Strict(), Field(gt=0)]
NonNegative = Annotated[float, Strict(), Field(ge=0)]
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
Name = Annotated[str, Strict(), Field(min_length=1)]
_KEY_FIELDS = ("api_key", "key", "secret", "token")


class Deployment(Validated):
    """One model served by one provider with one key: the unit the balancer picks and breaks.

    ``provider`` (``provider_kind``) is a provider kind (``openai``, ``anthropic``, ``groq``, ``gemini``,
    ``openai-compatible``); ``model`` is what the provider serves (a catalog name, alias or API name);
    ``api_key_env`` names the environment variable with the key (the key itself is never stored);
    ``timeout`` is the per-attempt deadline in seconds (default: the gateway's ``retry.timeout``);
    ``rpm``/``tpm`` are request and token rate limits per minute; ``max_concurrency`` caps calls in flight;
    ``compat`` says how an OpenAI-compatible host differs (parameters it rejects, ``max_tokens`` vs
    ``max_completion_tokens``, usage options on streams: :class:`~routerlab.providers.compat.Compat`).

    Example::

        >>> Deployment("P1", "openai", "gpt-4o-mini", base_url="http://127.0.0.1:8000/v1", rpm=600).weight
        1.0
    """

    section = "deployment"
    name: Name
    provider_kind: Name = Field(alias="provider")
    model: Name
    base_url: StrictStr | None = None
    # the NAME of the variable holding the key; a value that is not a name (a pasted key) is refused unquoted
    api_key_env: Annotated[str, Strict(), Field(pattern=ENV_NAME)] | None = None
    weight: Positive = 1.0
    rpm: Positive | None = None
    tpm: Positive | None = None
    max_concurrency: PositiveInt | None = None
    timeout: Positive | None = None
    compat: Compat = Field(default_factory=Compat)

    @field_validator("provider_kind")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        return known_provider(value)  # the catalog file checks its providers by the same rule

    @model_validator(mode="before")
    @classmethod
    def _no_key_in_config(cls, data: Any) -> Any:
        keys = data.kwargs or {} if isinstance(data, ArgsKwargs) else data
        if isinstance(keys, Mapping) and any(str(k).lower() in _KEY_FIELDS for k in keys):
            raise ValueError("never put a key in the config; name its environment variable with api_key_env")
        return data


class RetryPolicy(Validated):
    """One retry loop for the whole request.

    ``attempts`` is the retry budget: the most upstream calls one request may make, across deployments
    and fallback models. Backoff before a retry is full-jitter ``U(0, min(backoff_cap, backoff_base·2^n))``
    seconds. ``timeout`` is the default per-attempt deadline in seconds. With ``wait_for_available`` a
    request that finds nothing available waits (at most ``max_wait`` seconds) for the earliest deployment
    to return instead of failing fast with :class:`~routerlab.errors.Unavailable`; ``max_wait`` also bounds
    waits for the local rate limits. ``max_cooldown`` (seconds) is the longest a provider's ``Retry-After``
    keeps a deployment out of rotation (a larger value, ``inf`` or an HTTP date far ahead is clamped to it;
    a negative or malformed one is ignored).

    Example::

        >>> RetryPolicy(attempts=3, timeout=2.0).backoff_cap
        8.0
    """

    section = "retry"
    attempts: PositiveInt = 3
    timeout: Positive = 60.0
    backoff_base: NonNegative = 0.25
    backoff_cap: NonNegative = 8.0
    wait_for_available: StrictBool = False
    max_wait: Positive = 60.0
    max_cooldown: Positive = 120.0


class BudgetPolicy(Validated):
    """Spend caps in USD: overall, per model, per provider kind.

    When a cap is reached, ``on_exceeded="fallback"`` moves traffic to the next model of the chain
    that is still within budget; ``"refuse"`` raises :class:`~routerlab.live.quota.BudgetExceeded`.
    A cap is checked before each call: calls already in flight when it is crossed still finish.

    Example::

        >>> BudgetPolicy(total=10.0).on_exceeded
        'fallback'
    """

    section = "budgets"
    total: NonNegative | None = None
    per_model: Mapping[str, NonNegative] = Field(default_factory=dict)
    per_provider: Mapping[str, NonNegative] = Field(default_factory=dict)
    on_exceeded: Literal["fallback", "refuse"] = "fallback"


class CacheSettings(Validated):
    """Response caches: ``directory`` turns on the exact disk cache; ``semantic`` the semantic one, which
    serves an answer to a prompt whose cosine similarity to a cached one is at least ``threshold``
    (default: :data:`~routerlab.live.cache.DEFAULT_THRESHOLD`, measured) and that means the same.

    Example::

        >>> CacheSettings(directory=".cache", semantic=True, threshold=0.9).cross_model
        False
    """

    section = "cache"
    directory: Name | None = None
    semantic: StrictBool = False
    threshold: Annotated[float, Strict(), Field(gt=0, le=1)] = DEFAULT_THRESHOLD
    cross_model: StrictBool = False


class StateSettings(Validated):
    """Where the Gateway keeps what it learns and counts: rate-limit windows (RPM / TPM), budget reservations
    and spend, breaker state and cooldowns, and (``cache: true``) the exact response cache.

    ``backend: memory`` (default): each Gateway process its own. ``backend: redis``: shared by every Gateway
    that names the same ``url`` and ``namespace`` (replicas behind a load balancer, Ray workers), through
    atomic Lua scripts on the Redis server's clock (needs ``pip install "routerlab[redis]"``). When Redis
    cannot be reached (``timeout`` seconds per command), the Gateway logs a warning and carries on with its
    own state, trying Redis again every ``retry_after`` seconds; a request never fails because of it.
    ``cache_ttl``: seconds a shared cached answer lives (``None``: until deleted).

    Example::

        >>> StateSettings(backend="redis", url="redis://127.0.0.1:6379/0").namespace
        'routerlab'
    """

    section = "state"
    backend: Literal["memory", "redis"] = "memory"
    url: StrictStr | None = None
    namespace: Name = "routerlab"
    cache: StrictBool = False
    cache_ttl: Positive | None = None
    timeout: Positive = 0.5
    retry_after: Positive = 5.0

    @model_validator(mode="after")
    def _url_for_redis(self) -> StateSettings:
        if self.backend == "redis" and not self.url:
            raise ValueError("backend redis needs a url, e.g. url: redis://127.0.0.1:6379/0")
        return self


# --- the file's shape ------------------------------------------------------------------------------
def _not_empty(value: Any) -> Any:
    if not value:  # an after-validator: it runs only when the items themselves are valid
        raise ValueError("must not be empty")
    return value


class _ModelEntry(Validated):
    deployments: Annotated[tuple[Deployment, ...], AfterValidator(_not_empty)]
    context_window: PositiveInt | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:  # `model: [deployments...]` is short for `{deployments: [...]}`
        return {"deployments": data} if isinstance(data, list) else data


class _Semantic(Validated):
    enabled: StrictBool = True
    threshold: Annotated[float, Strict(), Field(gt=0, le=1)] = DEFAULT_THRESHOLD
    cross_model: StrictBool = False

    @model_validator(mode="before")
    @classmethod
    def _flag(cls, data: Any) -> Any:  # `semantic: true` is short for `semantic: {}`
        return {"enabled": data} if isinstance(data, bool) else data


class _CacheFile(Validated):
    directory: Name | None = None
    semantic: _Semantic = Field(default_factory=lambda: _Semantic(enabled=False))


Chains = Mapping[str, tuple[StrictStr, ...]]


class _Sections(Validated):
    """What the file and the GatewayConfig share (the file's ``models`` and ``cache`` have their own shape)."""

    fallbacks: Chains = Field(default_factory=dict)
    context_fallbacks: Chains = Field(default_factory=dict)
    context_windows: Mapping[str, PositiveInt] = Field(default_factory=dict)
    strategy: StrictStr = "weighted"
    seed: StrictInt = 0
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    budgets: BudgetPolicy = Field(default_factory=BudgetPolicy)
    state: StateSettings = Field(default_factory=StateSettings)
    catalog: Name | None = None

    @field_validator("fallbacks", "context_fallbacks", mode="before")
    @classmethod
    def _single_names(cls, value: Any) -> Any:  # `m: other` is short for `m: [other]`
        return {k: [v] if isinstance(v, str) else v for k, v in value.items()} if isinstance(value, Mapping) else value

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value not in STRATEGIES:
            raise ValueError(f"{value!r} is not one of {', '.join(STRATEGIES)}")
        return value


class _ConfigFile(_Sections):
    models: Annotated[dict[StrictStr, _ModelEntry], AfterValidator(_not_empty)]
    cache: _CacheFile = Field(default_factory=_CacheFile)


class GatewayConfig(_Sections):
    """Everything a :class:`~routerlab.live.gateway.Gateway` needs, validated.

    ``models`` maps a model name (what callers ask for) to its deployments; ``fallbacks`` maps a model
    to the ordered models to try when it cannot answer; ``context_fallbacks`` to the models to try when
    a prompt is too long for it (default: configured models with a larger context window, smallest
    first); ``context_windows`` overrides the catalog's window sizes (tokens); ``catalog`` is an extra
    catalog file merged into the packaged one; ``source`` names where the config came from.
    """

    section = "config"
    models: Annotated[Mapping[str, tuple[Deployment, ...]], AfterValidator(_not_empty)]
    cache: CacheSettings = Field(default_factory=CacheSettings)
    source: StrictStr = "<dict>"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "<dict>", base: Path | None = None) -> GatewayConfig:
        """Validate a config mapping (``source`` and ``base`` say where it came from, for messages and paths).

        Raises :class:`~routerlab.errors.ConfigError` naming ``source`` and the field path of every problem.
        """
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{source}: a gateway config must be a mapping with a 'models:' section")
        doc = validate(_ConfigFile, raw, source=source)
        try:
            _check_names(doc)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        return cls._build(doc, source, base)

    @classmethod
    def _build(cls, doc: _ConfigFile, source: str, base: Path | None) -> GatewayConfig:
        windows = {m: e.context_window for m, e in doc.models.items() if e.context_window is not None}
        sem = doc.cache.semantic
        shared = {name: getattr(doc, name) for name in _Sections.model_fields}
        return cls(**{
            **shared, "models": {m: e.deployments for m, e in doc.models.items()},
            "context_windows": {**windows, **doc.context_windows}, "catalog": _relative(doc.catalog, base),
            "cache": CacheSettings(directory=_relative(doc.cache.directory, base), semantic=sem.enabled,
                                   threshold=sem.threshold, cross_model=sem.cross_model),
            "source": source})

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> GatewayConfig:
        """Load a YAML (or JSON) config; relative cache and catalog paths are relative to the file."""
        import yaml

        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read gateway config {p}: {exc}") from None
        try:
            raw = json.loads(text) if p.suffix == ".json" else load_yaml(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {exc}") from None
        return cls.from_dict(raw, str(p), p.parent)

    @classmethod
    def load(cls, source: str | os.PathLike[str] | Mapping[str, Any] | GatewayConfig) -> GatewayConfig:
        """A config from a file path, a mapping, or an existing config."""
        if isinstance(source, GatewayConfig):
            return source
        if isinstance(source, Mapping):
            return cls.from_dict(source)
        return cls.from_file(source)

    @property
    def deployments(self) -> list[Deployment]:
        return [d for deps in self.models.values() for d in deps]

    def where(self, deployment: str) -> str:
        """The field path of a deployment (``models.<model>.deployments[<i>]``), for messages."""
        for model, deps in self.models.items():
            for i, d in enumerate(deps):
                if d.name == deployment:
                    return f"models.{model}.deployments[{i}]"
        raise ConfigError(f"unknown deployment {deployment!r}; configured: {[d.name for d in self.deployments]}")

    def window(self, model: str, catalog: Catalog) -> int | None:
        """``model``'s context window in tokens: ``context_windows`` first, else the catalog's entry for the
        model name or one of its deployments' models; None when unknown."""
        if model in self.context_windows:
            return int(self.context_windows[model])
        for name in (model, *(d.model for d in self.models[model])):
            if name in catalog:
                return int(catalog[name].context_window)
        return None

    def larger_models(self, model: str, catalog: Catalog) -> list[str]:
        """Where a prompt too long for ``model`` goes: ``context_fallbacks[model]``, else the configured models
        with a larger known window, smallest first (config order breaks ties)."""
        if model in self.context_fallbacks:
            return list(self.context_fallbacks[model])
        own = self.window(model, catalog)
        if own is None:
            return []
        larger = [(w, i, m) for i, m in enumerate(self.models) if m != model
                  for w in [self.window(m, catalog)] if w is not None and w > own]
        return [m for _, _, m in sorted(larger)]

    def load_catalog(self) -> Catalog:
        """The packaged catalog, merged with the ``catalog:`` file when one is named."""
        catalog = Catalog.default()
        return catalog.merge(Catalog.from_file(self.catalog)) if self.catalog else catalog


def _relative(path: str | None, base: Path | None) -> str | None:
    if path is None or base is None or os.path.isabs(path):
        return path
    return str(base / path)


def _check_names(doc: _ConfigFile) -> None:
    """Names that refer to each other: unique deployment names, chains of configured models."""
    seen: dict[str, str] = {}
    for model, entry in doc.models.items():
        for i, d in enumerate(entry.deployments):
            if d.name in seen:
                raise ConfigError(f"models.{model}.deployments[{i}].name: {d.name!r} is already used by "
                                  f"{seen[d.name]}; deployment names must be unique")
            seen[d.name] = f"models.{model}"
    for key in ("fallbacks", "context_fallbacks"):
        _check_chains(key, getattr(doc, key), list(doc.models))


def _check_chains(key: str, chains: Mapping[str, tuple[str, ...]], models: list[str]) -> None:
    configured = ", ".join(models)
    for m, chain in chains.items():
        if m not in models:
            raise ConfigError(f"{key}.{m}: {m!r} is not a configured model; configured: {configured}")
        for i, target in enumerate(chain):
            if target not in models:
                raise ConfigError(f"{key}.{m}[{i}]: {target!r} is not a configured model; configured: {configured}")
            if target == m:
                raise ConfigError(f"{key}.{m}[{i}]: a model cannot fall back to itself")
