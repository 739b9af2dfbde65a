"""The replay caller: recorded outcomes served as Completions, offline and deterministic.

Cost is the outcome's cost as the data set resolved it: recorded where the data records it, else the
catalog's list price × tokens, else NaN (a model the catalog does not price). Tokens are the recorded
counts, or cl100k counts where the data has none. Latency is the recorded one where the data has it;
otherwise drawn from the model's catalog latency profile and marked ``simulated_latency=True``. The
draw for a given (seed, prompt, model, sample) is a pure function of those four values, so it does
not depend on the order of calls: a per-prompt replay, a vectorised replay and a resumed replay agree.

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

from .._hashing import mix64, unit
from ..catalog import Catalog
from ..errors import MissingOutcomeError
from ..types import Completion, Request

if TYPE_CHECKING:  # replay reads a Dataset handed to it; it never loads one
    from ..datasets import Dataset

__all__ = ["ReplayCaller", "stable_normals", "string_hashes"]


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SALTS = (np.uint64(0x243F6A8885A308D3), np.uint64(0x13198A2E03707344))


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    """An integer column of the outcomes, zeros when they do not record it (NaN: not recorded, 0)."""
    if name not in df.columns:
        return np.zeros(len(df), dtype=np.int64)
    return df[name].fillna(0).to_numpy(dtype=np.int64)


def string_hashes(values: Any) -> np.ndarray:
    """Stable 64-bit hashes of strings (pandas' SipHash): the same in every process and run."""
    return pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)


