"""``load``: bundled data sets by name, users' files, directories, DataFrames and other tools' output,
all through one validation path; scoring outcomes on load."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import DatasetError
from ..scoring import Scorer, TaskScorers
from ..tokens import remember
from ._dataset import Dataset, Outcomes, bundled, data_dir
from ._read import Located, read_table
from ._scores import cached_scores, score_outcomes, store_scores
from ._validate import prompts_from_long, renamed, validate_outcomes, validate_prompts
from ._wide import wide_to_long

__all__ = ["load", "from_frames", "FORMATS"]

log = logging.getLogger("routerlab.datasets")

ScorerSpec = Mapping[str, str | Scorer] | str | Scorer | None


_IMPORTERS = {"inspect": ("._inspect", "read_inspect"), "lm-eval": ("._lmeval", "read_lm_eval"),
              "llmrouterbench": ("._llmrouterbench", "read_llmrouterbench"), "routellm": ("._routellm", "read_routellm")}


def _importer(fmt: str) -> Callable[..., tuple[Located, dict[str, Any]]]:
    """The reader of another tool's output (imported on use: inspect-ai is slow to import)."""
    import importlib

    module, func = _IMPORTERS[fmt]
    reader: Callable[..., tuple[Located, dict[str, Any]]] = getattr(importlib.import_module(module, __package__), func)
    return reader


#: Formats ``load(..., format=...)`` reads; most are detected from the path.
FORMATS = ("table", "long", "wide", "routerbench", "directory", "inspect", "lm-eval", "llmrouterbench", "routellm")
_FORMAT_ALIASES = {"openrouterbench": "llmrouterbench", "lm_eval": "lm-eval", "lmeval": "lm-eval",
                   "inspect-ai": "inspect", "inspect_ai": "inspect", "routerbench": "wide"}


