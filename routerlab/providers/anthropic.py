"""Anthropic Messages over ``anthropic.AsyncAnthropic``.

System messages go to the ``system`` parameter (a request made of a system prompt alone sends it as the
user turn); stop reasons are normalised (``end_turn`` → ``stop``, ``max_tokens`` → ``length``,
``tool_use`` → ``tool_calls``); usage counts the prompt-cache reads and writes inside ``input_tokens``.

Example::

    >>> from routerlab.providers.anthropic import AnthropicProvider
    >>> p = AnthropicProvider(base_url="http://127.0.0.1:8000/d/P2", deployment="P2")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..catalog import ModelSpec
from ..errors import InvalidRequest, MalformedResponse
from ..types import Request
from .base import BaseProvider, _StreamState, cache_fields, usage_field

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
        system, turns = self._turns(request)
        params: dict[str, Any] = {
            "model": spec.api_name,
            "max_tokens": self._max_tokens(request, spec),
            "messages": turns,
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

    def _turns(self, request: Request) -> tuple[str, list[dict[str, str]]]:
        """The system prompt and the user/assistant turns, in the shape the Messages API accepts.

        A request whose only message is a system prompt sends that text as the user turn (the API rejects
        an empty ``messages``); a role the API does not take, or a first turn that is not the user's, is the
        caller's error (InvalidRequest), found before anything is sent.
        """
        for i, m in enumerate(request.messages):
            if m.role not in ("system", "user", "assistant"):
                raise InvalidRequest(self._client_error(
                    f"messages[{i}].role: {m.role!r}; Anthropic's Messages API takes user and assistant turns "
                    "and a system prompt"), deployment=self.deployment)
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        turns = [m.to_dict() for m in request.messages if m.role != "system"]
        if not turns:
            return "", [{"role": "user", "content": system}]
        if turns[0]["role"] != "user":
            raise InvalidRequest(self._client_error(
                "the first turn is the assistant's; Anthropic's Messages API needs the user's first "
                "(start the conversation with a user message)"), deployment=self.deployment)
        return system, turns

    def _read_usage(self, state: _StreamState, usage: Any) -> None:
        """Usage as the Messages API reports it: its ``input_tokens`` exclude the tokens read from or written
        to the prompt cache, which count inside routerlab's ``input_tokens``."""
        if usage is None:
            return
        read, written = cache_fields(usage)
        fresh, out = usage_field(usage, "input_tokens"), usage_field(usage, "output_tokens")
        if read or written or fresh is not None:
            state.cached_tokens, state.cache_write_tokens = read, written
        if fresh is not None:
            state.input_tokens = int(fresh) + read + written
        if out is not None:
            state.output_tokens = int(out)

    async def _complete(self, request: Request, spec: ModelSpec, timeout: float,
                        state: _StreamState) -> tuple[str, str | None]:
        resp = await self._post("/v1/messages", state.params, timeout)
        state.received = True
        content = resp.get("content") if isinstance(resp, Mapping) else None
        if not isinstance(content, list):
            raise MalformedResponse(f"anthropic reply has no content list: {str(resp)[:200]!r}",
                                    deployment=self.deployment)
        text = "".join(b.get("text") or "" for b in content if b.get("type") == "text")
        self._read_usage(state, resp.get("usage"))
        return text, resp.get("stop_reason")

    async def _stream(self, request: Request, spec: ModelSpec, timeout: float,
                      state: _StreamState) -> AsyncIterator[str]:
        stream = await self._client().messages.create(**state.params, timeout=timeout)
        state.received = True
        try:
            async for event in stream:
                kind = getattr(event, "type", None)
                if kind == "message_start":
                    self._read_usage(state, event.message.usage)
                elif kind == "content_block_delta":
                    text = getattr(event.delta, "text", None)
                    if text:
                        yield text
                elif kind == "message_delta":
                    if event.delta.stop_reason:
                        state.finish = event.delta.stop_reason
                    self._read_usage(state, getattr(event, "usage", None))
                elif kind is None:
                    raise MalformedResponse("anthropic stream event without a type", deployment=self.deployment)
        finally:
            await stream.close()