def _box_muller(u1: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent standard normals from two uniforms in (0, 1) (numpy only, no scipy import)."""
    r = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * np.pi * u2
    return r * np.cos(angle), r * np.sin(angle)


def stable_normals(prompt_hash: np.ndarray, model_hash: np.ndarray, samples: Any,
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent standard-normal draws per (prompt, model, sample, seed), vectorised.

    A pure function of its inputs, so the draw for a call does not depend on the order of calls.
    """
    s = np.asarray(samples).astype(np.uint64)
    seed_mix = mix64(np.full(1, seed, dtype=np.uint64) + _GOLDEN)
    h = mix64(np.asarray(prompt_hash, dtype=np.uint64) ^ mix64(np.asarray(model_hash, dtype=np.uint64) ^ seed_mix))
    h = mix64(h ^ mix64(s + _GOLDEN))
    return _box_muller(unit(mix64(h ^ _SALTS[0])), unit(mix64(h ^ _SALTS[1])))


_MASK = (1 << 64) - 1


def _mix_int(x: int) -> int:
    """:func:`~routerlab._hashing.mix64` for one Python int: the same bits, without numpy's per-call overhead."""
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

    ``catalog``: default the data set's own. ``simulate_latency``: ``None`` (default) draws latency
    from the catalog profile of each model the catalog knows and leaves it missing (NaN) for models it
    does not know; ``True`` requires a profile for every recorded model (an unknown one raises
    :class:`~routerlab.errors.UnknownModelError` naming the model and the field ``latency``);
    ``False`` reports zero latency. Recorded latencies are used as recorded in every mode but False.
    ``latency_scale`` multiplies simulated latencies (1.0 = the profile as is).
    """

    provider = "replay"

    def __init__(self, dataset: Dataset, *, catalog: Catalog | None = None, seed: int = 0,
                 simulate_latency: bool | None = None, latency_scale: float = 1.0) -> None:
        if dataset.outcomes is None:
            raise MissingOutcomeError(f"data set {dataset.name!r} has no outcomes to replay; "
                                      "load one with recorded responses or run live through a Gateway")
        self.dataset = dataset
        self.outcomes = dataset.outcomes
        self.catalog = catalog or getattr(dataset, "catalog", None) or Catalog.default()
        self.seed = seed
        self.simulate_latency = simulate_latency
        self.latency_scale = latency_scale
        self._specs: dict[str, Any] = {}
        self._arrays: dict[str, np.ndarray] | None = None

    def __repr__(self) -> str:
        return f"ReplayCaller({self.dataset.name!r}, seed={self.seed})"

    def fingerprint(self) -> dict[str, Any]:
        """What determines the replayed numbers (for experiment config hashes)."""
        simulate = self.simulate_latency
        if simulate is None and all(m in self.catalog for m in self.outcomes.models):
            simulate = True  # every model has a profile: the same numbers as True (and the same hash as before)
        return {"kind": "replay", "seed": self.seed, "simulate_latency": simulate, "latency_scale": self.latency_scale}

    def _prompt_id(self, request: Request) -> str:
        pid = request.prompt_id or self.dataset.find_prompt(request.prompt)
        if pid is None:
            raise MissingOutcomeError(
                f"prompt {request.prompt[:60]!r}... is not in data set {self.dataset.name!r}; "
                "replay serves recorded answers only: give Request.prompt_id or run live")
        return pid

    def _profile(self, model: str) -> Any:
        """The model's latency profile, or None where latency is not simulated for it."""
        if self.simulate_latency is False:
            return None
        if self.simulate_latency is True:
            return self.catalog.require(model, "latency", "simulated latency (simulate_latency=True)").latency
        return self.catalog[model].latency if model in self.catalog else None

    def _tables(self) -> dict[str, np.ndarray]:
        """Per prompt and per model arrays aligned with the outcomes' indexes (built once)."""
        if self._arrays is None:
            o = self.outcomes
            models = o._model_index
            profiles = [self._profile(str(m)) for m in models]
            nan = float("nan")
            df = o.df
            self._arrays = {
                "prompt_hash": string_hashes(o._prompt_index),
                "model_hash": string_hashes(models),
                "ttft_p50": np.array([p.ttft_p50 if p else nan for p in profiles]),
                "ttft_sigma": np.array([p.ttft_sigma if p else nan for p in profiles]),
                "tps_p50": np.array([p.tps_p50 if p else nan for p in profiles]),
                "tps_sigma": np.array([p.tps_sigma if p else nan for p in profiles]),
                "simulated": np.array([p is not None for p in profiles], dtype=bool),
                "row_prompt": o._row_prompt,
                "row_model": o._row_model,
                "cost": df["cost"].to_numpy(dtype=float, na_value=np.nan),
                # prompt-cache tokens, where the outcomes record them (inside input_tokens; priced in "cost")
                "cached_tokens": _column(df, "cached_tokens"),
                "cache_write_tokens": _column(df, "cache_write_tokens"),
                "latency": (df["latency"].to_numpy(dtype=float, na_value=np.nan) if "latency" in df.columns
                            else np.full(len(df), np.nan)),
                "row_sample": df["sample"].to_numpy(dtype=np.int64),
                # each row's simulated time to first token and token rate, drawn for the row's own sample on
                # first use and kept: replaying it again is a gather (see _draws)
                "draw_ttft": np.full(len(df), np.nan),
                "draw_rate": np.full(len(df), np.nan),
                "drawn": np.zeros(len(df), dtype=bool),
            }
            arrays = self._arrays
            # where a call's latency is drawn: the model has a profile and the row records no latency
            arrays["row_simulated"] = np.isnan(arrays["latency"]) & arrays["simulated"][arrays["row_model"]]
            arrays["cache_recorded"] = np.array(arrays["cached_tokens"].any() or arrays["cache_write_tokens"].any())
            if "score" in df.columns:
                arrays["score"] = df["score"].to_numpy(dtype=float, na_value=np.nan)
        return self._arrays

    def prompt_codes(self, batch: Any) -> np.ndarray:
        """Each row's code in the outcomes' prompt index (-1: no outcome), for a :class:`~routerlab.routers.Batch`
        (kept with it) or a sequence of prompt ids."""
        index = self.outcomes._prompt_index
        rows_in = getattr(batch, "rows_in", None)
        return rows_in(index) if callable(rows_in) else np.asarray(index.get_indexer(pd.Index(batch)))

    def positions(self, prompt_codes: np.ndarray, models: pd.Categorical, samples: np.ndarray) -> np.ndarray:
        """Outcome rows of many calls at once (-1 where nothing was recorded): ``prompt_codes`` from
        :meth:`prompt_codes`, ``models`` a Categorical of catalog names (code -1: no model), ``samples``
        the sample index per call. Model names are looked up once per category, not per call."""
        o = self.outcomes
        by_category = np.append(o._model_index.get_indexer(pd.Index(models.categories, dtype=object)), -1)
        mi = by_category[models.codes]
        pi = np.asarray(prompt_codes, dtype=np.int64)
        matrix = o._matrix
        if o.n_samples == 1:
            if (by_category[:-1] >= 0).all() and not (models.codes < 0).any() and not (pi < 0).any():
                # every call has an outcome row: one flat gather through the (prompt x model) plane
                return np.take(matrix.reshape(-1), pi * matrix.shape[1] + mi)
            ok = (pi >= 0) & (mi >= 0)
            return np.where(ok, matrix[np.where(ok, pi, 0), np.where(ok, mi, 0), 0], -1)
        si = np.asarray(samples, dtype=np.int64)
        ok = (pi >= 0) & (mi >= 0) & (si >= 0) & (si < o.n_samples)
        return np.where(ok, matrix[np.where(ok, pi, 0), np.where(ok, mi, 0), np.where(ok, si, 0)], -1)

    def values(self, column: str, positions: np.ndarray) -> np.ndarray:
        """``score`` or ``cost`` (USD) of the outcome rows at ``positions`` (NaN where not recorded): the two
        numbers a cost-quality curve needs, gathered without building Completions."""
        t = self._tables()
        if column not in ("score", "cost"):
            raise ValueError(f"values() gathers 'score' or 'cost', not {column!r}")
        return t[column][positions] if column in t else np.full(len(positions), np.nan)

    def _draws(self, pos: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(time to first token, token rate) drawn from the latency profile of each call's model: a pure
        function of (seed, prompt, model, sample), kept per outcome row for calls of the row's own sample."""
        t = self._tables()
        # one recorded sample per call: a call's own draw is that of sample 0
        own = (samples == 0) if self.outcomes.n_samples == 1 else (samples == t["row_sample"][pos])
        if own.all():
            fresh = pos[~t["drawn"][pos]]
            if fresh.size:
                t["draw_ttft"][fresh], t["draw_rate"][fresh] = self._draw(fresh, t["row_sample"][fresh])
                t["drawn"][fresh] = True
            return t["draw_ttft"][pos], t["draw_rate"][pos]
        ttft, rate = np.empty(len(pos)), np.empty(len(pos))
        ttft[own], rate[own] = self._draws(pos[own], samples[own])
        ttft[~own], rate[~own] = self._draw(pos[~own], samples[~own])
        return ttft, rate

    def _draw(self, pos: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = self._tables()
        mc = t["row_model"][pos]
        z1, z2 = stable_normals(t["prompt_hash"][t["row_prompt"][pos]], t["model_hash"][mc], samples, self.seed)
        return t["ttft_p50"][mc] * np.exp(t["ttft_sigma"][mc] * z1), t["tps_p50"][mc] * np.exp(t["tps_sigma"][mc] * z2)

    def complete_many(self, prompt_ids: Sequence[str] | np.ndarray | None = None,
                      models: Sequence[str] | np.ndarray = (), samples: Sequence[int] | np.ndarray | int = 0, *,
                      positions: np.ndarray | None = None,
                      columns: Sequence[str] = ("response",)) -> dict[str, np.ndarray]:
        """Vectorised replay: per (prompt, model, sample) call, its tokens, cost, latency (recorded or
        simulated; ``simulated_latency`` per call), the recorded score and answers, and the
        ``columns`` asked for (``response`` by default).

        Give ``prompt_ids`` and ``models``, or ``positions`` (rows of the outcomes table) when the
        join is already done. Returns a dict of equally long arrays; every value equals what
        :meth:`complete` returns for the same call.
        """
        pos = (self.outcomes.positions(prompt_ids, models, samples=samples) if positions is None
               else np.asarray(positions))
        if (pos < 0).any():
            i = int(np.flatnonzero(pos < 0)[0])
            if prompt_ids is None:
                raise MissingOutcomeError(f"position {i} of the {len(pos)} asked for has no recorded outcome (-1)")
            self.outcomes.record(str(prompt_ids[i]), str(models[i]),
                                 int(np.broadcast_to(np.asarray(samples), pos.shape)[i]))  # raises the precise error
        t = self._tables()
        n_in, n_out = self.dataset.token_counts(pos)
        out: dict[str, np.ndarray] = {"input_tokens": n_in, "output_tokens": n_out, "cost": t["cost"][pos]}
        for col in ("cached_tokens", "cache_write_tokens"):  # zeros unless the outcomes record prompt-cache use
            out[col] = t[col][pos] if t["cache_recorded"] else np.zeros(len(pos), dtype=np.int64)
        simulated = t["row_simulated"][pos]
        if self.simulate_latency is False:
            latency, ttft, simulated = np.zeros(len(pos)), np.full(len(pos), np.nan), np.zeros(len(pos), dtype=bool)
        elif simulated.all():
            draw, rate = self._draws(pos, np.broadcast_to(np.asarray(samples, dtype=np.int64), pos.shape))
            latency, ttft = (draw + n_out / rate) * self.latency_scale, draw * self.latency_scale
        else:
            latency, ttft = t["latency"][pos], np.full(len(pos), np.nan)
            if simulated.any():
                some = np.broadcast_to(np.asarray(samples, dtype=np.int64), pos.shape)[simulated]
                draw, rate = self._draws(pos[simulated], some)
                latency[simulated] = (draw + n_out[simulated] / rate) * self.latency_scale
                ttft[simulated] = draw * self.latency_scale
        out["latency"], out["ttft"], out["simulated_latency"] = latency, ttft, simulated
        df = self.outcomes.df
        if "score" in t:
            out["score"] = t["score"][pos]
        for col in columns:
            if col in df.columns:
                out[col] = df[col].take(pos).to_numpy()
        if "answer" in df.columns and hasattr(self.dataset, "answers"):
            reader = self.dataset._answer_reader()  # answers of recorded-score rows are read on first replay
            reader.fill(pos)
            out["answer"], out["normalized"] = reader.raw[pos], reader.norm[pos]
        return out

    def recorded(self, prompt_id: str, model: str, sample: int = 0) -> dict[str, Any]:
        """The recorded outcome (response, tokens, score, extracted answer) as a dict."""
        rec = self.outcomes.record(prompt_id, model, sample)
        if rec.get("answer_read") is False:
            rec["answer"], rec["normalized"] = self.dataset.answer_of(self.outcomes.position(prompt_id, model, sample))
        return rec

    async def complete(self, request: Request, model: str) -> Completion:
        model = self.catalog.canonical(model, strict=False)
        pid = self._prompt_id(request)
        o = self.outcomes
        i = o.position(pid, model, request.sample)
        t = self._tables()
        n_in, n_out = self.dataset.token_count(i)
        latency, ttft, simulated = float(t["latency"][i]), None, False
        m = int(t["row_model"][i])
        if self.simulate_latency is False:
            latency = 0.0
        elif latency != latency and t["simulated"][m]:
            ph, mh = t["prompt_hash"][t["row_prompt"][i]], t["model_hash"][m]
            z1, z2 = stable_normal_pair(int(ph), int(mh), request.sample, self.seed)
            # np.exp on arrays, as in complete_many: libm's exp may differ in the last bit on some CPUs
            e1, e2 = np.exp(np.array([t["ttft_sigma"][m] * z1, t["tps_sigma"][m] * z2]))
            ttft0 = t["ttft_p50"][m] * e1
            latency = float((ttft0 + n_out / (t["tps_p50"][m] * e2)) * self.latency_scale)
            ttft, simulated = float(ttft0 * self.latency_scale), True
        response = o.value("response", i)
        return Completion(
            text="" if response is None else str(response), model=model, provider=self.provider,
            input_tokens=n_in, output_tokens=n_out, cost=float(t["cost"][i]), latency=latency, ttft=ttft,
            simulated_latency=simulated, deployment="replay", answer=self.dataset.answer_of(i)[1],
            cached_tokens=int(t["cached_tokens"][i]), cache_write_tokens=int(t["cache_write_tokens"][i]),
        )

    def complete_sync(self, request: Request, model: str) -> Completion:
        from .._aio import run_sync

        return run_sync(self.complete(request, model))
