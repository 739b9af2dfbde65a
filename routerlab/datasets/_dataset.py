"""Dataset (prompts with references, scorers and a catalog) and Outcomes (what each model answered).

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

from ..catalog import Catalog
from ..errors import DatasetError, MissingOutcomeError
from ..scoring import Scorer, TaskScorers
from ..types import Message, Request
from ._costs import resolve_costs
from ._read import plain
from ._tokens import TokenCounts

__all__ = ["Dataset", "Outcomes", "bundled", "data_dir"]

PROMPT_COLUMNS = ("prompt_id", "task", "prompt", "reference")
_TEXT_COLUMNS = frozenset({"answer", "normalized", "response", "prediction", "generator"})


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
    """What each model answered for each prompt: one row per (prompt_id, model, sample).

    Columns: ``prompt_id, model, sample`` (0 unless the data recorded several answers per prompt, such
    as inspect-ai epochs), ``response`` (None: not recorded), ``score`` (in [0, 1]; NaN: missing),
    ``answer`` (the raw extracted answer) and ``normalized`` (the scorer's canonical answer, what
    agreement strategies compare) once scored, ``input_tokens``/``output_tokens`` (nullable: NA when
    the data records none, counted with cl100k on first use), ``cost`` (USD per call) and
    ``cost_source`` (``recorded``; ``catalog``: list price × recorded tokens; ``catalog, estimated
    tokens``; ``unknown``: neither recorded nor priced), and ``latency`` (seconds, when recorded).
    """

    df: pd.DataFrame
    # derived in __post_init__: a dense (prompt x model x sample) -> row array and its indexes
    _prompt_index: pd.Index = field(init=False, repr=False, compare=False)
    _model_index: pd.Index = field(init=False, repr=False, compare=False)
    _matrix: np.ndarray = field(init=False, repr=False, compare=False)
    _row_prompt: np.ndarray = field(init=False, repr=False, compare=False)
    _row_model: np.ndarray = field(init=False, repr=False, compare=False)
    _scalar: tuple[dict[tuple[Any, Any, int], int], dict[str, np.ndarray]] | None = field(
        init=False, repr=False, compare=False, default=None)
    #: the catalog the catalog-priced costs were computed with (set by the Dataset)
    _priced_with: Any = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        df = self.df
        if "sample" not in df.columns:
            df = df.assign(sample=np.zeros(len(df), dtype=np.int64))
        if "cost" not in df.columns:
            df = df.assign(cost=np.full(len(df), np.nan))
        object.__setattr__(self, "df", df)
        p_codes, p_uniques = pd.factorize(df["prompt_id"])
        m_codes, m_uniques = pd.factorize(df["model"])
        s = df["sample"].to_numpy(dtype=np.int64)
        n_samples = int(s.max()) + 1 if len(s) else 1
        matrix = np.full((len(p_uniques), len(m_uniques), n_samples), -1, dtype=np.int64)
        matrix[p_codes, m_codes, s] = np.arange(len(df))
        if int((matrix >= 0).sum()) != len(df):
            key = pd.Series((p_codes.astype(np.int64) * len(m_uniques) + m_codes) * n_samples + s).duplicated()
            dup = df.iloc[int(np.flatnonzero(key.to_numpy())[0])]
            raise DatasetError(f"outcome for prompt {plain(dup['prompt_id'])}, model {plain(dup['model'])} "
                               f"(sample {plain(dup['sample'])}) appears twice", field="prompt_id")
        # a dense (prompt x model x sample) -> row array: vectorised joins are two hash look-ups and a gather
        object.__setattr__(self, "_prompt_index", pd.Index(p_uniques))
        object.__setattr__(self, "_model_index", pd.Index(m_uniques))
        object.__setattr__(self, "_matrix", matrix)
        object.__setattr__(self, "_row_prompt", p_codes)
        object.__setattr__(self, "_row_model", m_codes)
        object.__setattr__(self, "_scalar", None)

    @property
    def models(self) -> list[str]:
        return sorted(self._model_index.tolist())

    @property
    def n_samples(self) -> int:
        """Answers recorded per (prompt, model): 1 for most data, the epochs of an inspect-ai log set."""
        return int(self._matrix.shape[2])

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

    def _sample(self, sample: int) -> int:
        # data with one answer per prompt replays it for every sample index (replay is deterministic)
        return 0 if self.n_samples == 1 else int(sample)

    def _lookup(self) -> tuple[dict[tuple[Any, Any, int], int], dict[str, np.ndarray]]:
        if self._scalar is None:
            # the per-prompt hot path: a dict and plain column arrays, built on first use
            ids, models = (self.df[c].to_numpy(dtype=object) for c in ("prompt_id", "model"))  # not Arrow iteration
            samples = self.df["sample"].to_numpy(dtype=np.int64).tolist()
            pos = dict(zip(zip(ids, models, samples), range(len(self.df))))
            cols = {c: self.df[c].to_numpy() for c in self.df.columns}
            object.__setattr__(self, "_scalar", (pos, cols))
        assert self._scalar is not None
        return self._scalar

    def position(self, prompt_id: str, model: str, sample: int = 0) -> int:
        """The row of one recorded outcome, or :class:`MissingOutcomeError` naming what is missing."""
        i = self._lookup()[0].get((prompt_id, model, self._sample(sample)))
        if i is None:
            raise MissingOutcomeError(self._missing(prompt_id, model, sample))
        return i

    def value(self, column: str, i: int) -> Any:
        """One cell of the row at position ``i`` (text columns: None where nothing was recorded)."""
        cols = self._lookup()[1]
        if column not in cols:
            return None
        v = cols[column][i]
        return v if isinstance(v, str) or column not in _TEXT_COLUMNS else None

    def record(self, prompt_id: str, model: str, sample: int = 0) -> dict[str, Any]:
        """The recorded outcome as a dict, or :class:`MissingOutcomeError` naming what is missing."""
        i = self.position(prompt_id, model, sample)
        rec = {c: v[i] for c, v in self._lookup()[1].items()}
        for key in ("answer", "normalized", "response"):
            if key in rec and not isinstance(rec[key], str):
                rec[key] = None
        return rec

    def _missing(self, prompt_id: str, model: str, sample: int) -> str:
        known = self.models
        if model not in known:
            what = f"model {model!r} (recorded models: {', '.join(known)})"
        elif self._sample(sample) >= self.n_samples:
            what = f"sample {sample} of prompt {prompt_id!r} for model {model!r} ({self.n_samples} recorded)"
        else:
            what = f"prompt {prompt_id!r} for model {model!r}"
        return (f"no recorded outcome for {what}; replay can only serve recorded answers: run live through "
                "a Gateway for new prompts or models")

    def row(self, prompt_id: str, model: str, sample: int = 0) -> pd.Series:
        """The recorded outcome as a Series (see :meth:`record`)."""
        return pd.Series(self.record(prompt_id, model, sample))

    def response(self, prompt_id: str, model: str, sample: int = 0) -> str | None:
        """The recorded response text (None when only a score was recorded)."""
        return self.record(prompt_id, model, sample)["response"]

    def prompt_codes(self, prompt_ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Each prompt id's code in this table (-1 where it has no outcome)."""
        return self._prompt_index.get_indexer(pd.Index(prompt_ids))

    def positions(self, prompt_ids: Sequence[str] | np.ndarray | None = None,
                  models: Sequence[str] | np.ndarray = (), *, prompt_codes: np.ndarray | None = None,
                  samples: Sequence[int] | np.ndarray | int = 0) -> np.ndarray:
        """Row positions for many (prompt, model, sample) triples at once (-1 where missing).

        Pass ``prompt_codes`` (from :meth:`prompt_codes`) to reuse a join across many calls.
        """
        if prompt_codes is None:
            if prompt_ids is None:
                raise TypeError("positions() needs prompt_ids or prompt_codes")
            prompt_codes = self.prompt_codes(prompt_ids)
        pi = prompt_codes
        m_codes, m_uniques = pd.factorize(np.asarray(models, dtype=object))
        mi = self._model_index.get_indexer(pd.Index(m_uniques))[m_codes]
        si = np.broadcast_to(np.asarray(samples, dtype=np.int64), np.shape(pi))
        si = np.zeros_like(si) if self.n_samples == 1 else si
        ok = (pi >= 0) & (mi >= 0) & (si >= 0) & (si < self.n_samples)
        return np.where(ok, self._matrix[np.where(ok, pi, 0), np.where(ok, mi, 0), np.where(ok, si, 0)], -1)

    def dense(self, values: np.ndarray | str = "score", *, sample: int | None = 0) -> tuple[pd.Index, pd.Index, np.ndarray]:
        """(prompt ids, models, prompt x model float array) of one column, or of ``values`` given per
        row; NaN where an outcome is missing. ``sample=None`` averages the recorded samples (the
        expected value per prompt). A gather through the position array, no pivot."""
        v = self.df[values].to_numpy(dtype=float, na_value=np.nan) if isinstance(values, str) \
            else np.asarray(values, dtype=float)
        m = self._matrix
        gathered = np.where(m >= 0, v[np.where(m >= 0, m, 0)], np.nan)
        if sample is None:
            with np.errstate(invalid="ignore"):
                counts = (~np.isnan(gathered)).sum(axis=2)
                out = np.where(counts > 0, np.nansum(gathered, axis=2) / np.maximum(counts, 1), np.nan)
        else:
            out = gathered[:, :, self._sample(sample)]
        return self._prompt_index, self._model_index, out

    def matrix(self, column: str = "score", *, sample: int | None = 0) -> pd.DataFrame:
        """A prompt x model table of one column (e.g. ``score`` or ``cost``)."""
        if pd.api.types.is_numeric_dtype(self.df[column]):
            prompts, models, values = self.dense(column, sample=sample)
            frame = pd.DataFrame(values, index=pd.Index(prompts, name="prompt_id"),
                                 columns=pd.Index(models, name="model"))
            return frame[sorted(frame.columns)].sort_index()
        rows = self.df if sample is None else self.df[self.df["sample"] == self._sample(sample)]
        return rows.pivot(index="prompt_id", columns="model", values=column)

    def with_df(self, df: pd.DataFrame) -> Outcomes:
        """The same outcomes with more or other columns: ``df`` has the same rows (prompt, model,
        sample), in the same order, so the position arrays are reused, not rebuilt."""
        if len(df) != len(self.df):
            raise ValueError("with_df needs the same rows in the same order")
        out = object.__new__(Outcomes)
        for name in ("_prompt_index", "_model_index", "_matrix", "_row_prompt", "_row_model", "_priced_with"):
            object.__setattr__(out, name, getattr(self, name))
        object.__setattr__(out, "df", df)
        object.__setattr__(out, "_scalar", None)
        return out

    def subset(self, prompt_ids: Iterable[str] | None = None, models: Iterable[str] | None = None) -> Outcomes:
        mask = np.ones(len(self.df), dtype=bool)
        if prompt_ids is not None:
            mask &= self.df["prompt_id"].isin(list(prompt_ids)).to_numpy()
        if models is not None:
            mask &= self.df["model"].isin(list(models)).to_numpy()
        out = Outcomes(self.df[mask].reset_index(drop=True))
        object.__setattr__(out, "_priced_with", self._priced_with)
        return out


