"""The replay caller: recorded outcomes served as Completions, offline and deterministic.

Cost comes from the catalog's prices and the recorded token counts; latency is drawn from the
model's catalog latency profile and marked ``simulated_latency=True``. The draw for a given
(seed, prompt, model, sample) is a pure function of those four values, so it does not depend on the
order of calls: a per-prompt replay, a vectorised replay and a resumed replay all agree.

Example::

    >>> from routerlab import datasets
    >>> from routerlab.providers.replay import ReplayCaller
    >>> ds = datasets.load("zeroeval")
    >>> caller = ReplayCaller(ds, seed=0)
    >>> c = caller.complete_sync(ds.request("gsm8k-main-test-#0"), "gpt-4o")
    >>> c.simulated_latency, c.cost > 0
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import MissingOutcomeError
from ..types import Completion, Request

if TYPE_CHECKING:  # replay reads a Dataset handed to it; it never loads one
    from ..datasets import Dataset

__all__ = ["ReplayCaller", "stable_normals", "string_hashes"]


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SALTS = (np.uint64(0x243F6A8885A308D3), np.uint64(0x13198A2E03707344))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (wrap-around arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    """An integer column of the outcomes, zeros when they do not record it (NaN: not recorded, 0)."""
    if name not in df.columns:
        return np.zeros(len(df), dtype=np.int64)
    return df[name].fillna(0).to_numpy(dtype=np.int64)


def _count(value: Any) -> int:
    """A recorded token count, 0 when it was not recorded (None or NaN)."""
    return 0 if value is None or value != value else int(value)


def _delta(price: float | None, input_price: float) -> float:
    """What a cached (or cache-written) input token costs more than a fresh one (USD per 1M; 0 unpublished)."""
    return 0.0 if price is None else price - input_price


def string_hashes(values: Any) -> np.ndarray:
    """Stable 64-bit hashes of strings (pandas' SipHash): the same in every process and run."""
    return pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)


