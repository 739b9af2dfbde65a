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
    "Score", "Scorer", "BaseScorer", "score_many", "score_rows",
    "ExactMatch", "Contains", "RegexScorer", "MultipleChoice", "Passthrough", "PassFail", "normalize_text",
    "number_key",
]


@dataclass(frozen=True, slots=True)
class Score:
    """One scored response: ``value`` in [0, 1], the ``answer`` read from it, whether one was found,
    and ``normalized``: the answer in the scorer's canonical form (a choice letter, a number written
    as ``repr(float)``, normalised text, ``pass``/``fail``), so that equal answers compare equal.

    ``answer`` is the raw extracted answer (None when ``extracted`` is False, or the text a scorer
    fell back to); ``normalized`` is None when the response holds no answer this scorer can read.

    Example:
        >>> Score(1.0, "18", True, "18.0").normalized
        '18.0'
    """

    value: float
    answer: str | None
    extracted: bool
    normalized: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.value <= 1.0:
            raise ConfigError(f"Score.value must be in [0, 1], got {self.value!r}")


@runtime_checkable
class Scorer(Protocol):
    """Anything with a ``name`` and ``score(response, reference, *, model=None) -> Score``.

    ``model`` is the id of the model that wrote ``response``; rules that depend on the model family
    (ZeroEval's Llama 3.1 ``\\boxed{}`` rule) use it, the others ignore it. Strategies that compare
    answers (agreement cascades, consensus) also need ``answer(response, *, model=None)`` (the
    normalised answer, None when there is none) and ``normalize(answer)`` (the canonical form of an
    answer extracted elsewhere, such as a tool's prediction column): :class:`BaseScorer` has both.

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


def score_rows(scorer: Scorer, responses: Iterable[str | None], references: Iterable[str],
               models: str | Iterable[str | None] | None = None
               ) -> tuple[np.ndarray, list[str | None], list[str | None]]:
    """Score many responses: values (float64), extracted answers and normalised answers.

    A missing response (``None`` or NaN: no outcome was recorded) is missing: value NaN, no answer.
    """
    resp, refs = list(responses), list(references)
    if len(resp) != len(refs):
        raise ConfigError(f"score_many: got {len(resp)} responses but {len(refs)} references; "
                          "they must be aligned one to one")
    mods = _models_for(models, len(resp))
    values = np.full(len(resp), np.nan, dtype=np.float64)
    answers: list[str | None] = [None] * len(resp)
    normalized: list[str | None] = [None] * len(resp)
    score = scorer.score
    for k, (response, reference, model) in enumerate(zip(resp, refs, mods, strict=True)):
        if response is None or (isinstance(response, float) and response != response):
            continue
        result = score(response, reference, model=model)
        values[k] = result.value
        answers[k] = result.answer
        normalized[k] = getattr(result, "normalized", None)
    return values, answers, normalized


def score_many(scorer: Scorer, responses: Iterable[str | None], references: Iterable[str],
               models: str | Iterable[str | None] | None = None) -> tuple[np.ndarray, list[str | None]]:
    """Score many responses: an array of values (float64) and the list of extracted answers.

    ``models`` is None, one model id for all rows, or one per row. A missing response (``None`` or
    NaN: no outcome was recorded) is missing, never wrong: its value is NaN, with no answer.

    Example:
        >>> values, answers = score_many(ExactMatch(), ["Paris", "Lyon", None], ["paris", "paris", "paris"])
        >>> values.tolist(), answers
        ([1.0, 0.0, nan], ['Paris', 'Lyon', None])
    """
    values, answers, _ = score_rows(scorer, responses, references, models)
    return values, answers


class BaseScorer:
    """Shared plumbing for routerlab's scorers: ``score_many``, the normalised answer and a ``repr``.

    A scorer reads an answer from a response (:meth:`extract`), puts it in canonical form
    (:meth:`normalize`) and compares it with the reference (:meth:`score`). :meth:`answer` is the
    first two steps: what strategies that compare answers across models vote on.

    Example:
        >>> ExactMatch().score_many(["a", "b"], ["a", "a"])[0].tolist()
        [1.0, 0.0]
        >>> ExactMatch().answer("  The  Answer. ")
        'the answer'
    """

    name: str = "scorer"
    #: False for scorers of recorded grades, which score without a reference answer
    needs_reference: bool = True

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one response against its reference."""
        raise NotImplementedError

    def extract(self, response: str, *, model: str | None = None) -> str | None:
        """The raw answer this scorer reads from ``response`` (None: none found)."""
        return self.score(response, "", model=model).answer if isinstance(response, str) else None

    def normalize(self, answer: str) -> str | None:
        """``answer`` (extracted here or recorded by another tool) in this scorer's canonical form."""
        return normalize_text(answer)

    def answer(self, response: str | None, *, model: str | None = None) -> str | None:
        """The normalised answer of ``response`` (None when it holds none): what votes compare."""
        if not isinstance(response, str):
            return None
        raw = self.extract(response, model=model)
        return None if raw is None else self.normalize(raw)

    def answer_from_score(self, value: float) -> str | None:
        """An answer implied by a recorded score alone (:class:`PassFail`: ``pass``/``fail``); None here."""
        return None

    def score_many(self, responses: Iterable[str | None], references: Iterable[str],
                   models: str | Iterable[str | None] | None = None) -> tuple[np.ndarray, list[str | None]]:
        """Batch form of :meth:`score`; see :func:`score_many`."""
        return score_many(self, responses, references, models)

    def _scored(self, value: float, answer: str | None, extracted: bool = True) -> Score:
        return Score(value, answer, extracted, None if answer is None else self.normalize(answer))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