@dataclass(frozen=True)
class Dataset:
    """Prompts (``prompt_id, task, prompt, reference``, optional ``system`` and metadata columns), their
    Outcomes, the model ``catalog`` the data is priced with and the ``scorers`` of its tasks.

    ``catalog`` (default: the packaged one) is what replay, routers and judges use unless given
    another: pass it once, here or to :func:`routerlab.datasets.load`. Models it does not know still
    replay with their recorded quality, tokens and cost; features that need a catalog field (list
    prices, simulated latency, capability scores) name the model and the field. ``scorers`` maps
    each task to its scorer (:class:`~routerlab.scoring.TaskScorers`; exact match unless named).
    """

    name: str
    prompts: pd.DataFrame
    outcomes: Outcomes | None = None
    info: dict[str, Any] = field(default_factory=dict)
    catalog: Catalog = field(default_factory=Catalog.default, repr=False)
    scorers: TaskScorers = field(default_factory=TaskScorers, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.scorers, TaskScorers):
            object.__setattr__(self, "scorers", TaskScorers(self.scorers))
        out = self.outcomes
        if out is not None:
            df = out.df
            unpriced = "cost_source" not in df.columns or bool(df["cost_source"].isna().any())
            if unpriced or out._priced_with is not self.catalog:
                out = out.with_df(resolve_costs(df, self.catalog, self.token_counts))
                object.__setattr__(out, "_priced_with", self.catalog)
                object.__setattr__(self, "outcomes", out)

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def tasks(self) -> list[str]:
        return sorted(self.prompts["task"].unique().tolist())

    @property
    def models(self) -> list[str]:
        return self.outcomes.models if self.outcomes is not None else []

    def with_catalog(self, catalog: Catalog) -> Dataset:
        """This data set priced with another catalog: recorded costs stay as recorded, list-price costs
        are computed again, and replay, routers and judges use the new catalog."""
        if catalog is self.catalog:
            return self
        return self._derived(self.name, self.prompts, self.outcomes, self._public_info(), catalog)

    def with_scorers(self, scorers: Any) -> Dataset:
        """This data set with other scorers named (a mapping task -> scorer or name, or one scorer),
        its outcomes scored again: recorded scores stay, answers are read by the new scorers."""
        from ._scores import score_outcomes

        table = self.scorers.merged(scorers)
        out = self.outcomes
        if out is not None:
            out = out.with_df(score_outcomes(self.prompts, out.df, table))
        return Dataset(self.name, self.prompts, out, self._public_info(), self.catalog, table)

    def answers(self, rows: np.ndarray | None = None) -> pd.Series:
        """The normalised answer of every outcome row (or of the rows at ``rows``): what agreement
        strategies compare; None where the response holds none. Answers of recorded-score outcomes are
        read on first use, by each task's scorer, and kept; reading all of them also writes them into
        ``outcomes.df`` (``answer``, ``normalized``, ``answer_read``)."""
        reader = self._answer_reader()
        reader.fill(rows)
        if rows is None:
            assert self.outcomes is not None
            if not self.outcomes.df["answer_read"].all() if "answer_read" in self.outcomes.df else False:
                df = self.outcomes.df.assign(answer=pd.Series(reader.raw, dtype=object),
                                             normalized=pd.Series(reader.norm, dtype=object), answer_read=True)
                object.__setattr__(self, "outcomes", self.outcomes.with_df(df))
            return pd.Series(reader.norm, dtype=object)
        idx = np.asarray(rows, dtype=np.int64)
        return pd.Series(reader.norm[idx], index=idx, dtype=object)

    def answer_of(self, position: int) -> tuple[str | None, str | None]:
        """(raw answer, normalised answer) of the outcome row at ``position``, read now if it was not yet."""
        return self._answer_reader().one(position)

    def _answer_reader(self) -> Any:
        from ._scores import AnswerReader

        if self.outcomes is None:
            raise DatasetError(f"data set {self.name!r} has no outcomes")
        reader = self.info.get("_answers")
        if reader is None or reader.n != len(self.outcomes.df):
            reader = AnswerReader(self.prompts, self.outcomes.df, self.scorers)
            self.info["_answers"] = reader
        return reader

    def scorer_for(self, task: str | None) -> Scorer:
        """The scorer of ``task`` in this data set (exact match when none is named; logged)."""
        return self.scorers.for_task(task)

    def _derived(self, name: str, prompts: pd.DataFrame, outcomes: Outcomes | None, info: dict[str, Any],
                 catalog: Catalog | None = None) -> Dataset:
        return Dataset(name, prompts, outcomes, info, catalog or self.catalog, self.scorers)

    def _public_info(self) -> dict[str, Any]:
        return {k: v for k, v in self.info.items() if not k.startswith("_")}

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
        return self._derived(self.name, p, out, self._public_info())

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
        is_test = self.prompts["prompt_id"].isin(set(test_ids))
        train = self.filter(prompt_ids=self.prompts.loc[~is_test, "prompt_id"])
        test = self.filter(prompt_ids=self.prompts.loc[is_test, "prompt_id"])
        info = {**self._public_info(), "split_seed": seed, "test_size": test_size}
        return (self._derived(f"{self.name}[train]", train.prompts, train.outcomes, {**info, "split": "train"}),
                self._derived(f"{self.name}[test]", test.prompts, test.outcomes, {**info, "split": "test"}))

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

    # tokens ------------------------------------------------------------------------------------
    def token_counts(self, positions: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(input, output) token counts of outcome rows (all rows, or ``positions``), int64.

        Recorded counts as recorded; where the data records none, cl100k counts of the prompt (its
        system prompt and prompt text) and of the response, counted on first use and kept
        (``token_estimated`` says which). Missing responses count 0 output tokens.
        """
        return self._token_counter().get(positions)

    def token_count(self, position: int) -> tuple[int, int]:
        """(input, output) tokens of the outcome row at ``position`` (see :meth:`token_counts`)."""
        return self._token_counter().one(position)

    def _token_counter(self) -> TokenCounts:
        if self.outcomes is None:
            raise DatasetError(f"data set {self.name!r} has no outcomes to count tokens of")
        counts = self.info.get("_tokens")
        if counts is None or not counts.matches(len(self.outcomes.df)):
            counts = TokenCounts(self)
            self.info["_tokens"] = counts
        return counts

    def token_estimated(self) -> np.ndarray:
        """Per outcome row: True where the input or output count is a cl100k estimate (not recorded)."""
        if self.outcomes is None:
            return np.zeros(0, dtype=bool)
        df = self.outcomes.df
        return (df["input_tokens"].isna() | df["output_tokens"].isna()).to_numpy()

    # views -------------------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """Per model: outcomes, how many are scored and missing (excluded from the mean, never 0),
        mean score, total and mean cost in USD with where the cost came from, answers found (for
        agreement strategies) and recorded samples per prompt."""
        if self.outcomes is None:
            return pd.DataFrame()
        df = self.outcomes.df
        g = df.groupby("model", sort=True)
        out = pd.DataFrame({
            "outcomes": g.size(),
            "scored": g["score"].count(),
            "missing": g["score"].apply(lambda s: int(s.isna().sum())),
            "quality": g["score"].mean(),
            "cost": g["cost"].sum(min_count=1),
            "cost_per_call": g["cost"].mean(),
            "cost_source": g["cost_source"].agg(
                lambda s: ", ".join(f"{k}: {v}" for k, v in s.value_counts().items() if v)),
        })
        if "normalized" in df.columns:
            found = self.answers().notna().to_numpy()
            out["answers_found"] = pd.Series(found).groupby(df["model"].to_numpy()).sum()
        out["samples"] = g["sample"].max() + 1
        return out

    def __repr__(self) -> str:
        """One line: ``zeroeval: 2,840 prompts, 3 tasks, 9 models, 25,560 outcomes``."""
        n_out = len(self.outcomes) if self.outcomes is not None else 0
        return (f"{self.name}: {len(self):,} prompts, {len(self.tasks)} task{'s' * (len(self.tasks) != 1)}, "
                f"{len(self.models)} model{'s' * (len(self.models) != 1)}, {n_out:,} outcomes")

    def _repr_html_(self) -> str:
        """The one line, then per task: prompts and, with outcomes, each model's mean score; the
        outcomes without a score (missing, never 0) and the scorers."""
        from html import escape

        table = self.prompts.groupby("task").size().rename("prompts").to_frame()
        note = ""
        if self.outcomes is not None and "score" in self.outcomes.df.columns:
            task_of = self.prompts.set_index("prompt_id")["task"]
            out = self.outcomes.df.assign(task=lambda d: d["prompt_id"].map(task_of))
            table = table.join(out.pivot_table(index="task", columns="model", values="score", aggfunc="mean"))
            missing = int(self.outcomes.df["score"].isna().sum())
            note = f"<br>{missing:,} outcomes without a score (missing, not 0)" if missing else ""
        return (f"<div><b>{escape(repr(self))}</b>{note}"
                + table.to_html(float_format=lambda v: f"{v:.3f}", na_rep="—", border=0)
                + "scorers: " + ", ".join(f"{escape(t)} → <code>{escape(s)}</code>"
                                           for t, s in self.scorers.names().items()) + "</div>")

