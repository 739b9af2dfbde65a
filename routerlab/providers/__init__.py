"""Providers: one protocol, one adapter per official SDK, one factory.

``make_provider(kind, ...)`` is the only place that maps a provider kind to a class; ``kind`` is a
catalog ``provider`` value (``openai``, ``anthropic``, ``groq``, ``gemini``, ``openai-compatible``).
SDKs are imported when a provider is built, never when routerlab is imported.

::

    base       Provider protocol, BaseProvider (one client per loop, the request's wire form, usage, errors)
    classify   what an error reply means (body type, message, status → a routerlab error kind)
    compat     Compat: how a host differs (rejected parameters, max_tokens name, stream usage); unsendable()
    secret     Secret: a key held wrapped
    openai, anthropic, groq   the SDK adapters; replay: recorded outcomes

Example::

    >>> from routerlab.providers import make_provider, ProviderConfig
    >>> cfg = ProviderConfig("anthropic", base_url="http://127.0.0.1:8000/d/P2", deployment="P2")
    >>> provider = cfg.build()          # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError
from .base import (
    BaseProvider,
    Provider,
    Secret,
    StreamItem,
    cache_fields,
    collect_stream,
    error_from_status,
    normalize_finish_reason,
    parse_retry_after,
    run_sync,
)
from .classify import classify
from .compat import Compat

__all__ = [
    "Provider",
    "BaseProvider",
    "ProviderConfig",
    "make_provider",
    "provider_class",
    "provider_kinds",
    "Secret",
    "StreamItem",
    "Compat",
    "cache_fields",
    "classify",
    "collect_stream",
    "error_from_status",
    "normalize_finish_reason",
    "parse_retry_after",
    "run_sync",
]

# kind -> (module, class). The one kind -> class mapping in routerlab.
_KINDS: dict[str, tuple[str, str]] = {
    "openai": (".openai", "OpenAIProvider"),
    "gemini": (".openai", "GeminiProvider"),
    "openai-compatible": (".openai", "OpenAICompatibleProvider"),
    "anthropic": (".anthropic", "AnthropicProvider"),
    "groq": (".groq", "GroqProvider"),
}


def provider_kinds() -> list[str]:
    """The kinds ``make_provider`` accepts."""
    return list(_KINDS)


def provider_class(kind: str) -> type[BaseProvider]:
    """The adapter class for ``kind`` (imports its module; the SDK itself is imported on build)."""
    try:
        module, cls = _KINDS[kind]
    except KeyError:
        raise ConfigError(f"unknown provider kind {kind!r}; known kinds: {', '.join(_KINDS)}") from None
    return getattr(importlib.import_module(module, __name__), cls)


def make_provider(kind: str, *, base_url: str | None = None, api_key_env: str | None = None,
                  deployment: str | None = None, timeout: float = 60.0, **options: Any) -> BaseProvider:
    """Build the provider for ``kind``; the key is read now from ``api_key_env`` (default per kind).

    Example::

        >>> p = make_provider("groq", base_url="http://127.0.0.1:8000/d/P3", deployment="P3",
        ...                   timeout=2.0)  # doctest: +SKIP
    """
    return provider_class(kind)(base_url=base_url, api_key_env=api_key_env, deployment=deployment,
                                timeout=timeout, **options)


@dataclass(frozen=True)
class ProviderConfig:
    """A provider deployment as data (no key: only the name of the variable that holds it).

    Example::

        >>> cfg = ProviderConfig.from_dict({"kind": "openai", "deployment": "P1",
        ...                                 "base_url": "http://127.0.0.1:8000/d/P1/v1"})
        >>> cfg.kind, cfg.deployment
        ('openai', 'P1')
    """

    kind: str
    base_url: str | None = None
    api_key_env: str | None = None
    deployment: str | None = None
    timeout: float = 60.0
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ConfigError(f"unknown provider kind {self.kind!r}; known kinds: {', '.join(_KINDS)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProviderConfig:
        known = {"kind", "base_url", "api_key_env", "deployment", "timeout", "options"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"provider config has unknown fields {sorted(unknown)}; known: {sorted(known)}")
        if "kind" not in data:
            raise ConfigError("provider config needs a 'kind' field")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["options"] = dict(self.options)
        return d

    def build(self) -> BaseProvider:
        """The provider (reads the key from the environment now)."""
        return make_provider(self.kind, base_url=self.base_url, api_key_env=self.api_key_env,
                             deployment=self.deployment, timeout=self.timeout, **dict(self.options))
