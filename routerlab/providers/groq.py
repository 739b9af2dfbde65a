"""Groq over ``groq.AsyncGroq`` (OpenAI's wire format under ``/openai/v1``; usage also in ``x_groq``).

Example::

    >>> from routerlab.providers.groq import GroqProvider
    >>> p = GroqProvider(base_url="http://127.0.0.1:8000/d/P1", deployment="P1")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .openai import OpenAIProvider

__all__ = ["GroqProvider"]


class GroqProvider(OpenAIProvider):
    """Chat Completions through the official ``groq`` SDK (key in ``GROQ_API_KEY``, ``max_retries=0``).

    The groq SDK has no ``stream_options`` argument, so ``include_usage`` travels in ``extra_body``.

    Example::

        >>> p = GroqProvider(deployment="groq-1")  # doctest: +SKIP
    """

    name = "groq"
    package = "groq"
    default_key_env = "GROQ_API_KEY"
    client_class = "AsyncGroq"
    completions_path = "/openai/v1/chat/completions"

    def _stream_params(self) -> dict[str, Any]:
        return {"stream": True, "extra_body": {"stream_options": {"include_usage": True}}}
