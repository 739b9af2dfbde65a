"""Dataset (prompts with references) and Outcomes (what each model answered): the loaded data.

See :mod:`routerlab.datasets` for loading.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DatasetError, MissingOutcomeError
from ..types import Message, Request

__all__ = ["Dataset", "Outcomes", "bundled", "data_dir"]

PROMPT_COLUMNS = ("prompt_id", "task", "prompt", "reference")


def data_dir() -> Path:
    """Where the bundled data sets live (``$ROUTERLAB_DATA`` overrides)."""
    env = os.environ.get("ROUTERLAB_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "datasets"


def bundled() -> list[str]:
    """Names of the bundled data sets."""
    d = data_dir()
    return sorted(p.name for p in d.iterdir() if (p / "prompts.parquet").exists()) if d.is_dir() else []


@dataclass(frozen=True)
class Outcomes:
    """What each model answered for each prompt: one row per (prompt_id, model).

    Columns: ``prompt_id, model, response, input_tokens, output_tokens, score`` (score is NaN until
    scored; data sets that record only correctness carry it from the start) and ``answer`` once scored.
    """

    df: pd.DataFrame
    # derived in __post_init__: a dense (prompt x model) -> row matrix and its two indexes
    _prompt_index: pd.Index = field(init=False, repr=False, compare=False)
    _model_index: pd.Index = field(init=False, repr=False, compare=False)
    _matrix: np.ndarray = field(init=False, repr=False, compare=False)
    _row_prompt: np.ndarray = field(init=False, repr=False, compare=False)
    _row_model: np.ndarray = field(init=False, repr=False, compare=False)
    _scalar: tuple[dict[tuple[Any, Any], int], dict[str, np.ndarray]] | None = field(
        init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        p_codes, p_uniques = pd.factorize(self.df["prompt_id"])
        m_codes, m_uniques = pd.factorize(self.df["model"])
        matrix = np.full((len(p_uniques), len(m_uniques)), -1, dtype=np.int64)
        matrix[p_codes, m_codes] = np.arange(len(self.df))
        if int((matrix >= 0).sum()) != len(self.df):
            seen = pd.Series(p_codes.astype(np.int64) * len(m_uniques) + m_codes).duplicated()
            dup = self.df.iloc[int(np.flatnonzero(seen.to_numpy())[0])]
            raise DatasetError(f"outcome for prompt {dup['prompt_id']!r} and model {dup['model']!r} appears twice",
                               field="prompt_id")
        # a dense (prompt x model) -> row matrix: vectorised joins are two hash look-ups and a gather
        object.__setattr__(self, "_prompt_index", pd.Index(p_uniques))
        object.__setattr__(self, "_model_index", pd.Index(m_uniques))
        object.__setattr__(self, "_matrix", matrix)
        object.__setattr__(self, "_row_prompt", p_codes)
        object.__setattr__(self, "_row_model", m_codes)
        object.__setattr__(self, "_scalar", None)

    @property
    def models(self) -> list[str]:
        return sorted(self._model_index.tolist())

    def __len__(self) -> int:
        return len(self.df)

    def __repr__(self) -> str:
        """One line: ``Outcomes: 25,560 (2,840 prompts × 9 models), mean score 0.682``."""
        scored = "score" in self.df.columns and self.df["score"].notna().any()
        mean = f", mean score {float(self.df['score'].mean()):.3f}" if scored else ", not scored"
        return (f"Outcomes: {len(self):,} ({len(self._prompt_index):,} prompts × {len(self._model_index)} "
                f"models){mean}")

    def _repr_html_(self) -> str:
        """The one line, then per model: outcomes, mean score, tokens in and out."""
        from html import escape

        cols = {c: "mean" for c in ("score", "input_tokens", "output_tokens") if c in self.df.columns}
        table = self.df.groupby("model").agg(outcomes=("prompt_id", "size"), **{c: (c, f) for c, f in cols.items()})
        return (f"<div><b>{escape(repr(self))}</b>"
                + table.to_html(float_format=lambda v: f"{v:,.3f}", border=0) + "</div>")

    def record(self, prompt_id: str, model: str) -> dict[str, Any]:
        """The recorded outcome as a dict, or :class:`MissingOutcomeError` naming what is missing."""
        if self._scalar is None:
            # the per-prompt hot path: a dict and plain column arrays, built on first use
            ids, models = (self.df[c].to_numpy(dtype=object) for c in ("prompt_id", "model"))  # not Arrow iteration
            pos = dict(zip(zip(ids, models), range(len(self.df))))
            cols = {c: self.df[c].to_numpy() for c in self.df.columns}
            object.__setattr__(self, "_scalar", (pos, cols))
        assert self._scalar is not None
        pos, cols = self._scalar
        i = pos.get((prompt_id, model))
        if i is None:
            known = self.models
            what = (f"model {model!r} (recorded models: {', '.join(known)})" if model not in known
                    else f"prompt {prompt_id!r} for model {model!r}")
            raise MissingOutcomeError(f"no recorded outcome for {what}; replay can only serve recorded "
                                      "answers: run live through a Gateway for new prompts or models")
        rec = {c: v[i] for c, v in cols.items()}
        if "answer" in rec and not isinstance(rec["answer"], str):
            rec["answer"] = None
        return rec

    def row(self, prompt_id: str, model: str) -> pd.Series:
        """The recorded outcome as a Series (see :meth:`record`)."""
        return pd.Series(self.record(prompt_id, model))

    def response(self, prompt_id: str, model: str) -> str:
        return str(self.record(prompt_id, model)["response"])

    def prompt_codes(self, prompt_ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Each prompt id's code in this table (-1 where it has no outcome)."""
        return self._prompt_index.get_indexer(pd.Index(prompt_ids))

    def positions(self, prompt_ids: Sequence[str] | np.ndarray | None = None,
                  models: Sequence[str] | np.ndarray = (), *, prompt_codes: np.ndarray | None = None) -> np.ndarray:
        """Row positions for many (prompt, model) pairs at once (-1 where missing).

        Pass ``prompt_codes`` (from :meth:`prompt_codes`) to reuse a join across many calls.
        """
        if prompt_codes is None:
            if prompt_ids is None:
                raise TypeError("positions() needs prompt_ids or prompt_codes")
            prompt_codes = self.prompt_codes(prompt_ids)
        pi = prompt_codes
        m_codes, m_uniques = pd.factorize(np.asarray(models, dtype=object))
        mi = self._model_index.get_indexer(pd.Index(m_uniques))[m_codes]
        ok = (pi >= 0) & (mi >= 0)
        return np.where(ok, self._matrix[np.where(ok, pi, 0), np.where(ok, mi, 0)], -1)

    def dense(self, values: np.ndarray | str = "score") -> tuple[pd.Index, pd.Index, np.ndarray]:
        """(prompt ids, models, prompt x model float array) of one column, or of ``values`` given per
        row; NaN where an outcome is missing. A gather through the position matrix, no pivot."""
        v = self.df[values].to_numpy(dtype=float) if isinstance(values, str) else np.asarray(values, dtype=float)
        m = self._matrix
        out = np.where(m >= 0, v[np.where(m >= 0, m, 0)], np.nan)
        return self._prompt_index, self._model_index, out

    def matrix(self, column: str = "score") -> pd.DataFrame:
        """A prompt x model table of one column (e.g. ``score`` or ``output_tokens``)."""
        if pd.api.types.is_numeric_dtype(self.df[column]):
            prompts, models, values = self.dense(column)
            frame = pd.DataFrame(values, index=pd.Index(prompts, name="prompt_id"),
                                 columns=pd.Index(models, name="model"))
            return frame[sorted(frame.columns)].sort_index()
        return self.df.pivot(index="prompt_id", columns="model", values=column)

    def subset(self, prompt_ids: Iterable[str] | None = None, models: Iterable[str] | None = None) -> Outcomes:
        mask = np.ones(len(self.df), dtype=bool)
        if prompt_ids is not None:
            mask &= self.df["prompt_id"].isin(list(prompt_ids)).to_numpy()
        if models is not None:
            mask &= self.df["model"].isin(list(models)).to_numpy()
        return Outcomes(self.df[mask].reset_index(drop=True))


