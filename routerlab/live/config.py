"""The Gateway's configuration: deployments, fallback chains, retries, breakers, budgets, caches.

Loaded from a dict or a YAML/JSON file and validated up front; every error names the offending field
(``models.gpt-4o-mini.deployments[1].rpm: must be a positive number``). Keys never appear here: a
deployment names the environment variable that holds its key (``api_key_env``).

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .balancer import STRATEGIES, BreakerConfig
from ..errors import ConfigError

__all__ = ["Deployment", "RetryPolicy", "BudgetPolicy", "CacheSettings", "GatewayConfig"]


def _num(where: str, value: Any, *, positive: bool = True, allow_none: bool = True, integer: bool = False) -> Any:
    if value is None:
        if allow_none:
            return None
        raise ConfigError(f"{where}: is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: must be a number, got {value!r}")
    if integer and int(value) != value:
        raise ConfigError(f"{where}: must be a whole number, got {value!r}")
    if positive and not value > 0:
        raise ConfigError(f"{where}: must be a positive number, got {value!r}")
    if not positive and value < 0:
        raise ConfigError(f"{where}: must not be negative, got {value!r}")
    return int(value) if integer else float(value)


def _check_keys(where: str, raw: Mapping[str, Any], known: Sequence[str]) -> None:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping, got {type(raw).__name__}")
    unknown = sorted(set(map(str, raw)) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; known fields: {sorted(known)}")


@dataclass(frozen=True)
class Deployment:
    """One model served by one provider with one key: the unit the balancer picks and breaks.

    ``model`` is what the provider serves (a catalog name, alias or API name); ``api_key_env`` names the
    environment variable with the key (the key itself is never stored); ``timeout`` is the per-attempt
    deadline (default: the gateway's ``retry.timeout``); ``rpm``/``tpm`` are request and token rate
    limits per minute; ``max_concurrency`` caps calls in flight.

    Example::

        >>> Deployment("P1", "openai", "gpt-4o-mini", base_url="http://127.0.0.1:8000/v1", rpm=600).weight
        1.0
    """

    name: str
    provider_kind: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    weight: float = 1.0
    rpm: float | None = None
    tpm: float | None = None
    max_concurrency: int | None = None
    timeout: float | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "deployment") -> Deployment:
        known = [f.name for f in fields(cls)] + ["provider"]
        if isinstance(raw, Mapping) and any(str(k).lower() in ("api_key", "key", "secret", "token") for k in raw):
            raise ConfigError(f"{where}: never put a key in the config; name its environment variable "
                              "with api_key_env")
        _check_keys(where, raw, known)
        data = dict(raw)
        if "provider" in data:
            if "provider_kind" in data:
                raise ConfigError(f"{where}: give either 'provider' or 'provider_kind', not both")
            data["provider_kind"] = data.pop("provider")
        for key in ("name", "provider_kind", "model"):
            if not isinstance(data.get(key), str) or not data[key]:
                label = "provider" if key == "provider_kind" else key
                raise ConfigError(f"{where}.{label}: is required (a non-empty string)")
        for key in ("base_url", "api_key_env"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ConfigError(f"{where}.{key}: must be a string")
        data["weight"] = _num(f"{where}.weight", data.get("weight", 1.0), allow_none=False)
        data["rpm"] = _num(f"{where}.rpm", data.get("rpm"))
        data["tpm"] = _num(f"{where}.tpm", data.get("tpm"))
        data["max_concurrency"] = _num(f"{where}.max_concurrency", data.get("max_concurrency"), integer=True)
        data["timeout"] = _num(f"{where}.timeout", data.get("timeout"))
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class RetryPolicy:
    """One retry loop for the whole request.

    ``attempts`` is the retry budget: the most upstream calls one request may make, across deployments
    and fallback models. Backoff before a retry is full-jitter ``U(0, min(backoff_cap, backoff_base·2^n))``.
    ``timeout`` is the default per-attempt deadline. With ``wait_for_available`` a request that finds
    nothing available waits (at most ``max_wait`` seconds) for the earliest deployment to return instead
    of failing fast with :class:`~routerlab.errors.Unavailable`; ``max_wait`` also bounds waits for the
    local rate limits.

    Example::

        >>> RetryPolicy(attempts=3, timeout=2.0).backoff_cap
        8.0
    """

    attempts: int = 3
    timeout: float = 60.0
    backoff_base: float = 0.25
    backoff_cap: float = 8.0
    wait_for_available: bool = False
    max_wait: float = 60.0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "retry") -> RetryPolicy:
        _check_keys(where, raw, [f.name for f in fields(cls)])
        d = dict(raw)
        out: dict[str, Any] = {}
        if "attempts" in d:
            out["attempts"] = _num(f"{where}.attempts", d["attempts"], allow_none=False, integer=True)
        for key in ("timeout", "max_wait"):
            if key in d:
                out[key] = _num(f"{where}.{key}", d[key], allow_none=False)
        for key in ("backoff_base", "backoff_cap"):
            if key in d:
                out[key] = _num(f"{where}.{key}", d[key], positive=False, allow_none=False)
        if "wait_for_available" in d:
            if not isinstance(d["wait_for_available"], bool):
                raise ConfigError(f"{where}.wait_for_available: must be true or false")
            out["wait_for_available"] = d["wait_for_available"]
        return cls(**out)


@dataclass(frozen=True)
class BudgetPolicy:
    """Spend caps in USD: overall, per model, per provider kind.

    When a cap is reached, ``on_exceeded="fallback"`` moves traffic to the next model of the chain
    that is still within budget; ``"refuse"`` raises :class:`~routerlab.gateway.BudgetExceeded`.
    A cap is checked before each call: calls already in flight when it is crossed still finish.

    Example::

        >>> BudgetPolicy(total=10.0).on_exceeded
        'fallback'
    """

    total: float | None = None
    per_model: Mapping[str, float] = field(default_factory=dict)
    per_provider: Mapping[str, float] = field(default_factory=dict)
    on_exceeded: str = "fallback"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "budgets") -> BudgetPolicy:
        _check_keys(where, raw, [f.name for f in fields(cls)])
        total = _num(f"{where}.total", raw.get("total"), positive=False)
        caps: dict[str, dict[str, float]] = {}
        for key in ("per_model", "per_provider"):
            value = raw.get(key) or {}
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.{key}: must be a mapping of name -> USD")
            caps[key] = {str(k): _num(f"{where}.{key}.{k}", v, positive=False, allow_none=False)
                         for k, v in value.items()}
        mode = raw.get("on_exceeded", "fallback")
        if mode not in ("fallback", "refuse"):
            raise ConfigError(f"{where}.on_exceeded: {mode!r} is not 'fallback' or 'refuse'")
        return cls(total=total, per_model=caps["per_model"], per_provider=caps["per_provider"], on_exceeded=mode)


@dataclass(frozen=True)
class CacheSettings:
    """Response caches: ``directory`` turns on the exact disk cache; ``semantic`` the semantic one.

    Example::

        >>> CacheSettings(directory=".cache", semantic=True, threshold=0.9).cross_model
        False
    """

    directory: str | None = None
    semantic: bool = False
    threshold: float = 0.92
    cross_model: bool = False

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "cache", base: Path | None = None) -> CacheSettings:
        _check_keys(where, raw, ["directory", "semantic"])
        directory = raw.get("directory")
        if directory is not None:
            if not isinstance(directory, str) or not directory:
                raise ConfigError(f"{where}.directory: must be a path string")
            if base is not None and not os.path.isabs(directory):
                directory = str(base / directory)
        sem = raw.get("semantic", False)
        threshold, cross = 0.92, False
        if isinstance(sem, Mapping):
            _check_keys(f"{where}.semantic", sem, ["threshold", "cross_model"])
            threshold = _num(f"{where}.semantic.threshold", sem.get("threshold", 0.92), allow_none=False)
            if not threshold <= 1:
                raise ConfigError(f"{where}.semantic.threshold: a cosine similarity, at most 1")
            cross = bool(sem.get("cross_model", False))
            sem = True
        elif not isinstance(sem, bool):
            raise ConfigError(f"{where}.semantic: true, false, or a mapping with threshold / cross_model")
        return cls(directory=directory, semantic=sem, threshold=threshold, cross_model=cross)


@dataclass(frozen=True)
class GatewayConfig:
    """Everything a :class:`~routerlab.gateway.Gateway` needs, validated.

    ``models`` maps a model name (what callers ask for) to its deployments; ``fallbacks`` maps a model
    to the ordered models to try when it cannot answer; ``context_fallbacks`` to the models to try when
    a prompt is too long for it (default: configured models with a larger context window, smallest
    first); ``context_windows`` overrides the catalog's window sizes; ``catalog`` is an extra catalog
    file merged into the packaged one.
    """

    models: Mapping[str, tuple[Deployment, ...]]
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    context_fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    context_windows: Mapping[str, int] = field(default_factory=dict)
    strategy: str = "weighted"
    seed: int = 0
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    budgets: BudgetPolicy = field(default_factory=BudgetPolicy)
    cache: CacheSettings = field(default_factory=CacheSettings)
    catalog: str | None = None
    source: str = "<dict>"

    TOP_LEVEL = ("models", "fallbacks", "context_fallbacks", "context_windows", "strategy", "seed", "breaker",
                 "retry", "budgets", "cache", "catalog")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "<dict>", base: Path | None = None) -> GatewayConfig:
        """Validate a config mapping (``source`` and ``base`` say where it came from, for messages and paths)."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{source}: a gateway config must be a mapping with a 'models:' section")
        try:
            return cls._parse(raw, source, base)
        except ConfigError as exc:
            msg = str(exc)
            raise ConfigError(msg if msg.startswith(source) else f"{source}: {msg}") from None

    @classmethod
    def _parse(cls, raw: Mapping[str, Any], source: str, base: Path | None) -> GatewayConfig:
        _check_keys("config", raw, cls.TOP_LEVEL)
        models_raw = raw.get("models")
        if not isinstance(models_raw, Mapping) or not models_raw:
            raise ConfigError("models: is required: a mapping of model name -> {deployments: [...]}")
        models: dict[str, tuple[Deployment, ...]] = {}
        seen: dict[str, str] = {}
        for mname, mraw in models_raw.items():
            where = f"models.{mname}"
            if isinstance(mraw, Sequence) and not isinstance(mraw, str):
                mraw = {"deployments": mraw}
            _check_keys(where, mraw, ["deployments", "context_window"])
            deps_raw = mraw.get("deployments")
            if not isinstance(deps_raw, Sequence) or isinstance(deps_raw, str) or not deps_raw:
                raise ConfigError(f"{where}.deployments: is required: a non-empty list")
            deps = tuple(Deployment.from_dict(d, f"{where}.deployments[{i}]") for i, d in enumerate(deps_raw))
            for i, d in enumerate(deps):
                if d.name in seen:
                    raise ConfigError(f"{where}.deployments[{i}].name: {d.name!r} is already used by {seen[d.name]}; "
                                      "deployment names must be unique")
                seen[d.name] = where
            models[str(mname)] = deps
        windows: dict[str, int] = {}
        for mname, mraw in models_raw.items():
            if isinstance(mraw, Mapping) and mraw.get("context_window") is not None:
                windows[str(mname)] = _num(f"models.{mname}.context_window", mraw["context_window"], integer=True)
        for mname, value in (raw.get("context_windows") or {}).items():
            windows[str(mname)] = _num(f"context_windows.{mname}", value, integer=True)

        def chains(key: str) -> dict[str, tuple[str, ...]]:
            value = raw.get(key) or {}
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key}: must be a mapping of model -> list of models")
            out: dict[str, tuple[str, ...]] = {}
            for m, chain in value.items():
                if m not in models:
                    raise ConfigError(f"{key}.{m}: {m!r} is not a configured model; configured: {', '.join(models)}")
                if isinstance(chain, str):
                    chain = [chain]
                if not isinstance(chain, Sequence):
                    raise ConfigError(f"{key}.{m}: must be a list of model names")
                for i, target in enumerate(chain):
                    if target not in models:
                        raise ConfigError(f"{key}.{m}[{i}]: {target!r} is not a configured model; "
                                          f"configured: {', '.join(models)}")
                    if target == m:
                        raise ConfigError(f"{key}.{m}[{i}]: a model cannot fall back to itself")
                out[str(m)] = tuple(str(t) for t in chain)
            return out

        strategy = raw.get("strategy", "weighted")
        if strategy not in STRATEGIES:
            raise ConfigError(f"strategy: {strategy!r} is not one of {', '.join(STRATEGIES)}")
        seed = raw.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"seed: must be an integer, got {seed!r}")
        breaker_raw = raw.get("breaker") or {}
        _check_keys("breaker", breaker_raw, [f.name for f in fields(BreakerConfig)])
        for k, v in breaker_raw.items():
            if k != "slow_call_duration" or v is not None:
                _num(f"breaker.{k}", v, positive=k not in ("failure_rate", "slow_call_rate"), allow_none=False)
        try:
            breaker = BreakerConfig(**breaker_raw)
        except TypeError as exc:
            raise ConfigError(f"breaker: {exc}") from None
        catalog = raw.get("catalog")
        if catalog is not None:
            if not isinstance(catalog, str):
                raise ConfigError("catalog: must be the path of a catalog YAML file")
            if base is not None and not os.path.isabs(catalog):
                catalog = str(base / catalog)
        return cls(
            models=models, fallbacks=chains("fallbacks"), context_fallbacks=chains("context_fallbacks"),
            context_windows=windows, strategy=strategy, seed=seed, breaker=breaker,
            retry=RetryPolicy.from_dict(raw.get("retry") or {}),
            budgets=BudgetPolicy.from_dict(raw.get("budgets") or {}),
            cache=CacheSettings.from_dict(raw.get("cache") or {}, base=base),
            catalog=catalog, source=source,
        )

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
            raw = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
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
