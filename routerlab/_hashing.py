"""Stable 64-bit mixing for draws that must be the same in every process, run and order of calls.

:func:`mix64` is splitmix64's finaliser on uint64 arrays (wrap-around arithmetic); :func:`unit` turns a hash
into a uniform number in (0, 1). The replay caller draws simulated latencies with them and the random router
its picks, from hashes of the prompt, model, sample and seed, so a draw never depends on what was drawn
before.

Example::

    >>> import numpy as np
    >>> float(unit(mix64(np.array([1], dtype=np.uint64)))[0]) == float(unit(mix64(np.array([0, 1], dtype=np.uint64)))[1])
    True
"""

from __future__ import annotations

import numpy as np

__all__ = ["mix64", "unit"]


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (wrap-around arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def unit(h: np.ndarray) -> np.ndarray:
    """A uniform number in (0, 1) from each 64-bit hash (its top 53 bits, centred in their interval)."""
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