@dataclass(frozen=True)
class Dataset:
    """Prompts (``prompt_id, task, prompt, reference``, optional ``system``) and their Outcomes.

    ``outcomes`` are scored on load with the per-task default scorer (see :mod:`routerlab.scoring`).
    """

    name: str
    prompts: pd.DataFrame
    outcomes: Outcomes | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def tasks(self) -> list[str]:
        return sorted(self.prompts["task"].unique().tolist())

    @property
    def models(self) -> list[str]:
        return self.outcomes.models if self.outcomes is not None else []

    def filter(self, *, tasks: Iterable[str] | None = None, prompt_ids: Iterable[str] | None = None,
               models: Iterable[str] | None = None) -> Dataset:
        """A smaller Dataset (and its outcomes) restricted to some tasks, prompts or models."""
        p = self.prompts
        if tasks is not None:
            tasks = list(tasks)
            unknown = set(tasks) - set(self.tasks)
            if unknown:
                raise DatasetError(f"unknown task(s) {sorted(unknown)} in data set {self.name!r}; "
                                   f"its tasks are {self.tasks}", field="task")
            p = p[p["task"].isin(tasks)]
        if prompt_ids is not None:
            p = p[p["prompt_id"].isin(list(prompt_ids))]
        p = p.reset_index(drop=True)
        out = self.outcomes.subset(p["prompt_id"], models) if self.outcomes is not None else None
        return Dataset(self.name, p, out, {k: v for k, v in self.info.items() if not k.startswith("_")})

    def split(self, test_size: float = 0.5, *, seed: int = 0) -> tuple[Dataset, Dataset]:
        """A seeded train/test split, stratified by task (each task split in the same proportion)."""
        if not 0 < test_size < 1:
            raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
        rng = np.random.default_rng(seed)
        test_ids: list[str] = []
        for _, group in self.prompts.groupby("task", sort=True):
            ids = group["prompt_id"].to_numpy()
            n_test = int(round(len(ids) * test_size))
            test_ids.extend(rng.permutation(ids)[:n_test].tolist())
        test_set = set(test_ids)
        is_test = self.prompts["prompt_id"].isin(test_set)
        train = self.filter(prompt_ids=self.prompts.loc[~is_test, "prompt_id"])
        test = self.filter(prompt_ids=self.prompts.loc[is_test, "prompt_id"])
        info = {k: v for k, v in self.info.items() if not k.startswith("_")}
        info.update(split_seed=seed, test_size=test_size)
        return (Dataset(f"{self.name}[train]", train.prompts, train.outcomes, {**info, "split": "train"}),
                Dataset(f"{self.name}[test]", test.prompts, test.outcomes, {**info, "split": "test"}))

    def request(self, prompt_id: str, **kwargs: Any) -> Request:
        """The Request for one prompt id (kwargs such as ``max_tokens`` or ``sample`` are passed on)."""
        i = self._pos().get(prompt_id)
        if i is None:
            raise DatasetError(f"prompt id {prompt_id!r} is not in data set {self.name!r}", field="prompt_id")
        return self._request_at(i, **kwargs)

    def requests(self, **kwargs: Any) -> list[Request]:
        """One Request per prompt, in order (kwargs such as ``max_tokens`` apply to all)."""
        return [self._request_at(i, **kwargs) for i in range(len(self.prompts))]

    def reference(self, prompt_id: str) -> str:
        return str(self._column("reference")[self._pos()[prompt_id]])

    def _column(self, name: str) -> np.ndarray:
        cols = self.info.setdefault("_cols", {})
        if name not in cols:
            cols[name] = self.prompts[name].to_numpy() if name in self.prompts.columns else None
        return cols[name]

    def _request_at(self, i: int, **kwargs: Any) -> Request:
        system = self._column("system")
        sys_text = system[i] if system is not None else None
        msgs = ([Message("system", str(sys_text))] if isinstance(sys_text, str) and sys_text else [])
        msgs.append(Message("user", str(self._column("prompt")[i])))
        return Request(messages=tuple(msgs), prompt_id=str(self._column("prompt_id")[i]),
                       task=str(self._column("task")[i]), **kwargs)

    def _pos(self) -> dict[str, int]:
        cached = self.info.get("_pos")
        if cached is None:
            cached = {pid: i for i, pid in enumerate(self.prompts["prompt_id"])}
            self.info["_pos"] = cached
        return cached

    def find_prompt(self, text: str) -> str | None:
        """The prompt id whose prompt text is exactly ``text`` (used by the local provider server)."""
        lookup = self.info.get("_by_text")
        if lookup is None:
            lookup = dict(zip(self.prompts["prompt"], self.prompts["prompt_id"]))
            self.info["_by_text"] = lookup
        return lookup.get(text)

    def __repr__(self) -> str:
        """One line: ``zeroeval: 2,840 prompts, 3 tasks, 9 models, 25,560 outcomes``."""
        n_out = len(self.outcomes) if self.outcomes is not None else 0
        return (f"{self.name}: {len(self):,} prompts, {len(self.tasks)} task{'s' * (len(self.tasks) != 1)}, "
                f"{len(self.models)} model{'s' * (len(self.models) != 1)}, {n_out:,} outcomes")

    def _repr_html_(self) -> str:
        """The one line, then per task: prompts and, with outcomes, each model's mean score."""
        from html import escape

        table = self.prompts.groupby("task").size().rename("prompts").to_frame()
        if self.outcomes is not None and "score" in self.outcomes.df.columns:
            task_of = self.prompts.set_index("prompt_id")["task"]
            out = self.outcomes.df.assign(task=lambda d: d["prompt_id"].map(task_of))
            table = table.join(out.pivot_table(index="task", columns="model", values="score", aggfunc="mean"))
        return (f"<div><b>{escape(repr(self))}</b>"
                + table.to_html(float_format=lambda v: f"{v:.3f}", na_rep="—", border=0) + "</div>")