_WS = re.compile(r"\s+")


def _last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    last = deque(pattern.finditer(text), maxlen=1)
    return last[0] if last else None


def number_key(value: float, digits: int | None = None) -> str:
    """A number as a canonical string: ``repr`` of the float (rounded to ``digits`` significant
    digits when given), ``-0.0`` folded into ``0.0``: equal numbers written differently get one key.

    Example:
        >>> number_key(1000), number_key(1e3), number_key(-0.0)
        ('1000.0', '1000.0', '0.0')
        >>> number_key(0.1 + 0.2), number_key(0.1 + 0.2, digits=12)
        ('0.30000000000000004', '0.3')
    """
    x = float(value) if digits is None else float(f"{float(value):.{digits}g}")
    return repr(x + 0.0)


def normalize_text(text: str, *, case_sensitive: bool = False) -> str:
    """Strip, collapse whitespace, drop one trailing period and (by default) casefold.

    Example:
        >>> normalize_text("  The  Answer. ")
        'the answer'
    """
    text = " ".join(str(text).split())  # str.split and re's \s agree on whitespace (str.isspace), split is faster
    if text.endswith("."):
        text = text[:-1].rstrip()
    return text if case_sensitive else text.casefold()


class ExactMatch(BaseScorer):
    """1 if the answer equals the reference after :func:`normalize_text`, else 0.

    With ``extract=True`` (default) the answer is the JSON ``answer`` of the output when there is
    one (:func:`extract_answer`), else the whole output (then ``extracted`` is False).

    Example:
        >>> ExactMatch().score('{"answer": "Paris"}', "paris")
        Score(value=1.0, answer='Paris', extracted=True, normalized='paris')
        >>> ExactMatch(case_sensitive=True).score("Paris", "paris").value
        0.0
    """

    name: str = "exact-match"

    def __init__(self, *, extract: bool = True, case_sensitive: bool = False) -> None:
        self.extract_json = extract  # the method extract() reads the answer; this flag says how
        self.case_sensitive = case_sensitive

    def __repr__(self) -> str:
        return f"ExactMatch(extract={self.extract_json}, case_sensitive={self.case_sensitive})"

    def extract(self, response: str, *, model: str | None = None) -> str | None:
        """The JSON ``answer`` when there is one (``extract=True``), else the whole output."""
        if not isinstance(response, str):
            return None
        found = extract_answer(response, model) if self.extract_json else None
        return str(response) if found is None else found

    def normalize(self, answer: str) -> str | None:
        return normalize_text(answer, case_sensitive=self.case_sensitive)

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one response; see the class docstring."""
        answer = extract_answer(response, model) if self.extract_json else None
        extracted = answer is not None
        if answer is None:
            answer = str(response)
        same = self.normalize(answer) == normalize_text(reference, case_sensitive=self.case_sensitive)
        return self._scored(1.0 if same else 0.0, answer, extracted)


class Contains(BaseScorer):
    """1 if the (whitespace-normalised) reference occurs in the response, else 0.

    The normalised answer is the whole (normalised) response: the reference is what is searched for.

    Example:
        >>> Contains().score("The capital is PARIS, of course.", "Paris")
        Score(value=1.0, answer='Paris', extracted=True, normalized='paris')
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
        return self._scored(1.0 if found else 0.0, str(reference) if found else None, found)

    def extract(self, response: str, *, model: str | None = None) -> str | None:
        return response if isinstance(response, str) else None

    def normalize(self, answer: str) -> str | None:
        return normalize_text(answer, case_sensitive=self.case_sensitive)


