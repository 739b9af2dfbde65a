"""Numeric answers in plain text: the scorer for math word problems whose outputs are not JSON.

Where the number is read from, first match wins:

1. a JSON ``answer`` (:func:`~routerlab.scoring.extract_answer`, ZeroEval's format);
2. the last ``#### <number>`` (GSM8K's own solution format);
3. the last ``\\boxed{...}`` (MATH's convention);
4. the last "answer is / answer: <number>";
5. the last number in the text (what lm-evaluation-harness's ``flexible-extract`` and
   inspect-ai's ``match(numeric=True)`` fall back to).

The number is read after dropping ``$``, ``,`` (thousands), ``%`` and spaces; ``3/4`` is evaluated
(safely, never with ``eval``). Two numbers are equal when they agree to ``digits`` significant
digits (12 by default), which is also the normalised answer's precision.
"""

from __future__ import annotations

import math
import re

from ._base import BaseScorer, Score, number_key
from .extract import extract_answer, find_last_boxed
from .mathequiv import latex_value
from .zeroeval import first_number, sanitize_math_answer

__all__ = ["Numeric"]

_NUMBER = r"-?\$?\s?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?"
_HASHES = re.compile(rf"####\s*({_NUMBER})")
_ANSWER_IS = re.compile(rf"answer\s*(?:is|:|=)\s*[:=]?\s*\**\s*({_NUMBER})", re.IGNORECASE)
_ANY = re.compile(_NUMBER)


def _last(pattern: re.Pattern[str], text: str) -> str | None:
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - the last match is wanted
        pass
    return None if found is None else (found.group(1) if pattern.groups else found.group(0))


class Numeric(BaseScorer):
    """1 if the number read from the output equals the reference's number, else 0 (see the module
    docstring for where the number comes from). No number in the output scores 0 with no answer.

    Example:
        >>> s = Numeric()
        >>> s.score("She sells 9 eggs at $2, so she makes $18 a day.", "18")
        Score(value=1.0, answer='$18', extracted=True, normalized='18.0')
        >>> s.score("9 * 2 = 18\\n#### 18", "#### 18").value, s.answer("The answer is 1,000.")
        (1.0, '1000.0')
        >>> s.score("no idea", "18")
        Score(value=0.0, answer=None, extracted=False, normalized=None)
    """

    name: str = "numeric"

    def __init__(self, *, digits: int = 12) -> None:
        self.digits = int(digits)

    def __repr__(self) -> str:
        return f"Numeric(digits={self.digits})"

    def extract(self, response: str, *, model: str | None = None) -> str | None:
        """The text of the number the output gives as its answer (None: it gives none)."""
        if not isinstance(response, str):
            return None
        found = extract_answer(response, model)
        if found is not None and self._value(found) is not None:
            return found
        for candidate in (_last(_HASHES, response), find_last_boxed(response), _last(_ANSWER_IS, response),
                          _last(_ANY, response)):
            if candidate is not None and self._value(candidate) is not None:
                return candidate.strip()
        return None

    @staticmethod
    def _value(text: str) -> float | None:
        if "\\" in str(text):  # LaTeX such as \frac{3}{4}
            value = latex_value(str(text))
            if value is not None and math.isfinite(value):
                return value
        cleaned = str(text).replace("%", "").replace("\\!", "").replace("#", "")
        return first_number(sanitize_math_answer(re.sub(r"(?<=\d)\s+(?=\d{3}\b)", "", cleaned)))

    def normalize(self, answer: str) -> str | None:
        value = self._value(answer)
        return None if value is None else number_key(value, self.digits)

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one output against a reference holding a number; see the class docstring."""
        answer = self.extract(response, model=model)
        if answer is None:
            return Score(0.0, None, False)
        gold_text = self.extract(str(reference))  # a full solution's "#### 18" reads as 18
        gold = None if gold_text is None else self.normalize(gold_text)
        return self._scored(1.0 if gold is not None and self.normalize(answer) == gold else 0.0, answer)
