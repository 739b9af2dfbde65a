"""Anthropic Messages over ``anthropic.AsyncAnthropic``.

System messages go to the ``system`` parameter; stop reasons are normalised (``end_turn`` → ``stop``,
``max_tokens`` → ``length``, ``tool_use`` → ``tool_calls``).

Example::

    >>> from routerlab.providers.anthropic import AnthropicProvider
    >>> p = AnthropicProvider(base_url="http://127.0.0.1:8000/d/P2", deployment="P2")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from ..catalog import ModelSpec
from ..errors import MalformedResponse
from ..types import Request
from .base import BaseProvider, _StreamState

__all__ = ["AnthropicProvider"]


class AnthropicProvider(BaseProvider):
    """Messages through the official ``anthropic`` SDK (key in ``ANTHROPIC_API_KEY``, ``max_retries=0``).

    Example::

        >>> p = AnthropicProvider(deployment="claude-east", timeout=30)  # doctest: +SKIP
    """

    name = "anthropic"
    package = "anthropic"
    default_key_env = "ANTHROPIC_API_KEY"

    def _new_client(self) -> Any:
        client = self._sdk.AsyncAnthropic(api_key=self._secret.reveal(), base_url=self.base_url,
                                          max_retries=0, timeout=self.timeout)
        client.messages  # the SDK imports resources lazily: pay that now, not inside a deadline
        return client

    def _accepted(self) -> frozenset[str]:
        """Keyword arguments this SDK release's ``messages.create`` takes (2.x dropped sampling ones)."""
        if self._create_params is None:
            import inspect

            sig = inspect.signature(self._sdk.resources.messages.AsyncMessages.create)
            self._create_params = frozenset(sig.parameters)
        return self._create_params

    _create_params: frozenset[str] | None = None

    def _params(self, request: Request, spec: ModelSpec) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        params: dict[str, Any] = {
            "model": spec.api_name,
            "max_tokens": self._max_tokens(request, spec),
            "messages": [m.to_dict() for m in request.messages if m.role != "system"],
            "temperature": request.temperature,
        }
        if system:
            params["system"] = system
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if request.stop:
            params["stop_sequences"] = list(request.stop)
        if request.tools:
            params["tools"] = json.loads(request.tools)
        accepted = self._accepted()
        extra = {k: params.pop(k) for k in list(params) if k not in accepted}
        if extra:  # sampling parameters the SDK no longer types still reach the API
            params["extra_body"] = extra
        return params

    async def _complete(self, request: Request, spec: ModelSpec, timeout: float) -> tuple[str, int, int, str | None]:
        resp = await self._client().messages.create(**self._params(request, spec), timeout=timeout)
        content = getattr(resp, "content", None)
        if isinstance(resp, (str, bytes)) or not isinstance(content, list):
            raise MalformedResponse(f"anthropic reply has no content list: {str(resp)[:200]!r}",
                                    deployment=self.deployment)
        text = "".join(getattr(b, "text", "") or "" for b in content if getattr(b, "type", None) == "text")
        usage = resp.usage
        return text, int(usage.input_tokens), int(usage.output_tokens), resp.stop_reason

    async def _stream(self, request: Request, spec: ModelSpec, timeout: float,
                      state: _StreamState) -> AsyncIterator[str]:
        stream = await self._client().messages.create(**self._params(request, spec), stream=True, timeout=timeout)
        try:
            async for event in stream:
                kind = getattr(event, "type", None)
                if kind == "message_start":
                    usage = event.message.usage
                    state.input_tokens = int(usage.input_tokens)
                    state.output_tokens = int(getattr(usage, "output_tokens", 0) or 0)
                elif kind == "content_block_delta":
                    text = getattr(event.delta, "text", None)
                    if text:
                        yield text
                elif kind == "message_delta":
                    if event.delta.stop_reason:
                        state.finish = event.delta.stop_reason
                    out = getattr(getattr(event, "usage", None), "output_tokens", None)
                    if out is not None:
                        state.output_tokens = int(out)
                elif kind is None:
                    raise MalformedResponse("anthropic stream event without a type", deployment=self.deployment)
        finally:
            await stream.close()