def _box_muller(u1: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent standard normals from two uniforms in (0, 1) (numpy only, no scipy import)."""
    r = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * np.pi * u2
    return r * np.cos(angle), r * np.sin(angle)


def _uniform(h: np.ndarray) -> np.ndarray:
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def stable_normals(prompt_hash: np.ndarray, model_hash: np.ndarray, samples: Any,
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent standard-normal draws per (prompt, model, sample, seed), vectorised.

    A pure function of its inputs, so the draw for a call does not depend on the order of calls.
    """
    s = np.asarray(samples).astype(np.uint64)
    seed_mix = _mix(np.full(1, seed, dtype=np.uint64) + _GOLDEN)
    h = _mix(np.asarray(prompt_hash, dtype=np.uint64) ^ _mix(np.asarray(model_hash, dtype=np.uint64) ^ seed_mix))
    h = _mix(h ^ _mix(s + _GOLDEN))
    return _box_muller(_uniform(_mix(h ^ _SALTS[0])), _uniform(_mix(h ^ _SALTS[1])))


_MASK = (1 << 64) - 1


def _mix_int(x: int) -> int:
    """:func:`_mix` for one Python int: the same bits, without numpy's per-call overhead."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def stable_normal_pair(prompt_hash: int, model_hash: int, sample: int, seed: int) -> tuple[float, float]:
    """:func:`stable_normals` for one call (bit-identical: the same integer mixing, then the same
    numpy transform on one-element arrays)."""
    g = int(_GOLDEN)
    h = _mix_int(int(prompt_hash) ^ _mix_int(int(model_hash) ^ _mix_int((seed + g) & _MASK)))
    h = _mix_int(h ^ _mix_int((sample + g) & _MASK))
    u = [((_mix_int(h ^ int(salt)) >> 11) + 0.5) / float(1 << 53) for salt in _SALTS]
    z1, z2 = _box_muller(np.array(u[:1]), np.array(u[1:]))
    return float(z1[0]), float(z2[0])


class ReplayCaller:
    """A Caller that answers from a Dataset's recorded outcomes.

    ``latency_scale`` multiplies simulated latencies (1.0 = the profile as is). Set
    ``simulate_latency=False`` to report zero latency.
    """

    provider = "replay"

    def __init__(self, dataset: Dataset, *, catalog: Catalog | None = None, seed: int = 0,
                 simulate_latency: bool = True, latency_scale: float = 1.0) -> None:
        if dataset.outcomes is None:
            raise MissingOutcomeError(f"data set {dataset.name!r} has no outcomes to replay; "
                                      "load one with recorded responses or run live through a Gateway")
        self.dataset = dataset
        self.outcomes = dataset.outcomes
        self.catalog = catalog or Catalog.default()
        self.seed = seed
        self.simulate_latency = simulate_latency
        self.latency_scale = latency_scale
        self._specs: dict[str, Any] = {}
        self._arrays: dict[str, np.ndarray] | None = None

    def __repr__(self) -> str:
        return f"ReplayCaller({self.dataset.name!r}, seed={self.seed})"

    def fingerprint(self) -> dict[str, Any]:
        """What determines the replayed numbers (for experiment config hashes)."""
        return {"kind": "replay", "seed": self.seed, "simulate_latency": self.simulate_latency,
                "latency_scale": self.latency_scale}

    def _prompt_id(self, request: Request) -> str:
        pid = request.prompt_id or self.dataset.find_prompt(request.prompt)
        if pid is None:
            raise MissingOutcomeError(
                f"prompt {request.prompt[:60]!r}... is not in data set {self.dataset.name!r}; "
                "replay serves recorded answers only: give Request.prompt_id or run live")
        return pid

    def _tables(self) -> dict[str, np.ndarray]:
        """Per prompt and per model arrays aligned with the outcomes' indexes (built once)."""
        if self._arrays is None:
            o = self.outcomes
            models = o._model_index
            specs = [self._spec(str(m)) for m in models]
            self._arrays = {
                "prompt_hash": string_hashes(o._prompt_index),
                "model_hash": string_hashes(models),
                "price_in": np.array([s.price.input for s in specs]),
                "price_out": np.array([s.price.output for s in specs]),
                "ttft_p50": np.array([s.latency.ttft_p50 for s in specs]),
                "ttft_sigma": np.array([s.latency.ttft_sigma for s in specs]),
                "tps_p50": np.array([s.latency.tps_p50 for s in specs]),
                "tps_sigma": np.array([s.latency.tps_sigma for s in specs]),
                "row_prompt": o._row_prompt,
                "row_model": o._row_model,
                "input_tokens": o.df["input_tokens"].to_numpy(),
                "output_tokens": o.df["output_tokens"].to_numpy(),
                # prompt-cache tokens when the outcomes record them (inside input_tokens), priced as ModelSpec.cost does
                "cached_tokens": _column(o.df, "cached_tokens"),
                "cache_write_tokens": _column(o.df, "cache_write_tokens"),
                "price_cached": np.array([_delta(s.price.cached_input, s.price.input) for s in specs]),
                "price_write": np.array([_delta(s.price.cache_write, s.price.input) for s in specs]),
            }
        return self._arrays

    def complete_many(self, prompt_ids: Sequence[str] | np.ndarray | None = None,
                      models: Sequence[str] | np.ndarray = (), samples: Sequence[int] | np.ndarray | int = 0, *,
                      positions: np.ndarray | None = None,
                      columns: Sequence[str] = ("response",)) -> dict[str, np.ndarray]:
        """Vectorised replay: per (prompt, model) call, its tokens, cost, simulated latency, the
        recorded score and extracted answer, and the ``columns`` asked for (``response`` by default).

        Give ``prompt_ids`` and ``models``, or ``positions`` (rows of the outcomes table) when the
        join is already done. Returns a dict of equally long arrays; every value equals what
        :meth:`complete` returns for the same call.
        """
        pos = self.outcomes.positions(prompt_ids, models) if positions is None else np.asarray(positions)
        if (pos < 0).any():
            i = int(np.flatnonzero(pos < 0)[0])
            if prompt_ids is None:
                raise MissingOutcomeError(f"position {i} of the {len(pos)} asked for has no recorded outcome (-1)")
            self.outcomes.record(str(prompt_ids[i]), str(models[i]))  # raises the precise error
        t = self._tables()
        pc, mc = t["row_prompt"][pos], t["row_model"][pos]
        n_in, n_out = t["input_tokens"][pos], t["output_tokens"][pos]
        out: dict[str, np.ndarray] = {"prompt_code": pc, "model_code": mc, "input_tokens": n_in, "output_tokens": n_out}
        cached, written = t["cached_tokens"][pos], t["cache_write_tokens"][pos]
        out["cached_tokens"], out["cache_write_tokens"] = cached, written
        # the same arithmetic, in the same order, as ModelSpec.cost and complete(): identical floats
        out["cost"] = (n_in.astype(float) * t["price_in"][mc] + n_out.astype(float) * t["price_out"][mc]
                       + cached.astype(float) * t["price_cached"][mc]
                       + written.astype(float) * t["price_write"][mc]) / 1e6
        if self.simulate_latency:
            z1, z2 = stable_normals(t["prompt_hash"][pc], t["model_hash"][mc],
                                    np.broadcast_to(np.asarray(samples), pos.shape), self.seed)
            ttft = t["ttft_p50"][mc] * np.exp(t["ttft_sigma"][mc] * z1)
            out["latency"] = (ttft + n_out / (t["tps_p50"][mc] * np.exp(t["tps_sigma"][mc] * z2))) * self.latency_scale
            out["ttft"] = ttft * self.latency_scale
        else:
            out["latency"], out["ttft"] = np.zeros(len(pos)), np.full(len(pos), np.nan)
        df = self.outcomes.df
        for col in (*columns, "score", "answer"):
            if col in df.columns:
                out[col] = df[col].take(pos).to_numpy()
        return out

    def recorded(self, prompt_id: str, model: str) -> dict[str, Any]:
        """The recorded outcome (response, tokens, score, extracted answer) as a dict."""
        return self.outcomes.record(prompt_id, model)

    def _spec(self, model: str) -> Any:
        spec = self._specs.get(model)
        if spec is None:
            spec = self._specs[model] = self.catalog[model]
        return spec

    async def complete(self, request: Request, model: str) -> Completion:
        model = self.catalog.canonical(model)
        pid = self._prompt_id(request)
        row = self.outcomes.record(pid, model)
        spec = self._spec(model)
        n_in, n_out = int(row["input_tokens"]), int(row["output_tokens"])
        cached, written = _count(row.get("cached_tokens")), _count(row.get("cache_write_tokens"))
        if self.simulate_latency:
            prof = spec.latency
            t = self._tables()
            ph = t["prompt_hash"][self.outcomes._prompt_index.get_loc(pid)]
            mh = t["model_hash"][self.outcomes._model_index.get_loc(model)]
            z1, z2 = stable_normal_pair(int(ph), int(mh), request.sample, self.seed)
            # np.exp on arrays, as in complete_many: libm's exp may differ in the last bit on some CPUs
            e1, e2 = np.exp(np.array([prof.ttft_sigma * z1, prof.tps_sigma * z2]))
            ttft0 = prof.ttft_p50 * e1
            latency = float((ttft0 + n_out / (prof.tps_p50 * e2)) * self.latency_scale)
            ttft = float(ttft0 * self.latency_scale)
        else:
            ttft, latency = None, 0.0
        return Completion(
            text=str(row["response"]), model=model, provider=self.provider,
            input_tokens=n_in, output_tokens=n_out,
            cost=float(spec.cost(n_in, n_out, cached_tokens=cached, cache_write_tokens=written)),
            latency=latency, ttft=ttft, simulated_latency=self.simulate_latency, deployment="replay",
            cached_tokens=cached, cache_write_tokens=written,
        )

    def complete_sync(self, request: Request, model: str) -> Completion:
        from .._aio import run_sync

        return run_sync(self.complete(request, model))
