"""OpenAI (and every OpenAI-compatible host: Gemini's endpoint, a local server) over ``openai.AsyncOpenAI``.

Example::

    >>> from routerlab.providers.openai import OpenAIProvider
    >>> p = OpenAIProvider(base_url="http://127.0.0.1:8000/d/P1/v1", deployment="P1")  # doctest: +SKIP
    >>> (await p.complete(Request.from_prompt("2+2?"), "gpt-4o-mini")).text            # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..catalog import ModelSpec
from ..errors import ConfigError, MalformedResponse
from ..types import Request
from .base import BaseProvider, _StreamState, cache_fields, usage_field

__all__ = ["OpenAIProvider", "GeminiProvider", "OpenAICompatibleProvider"]


class OpenAIProvider(BaseProvider):
    """Chat Completions through the official ``openai`` SDK (``max_retries=0``; our loop retries).

    ``base_url`` points it at any OpenAI-compatible host; the key comes from ``api_key_env``.

    Example::

        >>> p = OpenAIProvider(api_key_env="OPENAI_API_KEY", deployment="east")  # doctest: +SKIP
        >>> p                                                                    # doctest: +SKIP
        OpenAIProvider(deployment='east', base_url=None, api_key_env='OPENAI_API_KEY', timeout=60.0)
    """

    name = "openai"
    package = "openai"
    default_key_env = "OPENAI_API_KEY"
    client_class = "AsyncOpenAI"
    max_tokens_param = "max_tokens"
    completions_path = "/chat/completions"  # relative to the client's base_url

    def _new_client(self) -> Any:
        cls = getattr(self._sdk, self.client_class)
        client = cls(api_key=self._secret.reveal(), base_url=self.base_url, max_retries=0, timeout=self.timeout)
        client.chat.completions  # the SDK imports resources lazily: pay that now, not inside a deadline
        return client

    def _params(self, request: Request, spec: ModelSpec) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": spec.api_name,
            "messages": request.messages_as_dicts(),
            "temperature": request.temperature,
        }
        if request.max_tokens:  # unset: the host's own default, as a direct SDK call would get
            params[self.max_tokens_param] = int(request.max_tokens)
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if request.stop:
            params["stop"] = list(request.stop)
        if request.seed is not None:
            params["seed"] = request.seed
        if request.tools:
            params["tools"] = json.loads(request.tools)
        if request.response_format:
            params["response_format"] = json.loads(request.response_format)
        return params

    def _stream_params(self) -> dict[str, Any]:
        return {"stream": True, "stream_options": {"include_usage": True}}

    def _read_usage(self, state: _StreamState, usage: Any) -> None:
        """Usage as the Chat Completions API reports it (an object or the JSON; prompt tokens include the
        cached ones)."""
        prompt = usage_field(usage, "prompt_tokens")
        if prompt is not None:
            state.input_tokens = int(prompt)
            state.output_tokens = int(usage_field(usage, "completion_tokens") or 0)
            state.cached_tokens, state.cache_write_tokens = cache_fields(usage)

    async def _complete(self, request: Request, spec: ModelSpec, timeout: float,
                        state: _StreamState) -> tuple[str, str | None]:
        resp = await self._post(self.completions_path, state.params, timeout)
        state.received = True
        if not isinstance(resp, Mapping) or not resp.get("choices"):
            raise MalformedResponse(f"{self.name} reply has no choices: {str(resp)[:200]!r}",
                                    deployment=self.deployment)
        choice = resp["choices"][0]
        text = choice["message"].get("content") or ""
        if not isinstance(text, str):
            raise MalformedResponse(f"{self.name} reply content is not text", deployment=self.deployment)
        self._read_usage(state, resp.get("usage"))  # some compatible hosts omit it: counted locally
        return text, choice.get("finish_reason")

    async def _stream(self, request: Request, spec: ModelSpec, timeout: float,
                      state: _StreamState) -> AsyncIterator[str]:
        stream = await self._client().chat.completions.create(**state.params, timeout=timeout)
        state.received = True
        try:
            async for chunk in stream:
                usage = getattr(chunk, "usage", None)
                if usage is None:  # Groq puts usage under x_groq in its last chunk
                    usage = getattr(getattr(chunk, "x_groq", None), "usage", None)
                self._read_usage(state, usage)
                choices = getattr(chunk, "choices", None)
                if choices is None:
                    raise MalformedResponse(f"{self.name} stream chunk has no choices", deployment=self.deployment)
                for choice in choices:
                    if getattr(choice, "index", 0) != 0:
                        continue
                    delta = getattr(choice, "delta", None)
                    content = getattr(delta, "content", None) if delta is not None else None
                    if content:
                        yield content
                    if choice.finish_reason:
                        state.finish = choice.finish_reason
        finally:
            await stream.close()


class GeminiProvider(OpenAIProvider):
    """Gemini through its OpenAI-compatible endpoint (key in ``GEMINI_API_KEY``)."""

    name = "gemini"
    default_key_env = "GEMINI_API_KEY"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta/openai/"


class OpenAICompatibleProvider(OpenAIProvider):
    """Any OpenAI-compatible host (vLLM, Together, a local server): ``base_url`` is required."""

    name = "openai-compatible"
    default_key_env = "OPENAI_COMPATIBLE_API_KEY"

    def __init__(self, *, base_url: str | None = None, **kwargs: Any) -> None:
        if not base_url:
            raise ConfigError("an openai-compatible provider needs base_url=, e.g. 'http://127.0.0.1:8000/v1'")
        super().__init__(base_url=base_url, **kwargs)
