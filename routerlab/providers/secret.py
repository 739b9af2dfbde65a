"""API keys held wrapped: read from the environment, shown to nothing but the SDK client.

Example::

    >>> Secret("sk-123", env="OPENAI_API_KEY")
    Secret(env='OPENAI_API_KEY')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Secret", "ENV_NAME", "is_env_name", "redacted"]

#: What an environment variable's name looks like (POSIX: letters, digits and ``_``, not starting with a
#: digit). ``api_key_env`` must be one: a value that is not is most likely a key pasted in its place.
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ENV_NAME = re.compile(ENV_NAME)


def is_env_name(value: object) -> bool:
    """Whether ``value`` is a valid environment variable name (never echo one that is not: it may be a key).

    Example::

        >>> is_env_name("OPENAI_API_KEY"), is_env_name("sk-proj-abc123")
        (True, False)
    """
    return isinstance(value, str) and bool(_ENV_NAME.match(value))


class Secret:
    """An API key that never shows itself: ``repr``/``str`` print the variable name, not the value.

    Example::

        >>> s = Secret("sk-123", env="OPENAI_API_KEY")
        >>> s
        Secret(env='OPENAI_API_KEY')
        >>> s.reveal()
        'sk-123'
    """

    __slots__ = ("_value", "env")

    def __init__(self, value: str, *, env: str) -> None:
        self._value = value
        self.env = env

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with the key, and any 8-character piece of it, replaced by ``***``."""
        key = self._value
        if not key or not text:
            return text
        text = text.replace(key, "***")
        for width in (16, 12, 8):  # providers echo partial keys such as "sk-abc...wxyz"
            if len(key) < width:
                continue
            for i in range(len(key) - width + 1):
                piece = key[i:i + width]
                if piece in text:
                    text = text.replace(piece, "***")
        return text

    def __repr__(self) -> str:
        return f"Secret(env={self.env!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled into a cache or a results file
        raise TypeError("a Secret cannot be pickled; build the provider again from the environment")


def redacted(body: Any, redact: Callable[[str], str]) -> Any:
    """An error body (text, or JSON-like mappings and lists) with every string passed through ``redact``
    (e.g. :meth:`Secret.redact`): bodies can echo a partial key."""
    if isinstance(body, str):
        return redact(body)
    if isinstance(body, Mapping):
        return {k: redacted(v, redact) for k, v in body.items()}
    if isinstance(body, list):
        return [redacted(v, redact) for v in body]
    return body
