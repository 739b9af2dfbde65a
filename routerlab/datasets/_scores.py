"""Scoring outcomes on load with each task's scorer, and a cache of the bundled sets' scores."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..scoring import Scorer, TaskScorers, score_rows

if TYPE_CHECKING:
    from ._dataset import Dataset

__all__ = ["score_outcomes", "AnswerReader", "cached_scores", "store_scores"]


def score_outcomes(prompts: pd.DataFrame, outcomes: pd.DataFrame,
                   scorers: TaskScorers | Scorer | None = None) -> pd.DataFrame:
    """Fill ``score`` (where the data records none and one can be computed), ``score_source``
    (``recorded``, ``scored`` or ``missing``), ``answer`` (the raw extracted answer), ``normalized``
    (the scorer's canonical answer) and ``answer_read`` of each outcome. Scoring again (other
    scorers) keeps only the data's own scores.

    Which scorer: ``scorers`` (a :class:`~routerlab.scoring.TaskScorers`, or one scorer for every
    task); by default exact match. A score is computed only when the data records no score for the
    model at all (a model with recorded scores keeps its empty cells missing: the data's own grading
    is not redone by another rule), the response is recorded, and the reference is not empty (or the
    scorer needs none). Everything else stays missing (NaN), never 0. A ``prediction`` column (an
    answer another tool extracted) is used as the answer, normalised by the task's scorer; a
    recorded score alone gives an answer where the scorer says so (pass/fail).

    Answers of responses whose score is recorded are read on demand (:class:`AnswerReader`,
    ``answer_read`` False until then): only strategies that compare answers need them, and reading
    every response of a large import is most of its load time.
    """
    table = scorers if isinstance(scorers, TaskScorers) else TaskScorers(scorers)
    out = outcomes.copy()
    task, reference, who, responses = _columns(prompts, out)
    has_response = np.array([isinstance(r, str) for r in responses], dtype=bool)
    scores = out["score"].to_numpy(dtype=float, na_value=np.nan).copy()
    if "score_source" in out.columns:  # scored before: only the data's own scores stay
        recorded = (out["score_source"] == "recorded").to_numpy()
        scores[~recorded] = np.nan
    else:
        recorded = ~np.isnan(scores)
    graded = pd.Series(recorded).groupby(out["model"].to_numpy()).transform("any").to_numpy(dtype=bool)
    answers = np.full(len(out), None, dtype=object)
    normalized = np.full(len(out), None, dtype=object)
    read = ~has_response  # nothing to read in a missing response
    prediction = out["prediction"].to_numpy(dtype=object) if "prediction" in out.columns else None
    for t in pd.unique(task):
        scorer = table.for_task(str(t))
        in_task = task == t
        needs_ref = bool(getattr(scorer, "needs_reference", True))
        todo = in_task & np.isnan(scores) & ~graded & has_response & ((reference != "") | (not needs_ref))
        rows = np.flatnonzero(todo)
        if rows.size:
            values, got, norm = score_rows(scorer, responses[rows], reference[rows], who[rows])
            scores[rows], answers[rows], normalized[rows] = values, got, norm
            read[rows] = True
        if prediction is not None:
            read |= _predictions(scorer, np.flatnonzero(in_task), prediction, answers, normalized)
        from_score = getattr(scorer, "answer_from_score", None)
        if from_score is not None:
            for i in np.flatnonzero(in_task & ~np.isnan(scores) & (normalized == None)):  # noqa: E711
                normalized[i] = from_score(float(scores[i]))
                read[i] = read[i] or normalized[i] is not None
    out["score"] = scores
    out["score_source"] = pd.Categorical(np.where(recorded, "recorded", np.where(np.isnan(scores), "missing", "scored")),
                                         categories=["recorded", "scored", "missing"])
    out["answer"] = pd.Series(answers, index=out.index, dtype=object)
    out["normalized"] = pd.Series(normalized, index=out.index, dtype=object)
    out["answer_read"] = read
    return out


class AnswerReader:
    """The answers of a data set's outcome rows, read lazily by each task's scorer and kept in arrays
    (reading never copies the outcomes table; a replay reads only the rows it serves)."""

    def __init__(self, prompts: pd.DataFrame, outcomes: pd.DataFrame, scorers: TaskScorers | Scorer | None) -> None:
        n = len(outcomes)
        self.n = n
        self.scorers = scorers if isinstance(scorers, TaskScorers) else TaskScorers(scorers)
        none = np.full(n, None, dtype=object)
        self.raw = outcomes["answer"].to_numpy(dtype=object, na_value=None).copy() if "answer" in outcomes else none
        self.norm = (outcomes["normalized"].to_numpy(dtype=object, na_value=None).copy() if "normalized" in outcomes
                     else none.copy())
        self.read = (outcomes["answer_read"].to_numpy(dtype=bool).copy() if "answer_read" in outcomes
                     else np.ones(n, dtype=bool))
        self.task, _, self.who, self.responses = _columns(prompts, outcomes)

    def fill(self, rows: np.ndarray | None = None) -> None:
        """Read the answers of the rows at ``rows`` (default: all) that were not read yet."""
        idx = np.arange(self.n) if rows is None else np.asarray(rows, dtype=np.int64)
        todo = idx[~self.read[idx]]
        for t in pd.unique(self.task[todo]):
            _answers_only(self.scorers.for_task(str(t)), todo[self.task[todo] == t], self.responses, self.who,
                          self.raw, self.norm)
        self.read[todo] = True

    def one(self, i: int) -> tuple[str | None, str | None]:
        """(raw, normalised) answer of row ``i``, read now if needed (no arrays: the per-call path)."""
        if not self.read[i]:
            _answers_only(self.scorers.for_task(str(self.task[i])), (i,), self.responses, self.who, self.raw,
                          self.norm)
            self.read[i] = True
        return self.raw[i], self.norm[i]


def _columns(prompts: pd.DataFrame, out: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per outcome row: its task, reference, the model id scorers see, and its response."""
    meta = prompts.set_index("prompt_id")
    task = meta["task"].reindex(out["prompt_id"]).to_numpy(dtype=object)
    reference = meta["reference"].reindex(out["prompt_id"]).fillna("").to_numpy(dtype=object)
    who = (out["generator"] if "generator" in out.columns else out["model"]).to_numpy(dtype=object)
    return task, reference, who, out["response"].to_numpy(dtype=object)