class RegexScorer(BaseScorer):
    """Extract the answer with a regex, then compare it with the reference like :class:`ExactMatch`.

    The answer is ``group`` of the first match (``last=True``: the last match); ``group`` defaults
    to 1 when the pattern has a group, else 0. No match scores 0 with no answer.

    Example:
        >>> s = RegexScorer(r"Answer:\\s*(\\w+)")
        >>> s.score("Reasoning... Answer: Blue", "blue")
        Score(value=1.0, answer='Blue', extracted=True, normalized='blue')
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

    def extract(self, response: str, *, model: str | None = None) -> str | None:
        """The pattern's group in ``response`` (None when it does not match)."""
        text = str(response)
        match = _last_match(self.pattern, text) if self.last else self.pattern.search(text)
        if match is None or match.group(self.group) is None:
            return None
        return match.group(self.group)

    def normalize(self, answer: str) -> str | None:
        return normalize_text(answer, case_sensitive=self.case_sensitive)

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one response; see the class docstring."""
        answer = self.extract(response, model=model)
        if answer is None:
            return Score(0.0, None, False)
        same = self.normalize(answer) == normalize_text(reference, case_sensitive=self.case_sensitive)
        return self._scored(1.0 if same else 0.0, answer)


class MultipleChoice(BaseScorer):
    """Read a choice letter (A-D by default, up to A-Z) from the output and compare it with the gold.

    Where the letter comes from, in order: the JSON ``answer`` (``"B"``, ``"(B)"``, ``"B. text"``);
    the last "answer is (B)" / "Answer: B" in the text; an output that is just the letter. The
    reference may be written the same ways.

    Example:
        >>> mc = MultipleChoice()
        >>> mc.score('{"reasoning": "...", "answer": "(C) 42"}', "C")
        Score(value=1.0, answer='C', extracted=True, normalized='C')
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

    def extract(self, response: str, *, model: str | None = None) -> str | None:
        return self.letter(response, model=model)

    def normalize(self, answer: str) -> str | None:
        """The choice letter of an answer (``"(b) 4"`` -> ``"B"``); None when it names none."""
        found = self._alone.match(str(answer)) or self._leading.match(str(answer))
        return found.group(1).upper() if found else None

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one response; raises ``ConfigError`` if the reference holds no choice letter."""
        gold = self.normalize(str(reference))
        if gold is None:
            raise ConfigError(f"MultipleChoice: reference {str(reference)[:40]!r} is not a choice "
                              f"letter in {self.letters}; pass the gold letter, e.g. 'B'")
        letter = self.letter(response, model=model)
        if letter is None:
            return Score(0.0, None, False)
        return self._scored(1.0 if letter == gold else 0.0, letter)


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
    needs_reference: bool = False
    _TRUE: ClassVar[frozenset[str]] = frozenset({"true", "yes", "correct", "pass", "passed"})
    _FALSE: ClassVar[frozenset[str]] = frozenset({"false", "no", "incorrect", "wrong", "fail", "failed"})

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

    def extract(self, response: str, *, model: str | None = None) -> str | None:
        return None  # a grade, not an answer: there is nothing to vote on

    def normalize(self, answer: str) -> str | None:
        return None


class PassFail(Passthrough):
    """A recorded pass/fail outcome (unit tests of generated code, a verifier's verdict) as the score,
    and as the normalised answer: ``pass`` when the grade is at least ``threshold``, else ``fail``.

    For data that records whether generated code passed its tests: the grade is read as
    :class:`Passthrough` reads it (``True``/``False``, ``1``/``0``, a number), and a recorded score
    alone implies the answer (:meth:`answer_from_score`), since the test verdict is what a code
    cascade can observe without a reference.

    Example:
        >>> PassFail().score("True", "")
        Score(value=1.0, answer='True', extracted=True, normalized='pass')
        >>> PassFail().answer_from_score(0.0), PassFail().answer("def f(): ...")
        ('fail', None)
    """

    name: str = "pass-fail"

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__(1.0)
        if not 0 < threshold <= 1:
            raise ConfigError(f"PassFail: threshold must be in (0, 1], got {threshold!r}")
        self.threshold = float(threshold)

    def __repr__(self) -> str:
        return f"PassFail(threshold={self.threshold:g})"

    def score(self, response: str, reference: str = "", *, model: str | None = None) -> Score:
        """Score one recorded verdict: 1 for a pass, 0 for a fail."""
        graded = super().score(response, reference)
        if not graded.extracted:
            return graded
        passed = graded.value >= self.threshold
        return Score(1.0 if passed else 0.0, graded.answer, True, "pass" if passed else "fail")

    def extract(self, response: str, *, model: str | None = None) -> str | None:
        graded = self.score(response)
        return graded.answer if graded.extracted else None

    def normalize(self, answer: str) -> str | None:
        return self.score(answer).normalized

    def answer_from_score(self, value: float) -> str | None:
        return None if value != value else ("pass" if value >= self.threshold else "fail")