def load(source: str | os.PathLike[str] | pd.DataFrame = "zeroeval", *, format: str | None = None,
         score: bool = True, catalog: Catalog | None = None, scorers: ScorerSpec = None,
         models: Sequence[str] | None = None, name: str | None = None, **options: Any) -> Dataset:
    """Load a bundled data set by name, your own file or directory, a DataFrame, or another tool's output.

    ``source``: a bundled name (``zeroeval``, ``routellm``), a path, or a DataFrame. ``format``
    (detected where unambiguous; see :data:`FORMATS`; ``table``: long if it has a ``model`` column,
    else wide):

    - ``long``: one row per (prompt, model): ``prompt_id, prompt, model`` and optionally ``task,
      reference, system, response, prediction, score, input_tokens, output_tokens, cost, latency,
      sample`` (JSONL, JSON, CSV, TSV, Parquet, pickle; optionally gzipped).
    - ``wide`` / ``routerbench``: one row per prompt, columns per model (see :mod:`._wide`).
    - ``directory``: ``prompts.*`` and ``outcomes.*`` (long form without prompt columns), and
      optionally ``scorers.json`` (task -> scorer name) and ``catalog.yaml`` (its models' prices).
    - ``inspect`` (inspect-ai ``.eval`` / ``.json`` logs), ``lm-eval`` (``samples_<task>_*.jsonl``),
      ``llmrouterbench`` (``<dataset>/<split>/<model>/<timestamp>.json``), ``routellm`` (RouteLLM's
      eval CSVs and MT-Bench judgements): each importer's docstring lists the fields it reads.

    ``catalog``: prices, windows and latency profiles (default: the packaged catalog); the Dataset
    carries it, so replay, routers and judges need it no more. Models it does not know load and
    replay with their recorded quality, tokens and cost. Recorded costs are used as recorded; list
    prices only fill gaps (``outcomes.df["cost_source"]`` says which). ``scorers``: the scorer of each
    task (a mapping task -> scorer or name, or one for every task); tasks not named get exact match
    (bundled sets name theirs). ``score=True`` fills each outcome's ``score`` (where the data records
    none), ``answer`` and ``normalized``. ``models`` names the model columns of a wide table.
    Importer options (``scorer_name=``, ``metric=``, ``filter=``, ``model=``, ``merge=``) pass through.

    Raises :class:`~routerlab.errors.DatasetError` naming the file, the line (or row, or record) and
    the field of the first problem; nothing is loaded silently changed.

    Example::

        >>> ds = load("zeroeval")                                      # doctest: +SKIP
        >>> ds = load("runs.csv", scorers={"math": "numeric"})          # doctest: +SKIP
        >>> ds = load("logs/", format="inspect", catalog=my_catalog)    # doctest: +SKIP
    """
    catalog = catalog or Catalog.default()
    if isinstance(source, pd.DataFrame):
        if options:
            raise DatasetError(f"unexpected options {sorted(options)} for a DataFrame (they are importer options)")
        fmt = _format(format) or "table"
        table = Located(source, name or "<DataFrame>", None, "row")
        prompts, outcomes, notes = _from_table(table, fmt, name or "data", models)
        return _finish(name or "data", prompts, outcomes, notes, catalog, scorers, score, None)
    path = _resolve(source)
    fmt = _format(format) or _detect(path)
    log.info("loading %s as %s", path, fmt)
    if options and fmt not in _IMPORTERS:
        raise DatasetError(f"unexpected options {sorted(options)} for format {fmt!r} (they are importer options)",
                           path=str(path))
    if models is not None and fmt not in ("table", "wide"):
        raise DatasetError(f"models= names the model columns of a wide table; format {fmt!r} has none", path=str(path))
    extra_scorers: ScorerSpec = None
    if fmt == "directory":
        prompts, outcomes, notes = _from_directory(path)
        catalog = _directory_catalog(path, catalog)
        extra_scorers = _directory_scorers(path)
    elif fmt in ("table", "long", "wide"):
        prompts, outcomes, notes = _from_table(read_table(path), fmt, path.stem, models)
    else:
        long, notes = _importer(fmt)(path, catalog=catalog, **options)
        prompts, outcomes = prompts_from_long(long, notes.pop("prompt_columns", ())), long
    spec = TaskScorers(extra_scorers).merged(scorers) if extra_scorers is not None else scorers
    ds = _finish(name or path.name if path.is_dir() else (name or path.stem), prompts, outcomes,
                 {**notes, "source": str(path), "format": fmt}, catalog, spec, score, path if fmt == "directory" else None)
    if ds.outcomes is not None and path.parent == data_dir() and "system" not in prompts.columns:
        # bundled sets record each prompt's cl100k count (the build script counted them): routers need
        # not count them again. Users' files may record provider usage instead, so they are not used.
        first = ds.outcomes.df.drop_duplicates("prompt_id")
        text = dict(zip(prompts["prompt_id"], prompts["prompt"]))
        remember([text[p] for p in first["prompt_id"]], first["input_tokens"].to_numpy(dtype=np.int64))
    return ds


def from_frames(prompts: pd.DataFrame, outcomes: pd.DataFrame | None = None, *, name: str = "data",
                catalog: Catalog | None = None, scorers: ScorerSpec = None, score: bool = True) -> Dataset:
    """A Dataset from a prompts DataFrame and a long-form outcomes DataFrame, validated like files
    (errors name the DataFrame and the row)."""
    p = validate_prompts(Located(prompts, f"<{name} prompts>", None, "row"))
    o = Located(outcomes, f"<{name} outcomes>", None, "row") if outcomes is not None else None
    return _finish(name, p, o, {"source": "<DataFrame>"}, catalog or Catalog.default(), scorers, score, None)


def _format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    key = _FORMAT_ALIASES.get(fmt.strip().lower(), fmt.strip().lower())
    if key not in FORMATS:
        raise DatasetError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return "wide" if key == "routerbench" else key


