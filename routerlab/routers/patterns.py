"""Task detection learnt from labelled prompts: regex patterns a routing table can carry.

A strategy that routes by a task label (the bundled data sets label every prompt) decides nothing on
its own once exported: production prompts carry no label. :func:`learn_patterns` finds, for each task,
a few literal phrases (word 1-3-grams, and LaTeX / code symbols) that occur in that task's prompts and
almost never in the others', by greedy set cover: repeatedly the phrase that covers the most prompts of
the task not yet covered, among phrases whose precision on the labelled prompts is at least
``min_precision``. Each phrase becomes a case-insensitive regex (``\\bhow\\W+many\\b``) that Python's
``re`` and the stdlib runtime (:mod:`routerlab.runtime`) both run. Tasks are then put in the order
(first match wins) that detects the labelled prompts best. :func:`default_patterns_for` is the
alternative: :data:`~routerlab.routers.task.DEFAULT_PATTERNS` mapped onto the labels by majority.

Both report ``accuracy``: the share of the labelled prompts whose detected task is their label.

Example::

    >>> fit = learn_patterns(["Solve x^2 = 4", "Translate 'chat' to French", "Solve 2x = 6",
    ...                       "Translate 'dog' to German"], ["math", "translate", "math", "translate"])
    >>> fit.detect(["Solve 3x = 9", "Translate 'cat' to Spanish"]).tolist()
    ['math', 'translate']
    >>> fit.accuracy
    1.0
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PatternFit", "learn_patterns", "default_patterns_for", "SYMBOLS"]

#: Non-word characters that tell tasks apart (LaTeX, code, markup); each is a candidate pattern of its own.
SYMBOLS = "\\$^{}_[]|#=<>()`*"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class PatternFit:
    """Learnt task detection: ``patterns`` (task → regexes, in detection order: first match wins),
    ``default`` (the task of prompts nothing matches, or ``None``), ``accuracy`` on the labelled prompts,
    ``coverage`` (task → share of its prompts some pattern of its own matches) and ``method``."""

    patterns: dict[str, list[str]]
    default: str | None
    accuracy: float
    coverage: dict[str, float] = field(default_factory=dict)
    method: str = "learned"

    def detect(self, texts: Sequence[str]) -> np.ndarray:
        """The detected task of each text (``default`` when nothing matches), as the runtime does it."""
        compiled = [(t, re.compile("|".join(f"(?:{p})" for p in ps), re.IGNORECASE))
                    for t, ps in self.patterns.items() if ps]
        out = np.full(len(texts), self.default, dtype=object)
        for i, text in enumerate(texts):
            for task, rx in compiled:
                if rx.search(text):
                    out[i] = task
                    break
        return out

    def table_tasks(self) -> list[dict[str, object]]:
        """The ``tasks`` section of a routing table (``{"task", "patterns", "flags"}`` in order)."""
        return [{"task": t, "patterns": list(ps), "flags": ["IGNORECASE"]} for t, ps in self.patterns.items() if ps]


def _features(texts: Sequence[str], max_ngram: int) -> tuple[list[str], object]:
    """Candidate phrases and the (prompts × phrases) presence matrix: word n-grams and symbols."""
    from sklearn.feature_extraction.text import CountVectorizer

    words = CountVectorizer(lowercase=True, token_pattern=r"(?u)\b\w+\b", ngram_range=(1, max_ngram), binary=True,
                            min_df=2, dtype=np.int8)
    symbols = CountVectorizer(lowercase=False, analyzer=lambda s: [c for c in set(s) if c in SYMBOLS],
                              binary=True, dtype=np.int8)
    from scipy.sparse import hstack

    mats, names = [], []
    for vec, kind in ((words, "w"), (symbols, "s")):
        try:
            mats.append(vec.fit_transform(texts))
        except ValueError:  # no phrase occurs twice (tiny inputs): nothing to learn from this kind
            continue
        names += [f"{kind}:{n}" for n in vec.get_feature_names_out()]
    if not mats:
        return [], None
    return names, hstack(mats).tocsr()


def _regex(feature: str) -> str:
    kind, text = feature.split(":", 1)
    if kind == "s":
        return re.escape(text)
    return r"\b" + r"\W+".join(re.escape(w) for w in text.split()) + r"\b"


def _cover(x: object, y: np.ndarray, names: list[str], task: str, *, min_precision: float, max_patterns: int,
           target: float) -> list[int]:
    """Greedy set cover of ``task``'s prompts by precise phrases: column indexes, most useful first."""
    mine = y == task
    pos = np.asarray(x[mine].sum(axis=0)).ravel()  # type: ignore[index]
    tot = np.asarray(x.sum(axis=0)).ravel()  # type: ignore[attr-defined]
    ok = np.flatnonzero((pos >= 2) & (pos >= min_precision * tot))
    if not len(ok):
        return []
    sub = x[mine][:, ok].tocsc()  # type: ignore[index]
    covered = np.zeros(int(mine.sum()), dtype=bool)
    chosen: list[int] = []
    while len(chosen) < max_patterns and covered.mean() < target:
        gain = np.asarray(sub[~covered].sum(axis=0)).ravel()
        # ties: the more precise, then the shorter phrase (more general)
        best = max(range(len(ok)), key=lambda j: (gain[j], pos[ok[j]] / tot[ok[j]], -len(names[ok[j]])))
        if gain[best] < max(2, 0.005 * len(covered)):
            break
        chosen.append(int(ok[best]))
        covered |= sub[:, best].toarray().ravel() > 0
    return chosen


