"""Shortening messages for one line without cutting a sentence, a quote or a parenthesis in half.

An error summary that ends ``pass api_key_env='`` or ``returns by itself (`` reads as garbage and hides
the fix the message was about to give. :func:`clip_sentences` keeps whole sentences (those ending
outside any open parenthesis, bracket or quote) up to ``limit`` characters; when even the first does not
fit, the whole text is kept, up to ``hard_limit``, beyond which the cut is marked with what was left out.

Example::

    >>> clip_sentences("Key 'X' is not set (see docs). Export it. Then retry.", 32)
    "Key 'X' is not set (see docs)."
"""

from __future__ import annotations

import re

__all__ = ["clip_sentences"]

_END = re.compile(r"[.!?](?=\s|$)")
_OPEN, _CLOSE = "([{", ")]}"


def _balanced(text: str) -> bool:
    """No parenthesis / bracket left open and no quote (' or ", outside words like don't) left open."""
    depth = 0
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and not (ch == "'" and i + 1 < len(text) and text[i + 1].isalnum()):
                quote = ""
        elif ch in "'\"" and not (ch == "'" and i and text[i - 1].isalnum()):
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
    return depth == 0 and not quote


def clip_sentences(text: str, limit: int = 300, hard_limit: int = 2000) -> str:
    """``text`` (whitespace-stripped) cut after its last whole sentence within ``limit`` characters.

    A sentence ends at ``.``, ``!`` or ``?`` followed by a space or the end, outside every parenthesis,
    bracket and quote. Text that fits, or whose first sentence is longer than ``limit``, is returned
    whole; only text longer than ``hard_limit`` (a server's HTML page, say) is cut at the last space
    before it and marked ``… [N more characters]``.
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = 0
    for m in _END.finditer(text, 0, limit + 1):
        if _balanced(text[:m.end()]):
            cut = m.end()
    if cut:
        return text[:cut]
    if len(text) <= hard_limit:
        return text
    head = text[:hard_limit].rsplit(" ", 1)[0]
    return f"{head} … [{len(text) - len(head):,} more characters]"