def _resolve(source: str | os.PathLike[str]) -> Path:
    path = Path(source)
    if path.exists():
        return path
    candidate = data_dir() / str(source)
    if candidate.is_dir() and os.sep not in str(source):
        return candidate
    raise DatasetError(f"no bundled data set or file named {str(source)!r}; bundled: {bundled()}. "
                       "Pass a path to a file or directory, or a DataFrame.")


def _detect(path: Path) -> str:
    """The format of ``path`` when its layout or content says it unambiguously."""
    from ._detect import detect

    return detect(path)


def _from_table(table: Located, fmt: str, stem: str, models: Sequence[str] | None
                ) -> tuple[pd.DataFrame, Located | None, dict[str, Any]]:
    table = renamed(table)
    if fmt == "long" or (fmt == "table" and "model" in table.df.columns):
        return prompts_from_long(table), table, {}
    prompts_loc, long, notes = wide_to_long(table, stem, models)
    return validate_prompts(prompts_loc), long, notes


def _one(directory: Path, stem: str, required: bool = True) -> Path | None:
    for ext in (".parquet", ".jsonl", ".csv", ".json", ".tsv", ".pkl", ".jsonl.gz", ".csv.gz"):
        if (directory / f"{stem}{ext}").exists():
            return directory / f"{stem}{ext}"
    if required:
        raise DatasetError(f"directory {directory} has no {stem}.parquet, {stem}.jsonl or {stem}.csv")
    return None


def _from_directory(path: Path) -> tuple[pd.DataFrame, Located | None, dict[str, Any]]:
    prompts_file = _one(path, "prompts")
    assert prompts_file is not None  # required=True raises instead
    outcomes_file = _one(path, "outcomes", required=False)
    prompts = validate_prompts(read_table(prompts_file))
    return prompts, (read_table(outcomes_file) if outcomes_file is not None else None), {}


def _directory_scorers(path: Path) -> dict[str, str] | None:
    f = path / "scorers.json"
    if not f.exists():
        return None
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read the scorers file: {exc}", path=str(f)) from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise DatasetError('scorers.json must map task names to scorer names, e.g. {"math": "numeric"}', path=str(f))
    return data


def _directory_catalog(path: Path, catalog: Catalog) -> Catalog:
    f = next((path / n for n in ("catalog.yaml", "catalog.yml") if (path / n).exists()), None)
    return catalog.merge(Catalog.from_file(f)) if f is not None else catalog


def _finish(name: str, prompts: pd.DataFrame, outcomes: Located | None, notes: dict[str, Any], catalog: Catalog,
            scorers: ScorerSpec, score: bool, directory: Path | None) -> Dataset:
    task_scorers = scorers if isinstance(scorers, TaskScorers) else TaskScorers(scorers)
    task_scorers.check(prompts["task"].unique(), f"data set {name!r}")
    info = dict(notes)
    out = None
    if outcomes is not None:
        df, renamed_models = validate_outcomes(outcomes, prompts, catalog)
        if renamed_models:
            info["renamed_models"] = renamed_models
            log.info("model names read as the catalog spells them: %s", renamed_models)
        out = Outcomes(df)
    ds = Dataset(name, prompts, out, info, catalog, task_scorers)
    if score and ds.outcomes is not None:
        scored = cached_scores(directory, ds) if directory is not None else None
        if scored is None:
            scored = score_outcomes(ds.prompts, ds.outcomes.df, ds.scorers)
            if directory is not None:
                store_scores(directory, ds, scored)
        ds = Dataset(ds.name, ds.prompts, ds.outcomes.with_df(scored), ds.info, ds.catalog, ds.scorers)
        missing = int(scored["score"].isna().sum())
        if missing:
            ds.info["missing_scores"] = missing
            log.info("%s: %d outcomes have no score (missing, excluded from quality, never 0)", name, missing)
    return ds