def _answers_only(scorer: Any, rows: Any, responses: np.ndarray, who: np.ndarray,
                  answers: np.ndarray, normalized: np.ndarray) -> None:
    """Answers of responses whose score is recorded (or missing): extracted, not scored."""
    extract, normalize = getattr(scorer, "extract", None), getattr(scorer, "normalize", None)
    if extract is None or normalize is None:
        return
    for i in rows:
        raw = extract(responses[i], model=who[i]) if isinstance(responses[i], str) else None
        if raw is not None:
            answers[i] = raw
            normalized[i] = normalize(raw)


def _predictions(scorer: Any, rows: np.ndarray, prediction: np.ndarray, answers: np.ndarray,
                 normalized: np.ndarray) -> np.ndarray:
    """A tool's own extracted answer wins over ours: it is what the tool scored. Returns the rows read."""
    normalize = getattr(scorer, "normalize", None)
    read = np.zeros(len(prediction), dtype=bool)
    for i in rows:
        p = prediction[i]
        if isinstance(p, str) and p.strip():
            answers[i] = p
            normalized[i] = normalize(p) if normalize is not None else p
            read[i] = True
    return read


# ---------------------------------------------------------------------------------------------
# the score cache: a speed-up for directories loaded again and again (the bundled sets)

def _cache_key(directory: Path, ds: Dataset) -> str | None:
    """Files, scoring rules and scorer choices behind a scored outcomes table: any change, a new key."""
    from .. import scoring

    h = hashlib.sha256()
    try:
        for f in sorted(directory.iterdir()):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        for f in sorted(Path(scoring.__file__).parent.glob("*.py")):
            h.update(f.read_bytes())
        h.update(Path(__file__).read_bytes())
    except OSError:
        return None
    h.update(json.dumps(ds.scorers.names(), sort_keys=True).encode())
    return h.hexdigest()


def _cache() -> Any:
    import diskcache

    root = os.environ.get("ROUTERLAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "routerlab")
    return diskcache.Cache(os.path.join(root, "scores"), size_limit=2**30)


def cached_scores(directory: Path, ds: Dataset) -> pd.DataFrame | None:
    """Scores computed by an earlier load of the same files with the same rules (a speed-up only:
    any problem with the cache means scoring again)."""
    key = _cache_key(directory, ds)
    if key is None or ds.outcomes is None:
        return None
    try:
        with _cache() as cache:
            hit = cache.get(key)
    except Exception:  # noqa: BLE001 - a broken cache must never stop a load
        return None
    if not isinstance(hit, tuple) or len(hit) != 5 or len(hit[0]) != len(ds.outcomes):
        return None
    out = ds.outcomes.df.copy()
    out["score"] = hit[0]
    out["answer"], out["normalized"] = (pd.Series(h, index=out.index, dtype=object) for h in hit[1:3])
    out["score_source"] = pd.Categorical(hit[3], categories=["recorded", "scored", "missing"])
    out["answer_read"] = hit[4]
    return out


def store_scores(directory: Path, ds: Dataset, scored: pd.DataFrame) -> None:
    key = _cache_key(directory, ds)
    if key is None:
        return
    try:
        with _cache() as cache:
            cache.set(key, (scored["score"].to_numpy(), scored["answer"].to_numpy(dtype=object),
                            scored["normalized"].to_numpy(dtype=object),
                            scored["score_source"].to_numpy(dtype=object), scored["answer_read"].to_numpy()))
    except Exception:  # noqa: BLE001 - caching is optional
        pass
