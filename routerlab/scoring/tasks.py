"""Which scorer scores which task of a data set: named by the data, never guessed from a task name.

A data set carries a :class:`TaskScorers`: the bundled sets map their tasks to the rules their
published numbers were computed with (``datasets/zeroeval/scorers.json``: ZeroEval's rules); a
user's data gets :class:`~routerlab.scoring.ExactMatch` for every task unless the user names a
scorer (``datasets.load(path, scorers={"math": "numeric"})`` or a ``scorers.json`` beside the
files). A task with no scorer named is scored by the default and logged once; a name in the mapping
that matches no task of the data is logged as a warning (a typo would otherwise go unnoticed).

Scorer names (:func:`get_scorer`): ``exact-match``, ``contains``, ``numeric``, ``multiple-choice``
(A-D; ``multiple-choice-10`` for A-J), ``passthrough``, ``pass-fail``, ``zeroeval-math``,
``zeroeval-crux``, ``math-equivalence``; or pass a scorer object.

Example:
    >>> ts = TaskScorers({"gsm": "zeroeval-math", "quiz": MultipleChoice(5)})
    >>> ts.for_task("gsm"), ts.for_task("quiz"), ts.for_task("trivia")
    (ZeroEvalMath(), MultipleChoice(n_choices=5), ExactMatch(extract=True, case_sensitive=False))
    >>> ts.names()
    {'gsm': 'ZeroEvalMath()', 'quiz': 'MultipleChoice(n_choices=5)', '*': 'ExactMatch(extract=True, case_sensitive=False)'}
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..errors import ConfigError
from ._base import Contains, ExactMatch, MultipleChoice, PassFail, Passthrough, Scorer
from .mathequiv import MathEquivalence
from .numeric import Numeric
from .zeroeval import ZeroEvalCrux, ZeroEvalMath

__all__ = ["SCORER_NAMES", "TaskScorers", "get_scorer"]

log = logging.getLogger("routerlab.scoring")

SCORER_NAMES: dict[str, Callable[[], Scorer]] = {
    "exact-match": ExactMatch,
    "contains": Contains,
    "numeric": Numeric,
    "multiple-choice": MultipleChoice,
    "passthrough": Passthrough,
    "pass-fail": PassFail,
    "zeroeval-math": ZeroEvalMath,
    "zeroeval-crux": ZeroEvalCrux,
    "math-equivalence": MathEquivalence,
}
_CHOICES = re.compile(r"multiple-choice-(\d+)")


def get_scorer(spec: str | Scorer) -> Scorer:
    """A scorer from its name (see the module docstring) or the scorer itself.

    Example:
        >>> get_scorer("numeric"), get_scorer("multiple-choice-10")
        (Numeric(digits=12), MultipleChoice(n_choices=10))
    """
    if not isinstance(spec, str):
        if not callable(getattr(spec, "score", None)):
            raise ConfigError(f"{spec!r} is not a scorer: it needs score(response, reference, *, model=None)")
        return spec
    key = spec.strip().lower().replace("_", "-")
    if key in SCORER_NAMES:
        return SCORER_NAMES[key]()
    choices = _CHOICES.fullmatch(key)
    if choices:
        return MultipleChoice(int(choices.group(1)))
    raise ConfigError(f"unknown scorer {spec!r}; known: {', '.join(SCORER_NAMES)} (or multiple-choice-<n>), "
                      "or pass a Scorer object")


class TaskScorers(Mapping[str, Scorer]):
    """task -> scorer for one data set; tasks it does not name get ``default`` (exact match).

    ``scorers``: a mapping task -> scorer (or scorer name), or one scorer (or name) for every task.
    Iterating yields the named tasks only.
    """

    def __init__(self, scorers: Mapping[str, str | Scorer] | str | Scorer | None = None, *,
                 default: str | Scorer | None = None) -> None:
        if scorers is not None and not isinstance(scorers, Mapping):
            default, scorers = scorers, None
        self._named = {str(t): get_scorer(s) for t, s in (scorers or {}).items()}
        self.default = get_scorer(default) if default is not None else ExactMatch()
        self._logged: set[str] = set()

    def __getitem__(self, task: str) -> Scorer:
        return self._named[task]

    def __iter__(self) -> Iterator[str]:
        return iter(self._named)

    def __len__(self) -> int:
        return len(self._named)

    def for_task(self, task: str | None) -> Scorer:
        """The scorer of ``task``; a task not named gets the default, logged once per task."""
        key = "" if task is None else str(task)
        found = self._named.get(key)
        if found is not None:
            return found
        if key not in self._logged:
            self._logged.add(key)
            log.info("task %r has no scorer named: scoring it by %r (name one with scorers={%r: ...})",
                     key, self.default, key)
        return self.default

    def check(self, tasks: Iterable[str], where: str = "the data") -> None:
        """Log a warning for each named task that ``tasks`` does not hold (a typo, or another data set)."""
        present = set(map(str, tasks))
        for name in sorted(set(self._named) - present):
            log.warning("a scorer is named for task %r, but %s has no such task (its tasks: %s)",
                        name, where, sorted(present))

    def names(self) -> dict[str, str]:
        """task -> the scorer's repr, ``"*"`` for the default: a stable, JSON-able description."""
        return {**{t: repr(s) for t, s in self._named.items()}, "*": repr(self.default)}

    def merged(self, other: Mapping[str, str | Scorer] | str | Scorer | None) -> TaskScorers:
        """These scorers with ``other``'s names (or one scorer for every task) taking precedence."""
        if other is None:
            return self
        if not isinstance(other, Mapping):
            return TaskScorers(default=other)
        return TaskScorers({**self._named, **{str(t): get_scorer(s) for t, s in other.items()}},
                           default=self.default)

    def __repr__(self) -> str:
        return f"TaskScorers({self.names()})"

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{t}</td><td><code>{s}</code></td></tr>" for t, s in self.names().items())
        return f"<table><tr><th>task</th><th>scorer</th></tr>{rows}</table>"


def describe(scorers: Any) -> Any:
    """A JSON-able description of a scorer or TaskScorers (for configuration hashes)."""
    return scorers.names() if isinstance(scorers, TaskScorers) else (None if scorers is None else repr(scorers))
