"""Batched first-match regex detection in one native pass (hyperscan), exactly as a per-prompt loop.

:class:`Scanner` answers, for many texts at once, "the lowest-index pattern that matches each text"
(case-insensitive, Python ``re`` semantics). Two layouts:

- **joined**: the ASCII texts joined by newlines, every pattern compiled multi-line. A match is kept
  when it lies inside one text; anchors and lookarounds (which may react to the joint) are confirmed
  on their own text with Python ``re``; word boundaries need no confirmation (the newline joint is a
  non-word character, as a text's ends are).
- **raw** (a pyarrow string column, e.g. a Dataset's ``prompt`` column): the column's own UTF-8 data
  buffer, scanned in place with no copy and no joint. Usable when no pattern has an assertion other
  than a leading ``^``: a match of an assertion-free pattern inside a text's byte span is a match in
  that text alone. Start-anchored patterns are left out of the scan and checked with ``re.match`` only
  on texts that no lower-index pattern decided.

In both, non-ASCII texts are decided one at a time by the exact per-prompt engine (hyperscan folds
case and matches ``\\w`` for ASCII only), and each pattern is scanned in its *existence form* (a
trailing ``X+`` becomes ``X``, a trailing optional part is dropped), which matches a text exactly when
the pattern does but reports far fewer match ends, each of which costs a Python callback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["Scanner", "existence_form"]

_ESCAPE = re.compile(r"\\.")
_CLASS = re.compile(r"\[\^?\]?[^\]]*\]")


def _has_assertion(pattern: str, *, word_boundaries: bool = True) -> bool:
    """Whether ``pattern`` has an anchor (``^ $ \\A \\Z``), a lookaround or (``word_boundaries``) a
    ``\\b``/``\\B``: what can react to a text's ends. Escapes and character classes are skipped."""
    kept = "AZbB" if word_boundaries else "AZ"
    bare = _ESCAPE.sub(lambda m: "\x00" if m.group(0)[1] in kept else "", pattern)
    bare = _CLASS.sub("", bare)
    return bool(re.search(r"[\^$\x00]|\(\?<?[=!]", bare))
_TRAILING_REPEAT = re.compile(r"(?P<atom>\\.|\[(?:\\.|[^\]\\])+\]|\((?:\\.|[^()\\])*\)|[^\\()\[\]|?*+{}])"
                              r"(?P<op>[?*+]|\{\d+,\})$")


def existence_form(pattern: str) -> str:
    """A pattern that matches somewhere in a text exactly when ``pattern`` does, with fewer match ends:
    a trailing ``X+``/``X{n,}`` becomes ``X``/``X{n}``, a trailing optional ``X?``/``X*``/``(...)?`` is
    dropped (X: one escape, class, character or group). Anything else is left as is (a pattern with a
    top-level alternation is never changed)."""
    for _ in range(8):
        if _has_top_level_bar(pattern):
            return pattern
        m = _TRAILING_REPEAT.search(pattern)
        if m is None:
            return pattern
        atom, op = m.group("atom"), m.group("op")
        head = pattern[:m.start()]
        if head.endswith("\\") or not head and op in ("?", "*"):  # an escaped "(" or "[", or nothing left
            return pattern
        pattern = head + (atom if op == "+" else atom + "{" + op[1:-2] + "}" if op.endswith(",}") else "")
    return pattern


def _has_top_level_bar(pattern: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


def _may_match_newline(pattern: str) -> bool:
    """Whether ``pattern`` might match a newline (then a match may span two joined texts)."""
    return bool(re.search(r"\\[sSWDnrvfhHV]|\\x0[aA]|\\0?12|\[\^|(?<!\\)\.|\n", pattern))


def _compile(hyperscan: Any, patterns: Sequence[str], ids: Sequence[int], flags: Sequence[int]) -> Any:
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=[p.encode("utf-8") for p in patterns], ids=list(ids), elements=len(patterns),
               flags=list(flags))
    return db


