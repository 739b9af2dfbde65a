"""Score, the Scorer protocol, batch scoring and the generic scorers (exact, contains, regex, letter)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError
from .extract import extract_answer

__all__ = [
    "Score", "Scorer", "BaseScorer", "score_many",
    "ExactMatch", "Contains", "RegexScorer", "MultipleChoice", "Passthrough", "normalize_text",
]


@dataclass(frozen=True, slots=True)
class Score:
    """One scored response: ``value`` in [0, 1], the ``answer`` read from it, whether one was found.

    ``answer`` is the raw extracted answer (None when ``extracted`` is False, or the text a scorer
    fell back to).

    Example:
        >>> Score(1.0, "18", True).value
        1.0
    """

    value: float
    answer: str | None
    extracted: bool

    def __post_init__(self) -> None:
        if not 0.0 <= self.value <= 1.0:
            raise ConfigError(f"Score.value must be in [0, 1], got {self.value!r}")


@runtime_checkable
class Scorer(Protocol):
    """Anything with a ``name`` and ``score(response, reference, *, model=None) -> Score``.

    ``model`` is the id of the model that wrote ``response``; rules that depend on the model family
    (ZeroEval's Llama 3.1 ``\\boxed{}`` rule) use it, the others ignore it.

    Example:
        >>> isinstance(ExactMatch(), Scorer)
        True
    """

    name: str

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one response against its reference."""
        ...


def _models_for(models: str | Iterable[str | None] | None, n: int) -> list[str | None]:
    if models is None or isinstance(models, str):
        return [models] * n
    listed = list(models)
    if len(listed) != n:
        raise ConfigError(f"score_many: got {n} responses but {len(listed)} models; pass one model id "
                          "per response, a single id for all, or None")
    return listed


def score_many(scorer: Scorer, responses: Iterable[str | None], references: Iterable[str],
               models: str | Iterable[str | None] | None = None) -> tuple[np.ndarray, list[str | None]]:
    """Score many responses: an array of values (float64) and the list of extracted answers.

    ``models`` is None, one model id for all rows, or one per row. A missing response (``None`` or
    NaN: a call that produced nothing) scores 0 with no answer.

    Example:
        >>> values, answers = score_many(ExactMatch(), ["Paris", "Lyon"], ["paris", "paris"])
        >>> values.tolist(), answers
        ([1.0, 0.0], ['Paris', 'Lyon'])
    """
    resp, refs = list(responses), list(references)
    if len(resp) != len(refs):
        raise ConfigError(f"score_many: got {len(resp)} responses but {len(refs)} references; "
                          "they must be aligned one to one")
    mods = _models_for(models, len(resp))
    values = np.zeros(len(resp), dtype=np.float64)
    answers: list[str | None] = [None] * len(resp)
    score = scorer.score
    for k, (response, reference, model) in enumerate(zip(resp, refs, mods, strict=True)):
        if response is None or (isinstance(response, float) and response != response):
            continue
        result = score(response, reference, model=model)
        values[k] = result.value
        answers[k] = result.answer
    return values, answers


class BaseScorer:
    """Shared plumbing for routerlab's scorers: ``score_many`` and a readable ``repr``.

    Example:
        >>> ExactMatch().score_many(["a", "b"], ["a", "a"])[0].tolist()
        [1.0, 0.0]
    """

    name: str = "scorer"

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one response against its reference."""
        raise NotImplementedError

    def score_many(self, responses: Iterable[str | None], references: Iterable[str],
                   models: str | Iterable[str | None] | None = None) -> tuple[np.ndarray, list[str | None]]:
        """Batch form of :meth:`score`; see :func:`score_many`."""
        return score_many(self, responses, references, models)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


_WS = re.compile(r"\s+")


def _last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    last = deque(pattern.finditer(text), maxlen=1)
    return last[0] if last else None


def normalize_text(text: str, *, case_sensitive: bool = False) -> str:
    """Strip, collapse whitespace, drop one trailing period and (by default) casefold.

    Example:
        >>> normalize_text("  The  Answer. ")
        'the answer'
    """
    text = _WS.sub(" ", str(text)).strip()
    if text.endswith("."):
        text = text[:-1].rstrip()
    return text if case_sensitive else text.casefold()


class ExactMatch(BaseScorer):
    """1 if the answer equals the reference after :func:`normalize_text`, else 0.

    With ``extract=True`` (default) the answer is the JSON ``answer`` of the output when there is
    one (:func:`extract_answer`), else the whole output (then ``extracted`` is False).

    Example:
        >>> ExactMatch().score('{"answer": "Paris"}', "paris")
        Score(value=1.0, answer='Paris', extracted=True)
        >>> ExactMatch(case_sensitive=True).score("Paris", "paris").value
        0.0
    """

    name: str = "exact-match"

    def __init__(self, *, extract: bool = True, case_sensitive: bool = False) -> None:
        self.extract = extract
        self.case_sensitive = case_sensitive

    def __repr__(self) -> str:
        return f"ExactMatch(extract={self.extract}, case_sensitive={self.case_sensitive})"

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one response; see the class docstring."""
        answer = extract_answer(response, model) if self.extract else None
        extracted = answer is not None
        if answer is None:
            answer = str(response)
        same = normalize_text(answer, case_sensitive=self.case_sensitive) == normalize_text(
            reference, case_sensitive=self.case_sensitive)
        return Score(1.0 if same else 0.0, answer, extracted)


class Contains(BaseScorer):
    """1 if the (whitespace-normalised) reference occurs in the response, else 0.

    Example:
        >>> Contains().score("The capital is PARIS, of course.", "Paris")
        Score(value=1.0, answer='Paris', extracted=True)
    """

    name: str = "contains"

    def __init__(self, *, case_sensitive: bool = False) -> None:
        self.case_sensitive = case_sensitive

    def __repr__(self) -> str:
        return f"Contains(case_sensitive={self.case_sensitive})"

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one response; see the class docstring."""
        needle = _WS.sub(" ", str(reference)).strip()
        hay = _WS.sub(" ", str(response))
        if not self.case_sensitive:
            needle, hay = needle.casefold(), hay.casefold()
        found = bool(needle) and needle in hay
        return Score(1.0 if found else 0.0, str(reference) if found else None, found)


class RegexScorer(BaseScorer):
    """Extract the answer with a regex, then compare it with the reference like :class:`ExactMatch`.

    The answer is ``group`` of the first match (``last=True``: the last match); ``group`` defaults
    to 1 when the pattern has a group, else 0. No match scores 0 with no answer.

    Example:
        >>> s = RegexScorer(r"Answer:\\s*(\\w+)")
        >>> s.score("Reasoning... Answer: Blue", "blue")
        Score(value=1.0, answer='Blue', extracted=True)
        >>> RegexScorer("(")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        routerlab.errors.ConfigError: RegexScorer: invalid pattern '(': missing ), ...
    """

    name: str = "regex"

    def __init__(self, pattern: str | re.Pattern[str], *, group: int | str | None = None,
                 flags: int = 0, last: bool = False, case_sensitive: bool = False) -> None:
        try:
            self.pattern = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        except re.error as exc:
            raise ConfigError(f"RegexScorer: invalid pattern {pattern!r}: {exc}") from None
        self.group = group if group is not None else (1 if self.pattern.groups else 0)
        if isinstance(self.group, int) and self.group > self.pattern.groups:
            raise ConfigError(f"RegexScorer: group {self.group} but the pattern has "
                              f"{self.pattern.groups} group(s)")
        self.last = last
        self.case_sensitive = case_sensitive

    def __repr__(self) -> str:
        return f"RegexScorer({self.pattern.pattern!r}, group={self.group!r}, last={self.last})"

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one response; see the class docstring."""
        text = str(response)
        match = _last_match(self.pattern, text) if self.last else self.pattern.search(text)
        if match is None or match.group(self.group) is None:
            return Score(0.0, None, False)
        answer = match.group(self.group)
        same = normalize_text(answer, case_sensitive=self.case_sensitive) == normalize_text(
            reference, case_sensitive=self.case_sensitive)
        return Score(1.0 if same else 0.0, answer, True)


