"""The exact response cache in Redis (an answer cached by one replica is a hit in every other), and the
in-memory cache a Gateway falls back to when it has no cache directory.

Entries are the same checksummed JSON as :class:`~routerlab.live.cache.ResponseCache` writes (never a key:
a Completion holds none); a corrupt entry raises :class:`~routerlab.errors.StoreError`, never passes for a
miss. While Redis is away, ``local`` serves (and what it stores stays there).

Example::

    >>> cache = MemoryResponseCache()
    >>> cache.put("k" * 64, Completion(text="4", model="gpt-4o-mini"))
    >>> cache.get("k" * 64).cached
    True
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from ...types import Completion
from ..cache import _completion_from_json, _completion_to_json
from .link import RedisLink

__all__ = ["RedisResponseCache", "MemoryResponseCache"]


class _Counted:
    """``hits``/``misses``/``writes`` of a cache, and what a lookup returns."""

    hits = misses = writes = 0

    def _count(self, raw: str | None, key: str, started: float) -> Completion | None:
        """None for a miss; for a hit the entry with ``cached=True`` and the lookup's time as its latency."""
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        return replace(_completion_from_json(raw, key), cached=True, latency=time.perf_counter() - started, ttft=None)


class MemoryResponseCache(_Counted):
    """An exact cache in this process's memory, the ``max_entries`` most recent answers (the interface of
    :class:`~routerlab.live.cache.ResponseCache`)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = int(max_entries)
        self.directory = "<memory>"
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Completion | None:
        started = time.perf_counter()
        with self._lock:
            raw = self._items.get(key)
            if raw is not None:
                self._items.move_to_end(key)
        return self._count(raw, key, started)

    def put(self, key: str, completion: Completion) -> None:
        with self._lock:
            self._items[key] = _completion_to_json(replace(completion, cached=False))
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        self.writes += 1

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._items.pop(key, None) is not None

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[str]:
        return list(self._items)

    def close(self) -> None:
        pass


class RedisResponseCache(_Counted):
    """The exact response cache of every replica, in Redis (see the module docstring); ``ttl`` seconds per
    entry (None: kept until deleted)."""

    def __init__(self, *, link: RedisLink, local: Any, ttl: float | None = None) -> None:
        self.link, self.local, self.ttl = link, local, ttl
        self.directory = f"{link.where} ({link.namespace}:cache)"

    def _key(self, key: str) -> str:
        return self.link.key("cache", key)

    def get(self, key: str) -> Completion | None:
        """The cached completion with ``cached=True`` (shared, else this process's own while Redis is away)."""
        started = time.perf_counter()
        raw = self.link.call(lambda: self.link.client.get(self._key(key)), lambda: False)
        if raw is False:
            return self.local.get(key)
        return self._count(raw, key, started)

    def put(self, key: str, completion: Completion) -> None:
        value = _completion_to_json(replace(completion, cached=False))
        ttl = None if self.ttl is None else int(self.ttl * 1000)
        if self.link.call(lambda: bool(self.link.client.set(self._key(key), value, px=ttl)), lambda: False):
            self.writes += 1
        else:
            self.local.put(key, completion)

    def delete(self, key: str) -> bool:
        gone = self.link.call(lambda: bool(self.link.client.delete(self._key(key))), lambda: False)
        return bool(self.local.delete(key)) or gone

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self.link.call(lambda: bool(self.link.client.exists(self._key(key))), lambda: key in self.local)

    def keys(self) -> list[str]:
        prefix = self._key("")
        return self.link.call(lambda: [k[len(prefix):] for k in self.link.client.scan_iter(match=prefix + "*")],
                              self.local.keys)

    def __len__(self) -> int:
        return len(self.keys())

    def close(self) -> None:
        self.local.close()

    def __repr__(self) -> str:
        return f"RedisResponseCache({self.directory!r}, hits={self.hits}, misses={self.misses}, writes={self.writes})"