def _best_order(fit_patterns: dict[str, list[str]], texts: Sequence[str], y: np.ndarray,
                default: str | None) -> tuple[dict[str, list[str]], float]:
    """The task order (first match wins) that detects the labelled prompts best: every order for up to
    six tasks, else most precise first."""
    tasks = [t for t, ps in fit_patterns.items() if ps]
    hits = {t: np.array([bool(rx.search(s)) for s in texts])
            for t in tasks for rx in [re.compile("|".join(f"(?:{p})" for p in fit_patterns[t]), re.IGNORECASE)]}

    def accuracy(order: Sequence[str]) -> float:
        out = np.full(len(texts), default, dtype=object)
        undecided = np.ones(len(texts), dtype=bool)
        for t in order:
            take = undecided & hits[t]
            out[take] = t
            undecided &= ~take
        return float((out == y).mean()) if len(y) else 0.0

    if len(tasks) <= 6:
        order = max(itertools.permutations(tasks), key=accuracy)
    else:
        order = tuple(sorted(tasks, key=lambda t: -float((y[hits[t]] == t).mean()) if hits[t].any() else 0.0))
    return {t: fit_patterns[t] for t in order}, accuracy(order)


def learn_patterns(texts: Sequence[str], labels: Sequence[str], *, min_precision: float = 0.95,
                   max_patterns: int = 12, max_ngram: int = 3, target: float = 0.995) -> PatternFit:
    """Learn regex task detection from prompts and their task labels (see the module doc).

    ``texts``: the prompts (what the runtime sees: the last user message); ``labels``: their tasks.
    Sequential covering, in the runtime's first-match order: at each step, for every task not placed
    yet, phrases are chosen (greedy set cover, ``max_patterns`` at most, until ``target`` of its
    prompts are matched) among those with precision ≥ ``min_precision`` on the prompts no earlier task
    claims; the task whose phrases detect the most of its own prompts net of the others' goes next.
    The task left last (or, when no phrase helps, the most common label among the unclaimed prompts)
    is the ``default``: a prompt nothing matches gets it.
    """
    texts = [str(t) for t in texts]
    y = np.asarray([str(v) for v in labels], dtype=object)
    if len(texts) != len(y) or not len(y):
        raise ValueError(f"learn_patterns needs one label per text, got {len(texts)} texts, {len(y)} labels")
    names, x = _features(texts, max_ngram)
    left = [str(t) for t in np.unique(y)]
    open_ = np.ones(len(y), dtype=bool)  # prompts no placed task claims
    patterns: dict[str, list[str]] = {}
    while x is not None and len(left) > 1:
        rows = np.flatnonzero(open_)
        sub = x[rows]  # type: ignore[index]
        best: tuple[float, str, list[int], np.ndarray] | None = None
        for task in left:
            cols = _cover(sub, y[rows], names, task, min_precision=min_precision, max_patterns=max_patterns,
                          target=target)
            if not cols:
                continue
            hit = np.asarray(sub[:, cols].sum(axis=1)).ravel() > 0
            own = y[rows] == task
            # the share of its own prompts found, less the others it would take, per prompt of the task:
            # a small task found exactly goes before a large one found roughly
            net = float((hit & own).sum() - (hit & ~own).sum()) / max(int(own.sum()), 1)
            if best is None or net > best[0]:
                best = (net, task, cols, hit)
        if best is None or best[0] <= 0:
            break
        _, task, cols, hit = best
        patterns[task] = [_regex(names[j]) for j in cols]
        open_[rows[hit]] = False
        left.remove(task)
    rest = y[open_]
    values, counts = np.unique(rest if len(rest) else y, return_counts=True)
    default = str(values[int(np.argmax(counts))])
    fit = PatternFit(patterns, default, 0.0, {}, "learned")
    got = fit.detect(texts)
    return PatternFit(patterns, default, float((got == y).mean()), _coverage(fit, texts, y), "learned")


def default_patterns_for(texts: Sequence[str], labels: Sequence[str],
                         defaults: Mapping[str, Sequence[str]] | None = None) -> PatternFit:
    """:data:`~routerlab.routers.task.DEFAULT_PATTERNS` (or ``defaults``) mapped onto the labels: each
    default task goes to the label most of the prompts it detects carry; a label gets the patterns of
    the default tasks mapped to it, in the default order."""
    from .task import DEFAULT_PATTERNS

    defaults = dict(defaults or DEFAULT_PATTERNS)
    texts = [str(t) for t in texts]
    y = np.asarray([str(v) for v in labels], dtype=object)
    generic = PatternFit({t: list(p) for t, p in defaults.items()}, None, 0.0).detect(texts)
    patterns: dict[str, list[str]] = {}
    for task in defaults:
        hit = generic == task
        if hit.any():
            values, counts = np.unique(y[hit], return_counts=True)
            patterns.setdefault(str(values[int(np.argmax(counts))]), []).extend(defaults[task])
    tasks, counts = np.unique(y, return_counts=True)
    default = str(tasks[int(np.argmax(counts))]) if len(tasks) else None
    ordered, acc = _best_order(patterns, texts, y, default)
    fit = PatternFit(ordered, default, acc, {}, "default patterns mapped onto the labels")
    return PatternFit(ordered, default, acc, _coverage(fit, texts, y), fit.method)


def _coverage(fit: PatternFit, texts: Sequence[str], y: np.ndarray) -> dict[str, float]:
    got = fit.detect(texts)
    return {str(t): float((got[y == t] == t).mean()) for t in np.unique(y)}
