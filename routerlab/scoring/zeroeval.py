"""The scorers that reproduce ZeroEval's published GSM8K, MATH level 5 and CRUXEval accuracies.

Both take the raw model output, extract the answer with :func:`~routerlab.scoring.extract_answer`
(pass ``model=`` so the Llama 3.1 ``\\boxed{}`` rule can apply) and compare it with the gold answer
by ZeroEval's rule for the task. On the bundled data they give the published ``Acc`` of all
9 models × 3 tasks exactly.
"""

from __future__ import annotations

import contextlib
import re

from ._base import BaseScorer, Score, normalize_text, number_key
from .arith import safe_arithmetic
from .extract import extract_answer

__all__ = ["ZeroEvalMath", "ZeroEvalCrux", "sanitize_math_answer", "first_number"]

_FIRST_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def sanitize_math_answer(answer: str) -> str:
    """ZeroEval's ``sanitize_math_answers``: drop ``$`` and ``,``; evaluate text containing ``/``.

    The evaluation uses :func:`~routerlab.scoring.arith.safe_arithmetic` instead of ``eval``; text
    it cannot evaluate is kept as is. The result is ``str(float)``, as in ZeroEval.

    Example:
        >>> sanitize_math_answer("$1,000")
        '1000'
        >>> sanitize_math_answer("3/4"), sanitize_math_answer("3/4 cup")
        ('0.75', '3/4 cup')
    """
    answer = answer.replace("$", "").strip().replace(",", "")
    if "/" in answer:
        with contextlib.suppress(ValueError):  # not arithmetic: keep the text, as ZeroEval did
            answer = str(safe_arithmetic(answer))
    return answer


def first_number(answer: str) -> float | None:
    """The first ``-?\\d+(\\.\\d+)?`` of a sanitized answer as a float, or None.

    Example:
        >>> first_number("x = -12.50 dollars"), first_number("none")
        (-12.5, None)
    """
    match = _FIRST_NUMBER.search(answer)
    return float(match.group()) if match else None


class ZeroEvalMath(BaseScorer):
    """ZeroEval's numeric rule for GSM8K and MATH level 5 (reproduces the published tables).

    Both the prediction and the gold (gold with ``#`` removed) are sanitized (``$`` and ``,`` dropped,
    text with ``/`` evaluated as arithmetic where possible), then the first number of each is compared
    as floats. No extracted answer, or no number on either side, scores 0. The rule is lenient on
    purpose (``"3\\sqrt{2}"`` matches a gold ``3``); see :class:`MathEquivalence` for a stricter one.

    Example:
        >>> s = ZeroEvalMath()
        >>> s.score('{"reasoning": "...", "answer": "$1,000"}', "# 1000")
        Score(value=1.0, answer='$1,000', extracted=True, normalized='1000.0')
        >>> s.score('{"answer": "3/4"}', "0.75").value, s.score("I don't know", "0.75").value
        (1.0, 0.0)
    """

    name: str = "zeroeval-math"

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one raw output against the gold answer; see the class docstring."""
        answer = extract_answer(response, model)
        if answer is None:
            return Score(0.0, None, False)
        predicted = first_number(sanitize_math_answer(answer))
        gold = first_number(sanitize_math_answer(str(reference).replace("#", "").strip()))
        correct = predicted is not None and gold is not None and predicted == gold
        return self._scored(1.0 if correct else 0.0, answer)

    def extract(self, response: str, *, model: str | None = None) -> str | None:
        return extract_answer(response, model)

    def normalize(self, answer: str) -> str | None:
        """The first number after ZeroEval's sanitizing (what the rule compares), else the text."""
        number = first_number(sanitize_math_answer(str(answer)))
        return number_key(number) if number is not None else normalize_text(answer)


class ZeroEvalCrux(BaseScorer):
    """ZeroEval's CRUXEval output-prediction rule: strip quotes, compare the strings exactly.

    The published rule (the default, which reproduces ZeroEval's September 2024 table): strip
    surrounding ``'`` and ``"`` from the extracted answer and from the gold literal and compare;
    an empty string on either side is never correct.

    ``newline_fix=True`` applies ZeroEval's later correction: a newline in the answer is compared as
    the two characters ``\\n`` (the gold is a Python literal, where a newline is written ``\\n``), and
    an empty answer matches an empty gold (``''``). That corrected rule raises every bundled model,
    by 0.75 to 2.4 points (1.6 on average), and reproduces ZeroEval's later CRUXEval table exactly
    (GPT-4o 85.00 → 87.00). Most of the gain comes from the empty-string case; the newline part alone
    adds 0 to 0.4 points. ``empty_matches_empty`` sets that half of the fix on its own.

    Example:
        >>> ZeroEvalCrux().score('{"answer": "\\'abc\\'"}', "'abc'").value
        1.0
        >>> out = '{"answer": ""}'
        >>> ZeroEvalCrux().score(out, "''").value, ZeroEvalCrux(newline_fix=True).score(out, "''").value
        (0.0, 1.0)
    """

    name: str = "zeroeval-crux"

    def __init__(self, newline_fix: bool = False, *, empty_matches_empty: bool | None = None) -> None:
        self.newline_fix = bool(newline_fix)
        self.empty_matches_empty = (self.newline_fix if empty_matches_empty is None
                                    else bool(empty_matches_empty))

    def __repr__(self) -> str:
        return (f"ZeroEvalCrux(newline_fix={self.newline_fix}, "
                f"empty_matches_empty={self.empty_matches_empty})")

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one raw output against the gold output literal; see the class docstring."""
        answer = extract_answer(response, model)
        if answer is None:
            return Score(0.0, None, False)
        predicted = self.normalize(answer)
        gold = str(reference).strip("'\"")
        if predicted and gold:
            correct = predicted == gold
        else:
            correct = self.empty_matches_empty and predicted == "" and gold == ""
        return self._scored(1.0 if correct else 0.0, answer)

    def extract(self, response: str, *, model: str | None = None) -> str | None:
        return extract_answer(response, model)

    def normalize(self, answer: str) -> str:
        """The literal without surrounding quotes (newlines written ``\\n`` with ``newline_fix``)."""
        predicted = str(answer).strip("'\"")
        return predicted.replace("\n", "\\n") if self.newline_fix else predicted