class Scanner:
    """The compiled databases for a pattern list (priority order). Raises ``ImportError`` without the
    hyperscan package and ``ValueError`` for patterns it cannot take (``hyperscan.error`` included)."""

    def __init__(self, patterns: Sequence[str]) -> None:
        import hyperscan

        if any(re.fullmatch(p, "") is not None for p in patterns):
            raise ValueError("a pattern matches the empty string")
        self.n = len(patterns)
        self.exact = [re.compile(p, re.IGNORECASE) for p in patterns]
        reduced = [existence_form(p) for p in patterns]
        self.spans = np.array([_may_match_newline(p) for p in reduced], dtype=bool)
        self.confirm = np.array([_has_assertion(p, word_boundaries=False) for p in patterns], dtype=bool)
        caseless, som = hyperscan.HS_FLAG_CASELESS, hyperscan.HS_FLAG_SOM_LEFTMOST
        try:
            self.joined = _compile(hyperscan, reduced, range(self.n),
                                   [caseless | hyperscan.HS_FLAG_MULTILINE | (som if s else 0) for s in self.spans])
        except hyperscan.error as exc:
            raise ValueError(str(exc)) from None
        self.raw = self._compile_raw(hyperscan, patterns, reduced)

    def _compile_raw(self, hyperscan: Any, patterns: Sequence[str], reduced: Sequence[str]) -> Any:
        """The raw-layout database (assertion-free patterns, start offsets reported), or None."""
        free = [i for i, p in enumerate(patterns) if not _has_assertion(p)]
        anchored = [i for i, p in enumerate(patterns)
                    if p.startswith("^") and not _has_assertion(p[1:]) and not _has_top_level_bar(p[1:])]
        if len(free) + len(anchored) < self.n or not free:
            return None
        self.anchored = [(i, re.compile(patterns[i][1:], re.IGNORECASE)) for i in anchored]
        flags = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SOM_LEFTMOST
        try:
            return _compile(hyperscan, [reduced[i] for i in free], free, [flags] * len(free))
        except hyperscan.error:
            return None

    @staticmethod
    def _scan(db: Any, data: Any) -> np.ndarray:
        found: list[int] = []
        keep = found.extend

        def hit(i: int, f: int, t: int, _flags: int, _ctx: Any) -> None:  # once per match: kept minimal
            keep((i, f, t))

        db.scan(data, match_event_handler=hit)
        return np.fromiter(found, dtype=np.int64, count=len(found)).reshape(-1, 3)

    def _best(self, hits: np.ndarray, starts: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lowest sure pattern per text, the hits' texts, which hits lie inside their text)."""
        pid = hits[:, 0]
        end_in = np.searchsorted(starts, hits[:, 2] - 1, side="right") - 1
        from_in = np.searchsorted(starts, hits[:, 1], side="right") - 1
        best = np.full(m, self.n, dtype=np.int64)
        return best, end_in, from_in == end_in

    def match_texts(self, texts: Sequence[str], fallback: Callable[[str], int]) -> np.ndarray:
        """Winning pattern index per text (-1: none), the joined layout; ``fallback`` decides one text."""
        n = len(texts)
        won = np.full(n, -1, dtype=np.int64)
        is_ascii = np.fromiter((t.isascii() for t in texts), dtype=bool, count=n)
        for i in np.flatnonzero(~is_ascii).tolist():
            won[i] = fallback(texts[i])
        at = np.flatnonzero(is_ascii)
        if not len(at):
            return won
        chosen = [texts[i] for i in at.tolist()] if len(at) < n else list(texts)
        starts = np.cumsum([0] + [len(t) + 1 for t in chosen])
        # joined as bytes: one big str join + encode allocates two large buffers, measured slower here
        hits = self._scan(self.joined, b"\n".join([t.encode("ascii") for t in chosen]))
        best, end_in, inside = self._best(hits, starts, len(chosen))
        pid = hits[:, 0]
        inside |= ~self.spans[pid]  # a pattern that cannot match a newline stays inside its text
        sure = inside & ~self.confirm[pid]
        np.minimum.at(best, end_in[sure], pid[sure])
        maybe = ~sure & (pid < best[end_in])  # confirmed only where they would beat the sure winner
        for k, i in sorted(set(zip(end_in[maybe].tolist(), pid[maybe].tolist()))):
            if i < best[k] and self.exact[i].search(chosen[k]):
                best[k] = i
        won[at] = np.where(best < self.n, best, -1)
        return won

    def match_arrow(self, column: Any, fallback: Callable[[str], int]) -> np.ndarray | None:
        """The raw layout over a pyarrow string column (or anything ``pyarrow.array`` takes without
        copying); None when it does not apply (no raw database, nulls, not a string column)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.raw is None:
            return None
        arr = column if isinstance(column, (pa.Array, pa.ChunkedArray)) else pa.array(column)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) or arr.null_count:
            return None
        n = len(arr)
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if pa.types.is_large_string(arr.type)
                                else np.int32)[arr.offset:arr.offset + n + 1].astype(np.int64)
        data = memoryview(arr.buffers()[2])[offsets[0]:offsets[-1]] if n else memoryview(b"")
        starts = offsets - offsets[0]
        is_ascii = np.asarray(pc.string_is_ascii(arr).to_numpy(zero_copy_only=False), dtype=bool)
        hits = self._scan(self.raw, data)
        best, end_in, inside = self._best(hits, starts, n)
        keep = inside & is_ascii[end_in]
        np.minimum.at(best, end_in[keep], hits[keep, 0])
        for i, pattern in self.anchored:  # anchored at the start: only texts still undecided, re.match
            for k in np.flatnonzero(is_ascii & (best > i)).tolist():
                if pattern.match(arr[k].as_py()):
                    best[k] = i
        won = np.where(best < self.n, best, -1)
        for k in np.flatnonzero(~is_ascii).tolist():
            won[k] = fallback(arr[k].as_py())
        return won
