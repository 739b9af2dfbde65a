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
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ..catalog import Catalog
from ..datasets import Dataset
from ..errors import MissingOutcomeError
from ..types import Completion, Request

__all__ = ["ReplayCaller", "stable_normals"]


def stable_normals(keys: Sequence[str] | np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent standard-normal draws per key, a pure function of (key, seed). Vectorised."""
    arr = np.asarray(keys, dtype=object)
    out = []
    for salt in ("ttft", "rate"):
        h = pd.util.hash_array(arr, hash_key=f"{salt}{seed:012d}"[-16:].rjust(16, "0"), categorize=False)
        u = ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
        out.append(ndtri(u))
    return out[0], out[1]


def _keys(prompt_ids: Any, models: Any, samples: Any) -> np.ndarray:
    if len(prompt_ids) < 256:  # the per-call path: plain f-strings beat Arrow's per-call overhead
        return np.array([f"{p}\x1f{m}\x1f{int(s)}" for p, m, s in zip(prompt_ids, models, samples)], dtype=object)
    p = pd.Series(prompt_ids, dtype=object).astype(str)
    m = pd.Series(models, dtype=object).astype(str)
    s = pd.Series(samples).astype(int).astype(str)
    return (p + "\x1f" + m.values + "\x1f" + s.values).to_numpy(dtype=object)


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
        self._z: dict[tuple[str, str], tuple[float, float]] | None = None

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

    def simulate(self, prompt_ids: Any, models: Sequence[str], samples: Any, output_tokens: np.ndarray,
                 codes: tuple[np.ndarray, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised (ttft, latency) for many calls; the scalar path uses the same function."""
        n = len(output_tokens)
        if not self.simulate_latency or n == 0:
            return np.full(n, np.nan), np.zeros(n)
        z1, z2 = stable_normals(_keys(prompt_ids, models, samples), self.seed)
        model_codes, uniques = codes if codes is not None else pd.factorize(np.asarray(models, dtype=object))
        ttft = np.empty(n)
        total = np.empty(n)
        for k, m in enumerate(uniques):
            rows = model_codes == k
            prof = self._spec(str(m)).latency
            t = prof.ttft_p50 * np.exp(prof.ttft_sigma * z1[rows])
            rate = prof.tps_p50 * np.exp(prof.tps_sigma * z2[rows])
            ttft[rows] = t
            total[rows] = t + np.asarray(output_tokens, dtype=float)[rows] / rate
        return ttft * self.latency_scale, total * self.latency_scale

    def complete_many(self, prompt_ids: Sequence[str], models: Sequence[str],
                      samples: Sequence[int] | int = 0, *, columns: Sequence[str] = ("response",)) -> pd.DataFrame:
        """Vectorised replay: one row per (prompt, model) with tokens, cost, latency, the recorded
        score and extracted answer, and the ``columns`` asked for (``response`` by default)."""
        prompt_ids = np.asarray(prompt_ids, dtype=object)
        models = np.asarray(models, dtype=object)
        samples = np.broadcast_to(np.asarray(samples), prompt_ids.shape)
        pos = self.outcomes.positions(prompt_ids, models)
        if (pos < 0).any():
            i = int(np.flatnonzero(pos < 0)[0])
            self.outcomes.record(str(prompt_ids[i]), str(models[i]))  # raises the precise error
        df = self.outcomes.df
        n_in = df["input_tokens"].to_numpy()[pos]
        n_out = df["output_tokens"].to_numpy()[pos]
        out = {"prompt_id": prompt_ids, "model": models, "input_tokens": n_in, "output_tokens": n_out}
        for col in (*columns, "score", "answer"):
            if col in df.columns:
                out[col] = df[col].take(pos).to_numpy()
        cost = np.empty(len(pos))
        codes, uniques = pd.factorize(models)
        for k, m in enumerate(uniques):
            sel = codes == k
            cost[sel] = self._spec(str(m)).cost(n_in[sel], n_out[sel])
        out["cost"] = cost
        out["ttft"], out["latency"] = self.simulate(prompt_ids, models, samples, n_out, codes=(codes, uniques))
        return pd.DataFrame(out)

    def recorded(self, prompt_id: str, model: str) -> dict[str, Any]:
        """The recorded outcome (response, tokens, score, extracted answer) as a dict."""
        return self.outcomes.record(prompt_id, model)

    def _spec(self, model: str) -> Any:
        spec = self._specs.get(model)
        if spec is None:
            spec = self._specs[model] = self.catalog[model]
        return spec

    def _normals(self, pid: str, model: str, sample: int) -> tuple[float, float]:
        if self._z is None:  # one vectorised draw for every recorded (prompt, model) at sample 0
            df = self.outcomes.df
            z1, z2 = stable_normals(_keys(df["prompt_id"], df["model"], np.zeros(len(df), int)), self.seed)
            self._z = dict(zip(zip(df["prompt_id"], df["model"]), zip(z1.tolist(), z2.tolist())))
        if sample == 0 and (pid, model) in self._z:
            return self._z[(pid, model)]
        z1, z2 = stable_normals(_keys([pid], [model], [sample]), self.seed)
        return float(z1[0]), float(z2[0])

    async def complete(self, request: Request, model: str) -> Completion:
        model = self.catalog.canonical(model)
        pid = self._prompt_id(request)
        row = self.outcomes.record(pid, model)
        spec = self._spec(model)
        n_in, n_out = int(row["input_tokens"]), int(row["output_tokens"])
        if self.simulate_latency:
            prof = spec.latency
            z1, z2 = self._normals(pid, model, request.sample)
            ttft = prof.ttft_p50 * float(np.exp(prof.ttft_sigma * z1))
            latency = (ttft + n_out / (prof.tps_p50 * float(np.exp(prof.tps_sigma * z2)))) * self.latency_scale
            ttft *= self.latency_scale
        else:
            ttft, latency = None, 0.0
        return Completion(
            text=str(row["response"]), model=model, provider=self.provider,
            input_tokens=n_in, output_tokens=n_out, cost=float(spec.cost(n_in, n_out)),
            latency=latency, ttft=ttft, simulated_latency=self.simulate_latency, deployment="replay",
        )

    def complete_sync(self, request: Request, model: str) -> Completion:
        from .._aio import run_sync

        return run_sync(self.complete(request, model))
