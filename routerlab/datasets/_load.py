"""Loading data sets: bundled ones by name, users' files and directories; scoring outcomes on load."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import DatasetError
from ..tokens import remember
from ._dataset import Dataset, Outcomes, bundled, data_dir
from ._files import _from_single_file, _is_normalised, _normalise_outcomes, _normalise_prompts, _one, read_rows

__all__ = ["load", "score_outcomes"]

# ---------------------------------------------------------------------------------------------
# loading

def load(name_or_path: str | os.PathLike[str] = "zeroeval", *, score: bool = True,
         catalog: Catalog | None = None) -> Dataset:
    """Load a bundled data set by name, or your own file / directory.

    A directory holds ``prompts.*`` and ``outcomes.*`` (JSONL, CSV or Parquet). A single file holds
    long-form outcomes with prompt columns, or the wide form (one column per model).
    ``score=True`` fills each outcome's ``score`` and ``answer`` with the task's default scorer.
    """
    catalog = catalog or Catalog.default()
    path = Path(name_or_path)
    if not path.exists():
        candidate = data_dir() / str(name_or_path)
        if not candidate.is_dir():
            raise DatasetError(f"no bundled data set or file named {str(name_or_path)!r}; bundled: {bundled()}. "
                               "Pass a path to a JSONL, CSV or Parquet file or a directory.")
        path = candidate
    if path.is_dir():
        prompts_file = _one(path, "prompts")
        assert prompts_file is not None  # required=True raises instead of returning None
        outcomes_file = _one(path, "outcomes", required=False)
        prompts = _normalise_prompts(read_rows(prompts_file), prompts_file)
        outcomes = None
        if outcomes_file is not None:
            rows = read_rows(outcomes_file)
            outcomes = (rows.df if _is_normalised(rows.df, catalog)
                        else _normalise_outcomes(rows, outcomes_file, catalog, prompts))
        name = path.name
    else:
        prompts, outcomes = _from_single_file(path, catalog)
        name = path.stem
    ds = Dataset(name, prompts, Outcomes(outcomes) if outcomes is not None else None, {"source": str(path)})
    if ds.outcomes is not None and "system" not in prompts.columns and path.parent == data_dir():
        # bundled sets record each prompt's cl100k count (the build script counted them): routers need
        # not count them again. Users' files may record provider usage instead, so they are not used.
        first = ds.outcomes.df.drop_duplicates("prompt_id")
        text = dict(zip(prompts["prompt_id"], prompts["prompt"]))
        remember([text[p] for p in first["prompt_id"]], first["input_tokens"].to_numpy())
    if score and ds.outcomes is not None:
        scored = _cached_scores(path, ds) if path.is_dir() else None
        if scored is None:
            scored = score_outcomes(ds.prompts, ds.outcomes.df)
            if path.is_dir():
                _store_scores(path, scored)
        ds = Dataset(ds.name, ds.prompts, Outcomes(scored), ds.info)
    return ds


def _score_cache_key(directory: Path) -> str | None:
    """Files and scoring rules behind a scored outcomes table: any change gives a new key."""
    import hashlib

    from .. import scoring

    h = hashlib.sha256()
    try:
        for f in sorted(directory.iterdir()):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        for f in sorted(Path(scoring.__file__).parent.glob("*.py")):
            h.update(f.read_bytes())
    except OSError:
        return None
    return h.hexdigest()


def _score_cache() -> Any:
    import diskcache

    root = os.environ.get("ROUTERLAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "routerlab")
    return diskcache.Cache(os.path.join(root, "scores"), size_limit=2**30)


def _cached_scores(directory: Path, ds: Dataset) -> pd.DataFrame | None:
    """Scores computed by an earlier load of the same files with the same rules (a speed-up only:
    any problem with the cache means scoring again)."""
    key = _score_cache_key(directory)
    if key is None:
        return None
    try:
        with _score_cache() as cache:
            hit = cache.get(key)
    except Exception:  # noqa: BLE001 - a broken cache must never stop a load
        return None
    if hit is None or ds.outcomes is None or len(hit[0]) != len(ds.outcomes):
        return None
    out = ds.outcomes.df.copy()
    out["score"], out["answer"] = hit
    return out


def _store_scores(directory: Path, scored: pd.DataFrame) -> None:
    key = _score_cache_key(directory)
    if key is None:
        return
    try:
        with _score_cache() as cache:
            cache.set(key, (scored["score"].to_numpy(), scored["answer"].to_numpy(dtype=object)))
    except Exception:  # noqa: BLE001 - caching is optional
        pass


def score_outcomes(prompts: pd.DataFrame, outcomes: pd.DataFrame, scorer: Any = None) -> pd.DataFrame:
    """Fill ``score`` (where not recorded) and ``answer`` (the extracted answer, None when the response
    has none) with each task's default scorer.

    Recorded scores (data sets that hold only correctness or judge grades) are kept as they are; their
    responses, where there are any, still get their extracted ``answer``.
    """
    from ..scoring import extract_answer, scorer_for_task

    out = outcomes.copy()
    meta = prompts.set_index("prompt_id")
    task = meta["task"].reindex(out["prompt_id"]).to_numpy()
    reference = meta["reference"].reindex(out["prompt_id"]).to_numpy()
    who = (out["generator"] if "generator" in out.columns else out["model"]).to_numpy()
    responses = out["response"].to_numpy()
    answers = np.full(len(out), None, dtype=object)
    scores = out["score"].to_numpy(dtype=float, copy=True)
    todo = np.isnan(scores)
    for t in pd.unique(task[todo]):
        rows = np.flatnonzero(todo & (task == t))
        s: Any = scorer or scorer_for_task(str(t))
        values, extracted = s.score_many(responses[rows], reference[rows], who[rows])
        scores[rows] = values
        answers[rows] = extracted
    for i in np.flatnonzero(~todo):
        if isinstance(responses[i], str) and responses[i]:
            answers[i] = extract_answer(responses[i], who[i])
    out["score"] = scores
    out["answer"] = answers
    return out