class MultipleChoice(BaseScorer):
    """Read a choice letter (A-D by default, up to A-Z) from the output and compare it with the gold.

    Where the letter comes from, in order: the JSON ``answer`` (``"B"``, ``"(B)"``, ``"B. text"``);
    the last "answer is (B)" / "Answer: B" in the text; an output that is just the letter. The
    reference may be written the same ways.

    Example:
        >>> mc = MultipleChoice()
        >>> mc.score('{"reasoning": "...", "answer": "(C) 42"}', "C")
        Score(value=1.0, answer='C', extracted=True)
        >>> mc.score("I think the answer is b.", "B").value, mc.score("Let me think.", "B").extracted
        (1.0, False)
    """

    name: str = "multiple-choice"

    def __init__(self, n_choices: int = 4) -> None:
        if not 2 <= n_choices <= 26:
            raise ConfigError(f"MultipleChoice: n_choices must be between 2 and 26, got {n_choices}")
        self.n_choices = n_choices
        self.letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n_choices]
        cls = f"[{self.letters}{self.letters.lower()}]"
        self._leading = re.compile(rf"^\s*[\(\[]?\s*({cls})\s*(?:[\)\]]|$|[\s.:,])")
        self._in_text = re.compile(
            rf"answer(?:\s+is)?\s*(?:[:=]|is)?\s*[*_]*\s*(?:option\s+|choice\s+)?"
            rf"[\(\[]?({cls})(?![A-Za-z0-9])",
            re.IGNORECASE)
        self._alone = re.compile(rf"^\s*[\(\[]?({cls})[\)\]]?\.?\s*$")

    def __repr__(self) -> str:
        return f"MultipleChoice(n_choices={self.n_choices})"

    def letter(self, text: str | None, *, model: str | None = None) -> str | None:
        """The choice letter of an output (upper case), or None.

        Example:
            >>> MultipleChoice(10).letter("So the final answer is: (J)")
            'J'
        """
        if not isinstance(text, str):
            return None
        answer = extract_answer(text, model)
        if answer is not None:
            match = self._leading.match(answer)
            if match:
                return match.group(1).upper()
        found = _last_match(self._in_text, text)
        if found is not None:
            return found.group(1).upper()
        alone = self._alone.match(text)
        return alone.group(1).upper() if alone else None

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one response; raises ``ConfigError`` if the reference holds no choice letter."""
        gold = self._alone.match(str(reference)) or self._leading.match(str(reference))
        if gold is None:
            raise ConfigError(f"MultipleChoice: reference {str(reference)[:40]!r} is not a choice "
                              f"letter in {self.letters}; pass the gold letter, e.g. 'B'")
        letter = self.letter(response, model=model)
        if letter is None:
            return Score(0.0, None, False)
        return Score(1.0 if letter == gold.group(1).upper() else 0.0, letter, True)


class Passthrough(BaseScorer):
    """Use a recorded grade as the score: ``True``/``False``, ``1``/``0``, or a number over ``scale``.

    For data that stores correctness instead of text (RouteLLM's MMLU booleans, MT-Bench's 1-10
    judge scores with ``scale=10``). The reference is ignored. Unreadable grades score 0 with
    ``extracted`` False.

    Example:
        >>> Passthrough().score("True", "").value, Passthrough(scale=10).score("7", "").value
        (1.0, 0.7)
    """

    name: str = "passthrough"
    _TRUE: ClassVar[frozenset[str]] = frozenset({"true", "yes", "correct"})
    _FALSE: ClassVar[frozenset[str]] = frozenset({"false", "no", "incorrect", "wrong"})

    def __init__(self, scale: float = 1.0) -> None:
        if not scale > 0:
            raise ConfigError(f"Passthrough: scale must be positive, got {scale!r}")
        self.scale = float(scale)

    def __repr__(self) -> str:
        return f"Passthrough(scale={self.scale:g})"

    def score(self, response: str, reference: str = "", *, model: str | None = None) -> Score:
        """Score one recorded grade; see the class docstring."""
        text = str(response).strip()
        low = text.casefold()
        if low in self._TRUE:
            return Score(1.0, text, True)
        if low in self._FALSE:
            return Score(0.0, text, True)
        try:
            value = float(text) / self.scale
        except ValueError:
            return Score(0.0, None, False)
        if value != value:  # NaN
            return Score(0.0, None, False)
        return Score(min(1.0, max(0.0, value)), text, True)
