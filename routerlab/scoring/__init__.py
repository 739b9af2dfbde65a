"""Scorers: turn a model's raw output and a reference answer into a score in [0, 1].

Every scorer follows the :class:`Scorer` protocol, ``score(response, reference, *, model=None) ->
Score`` (value, extracted answer, whether an answer was found, the normalised answer), has a batch
form ``score_many`` and exposes the normalised answer it reads (``answer(response)``: a choice
letter, a number, normalised text, ``pass``/``fail``) for strategies that compare answers. The
ZeroEval scorers reproduce ZeroEval's published accuracies on the bundled data (9 models × GSM8K,
CRUXEval, MATH level 5, to the hundredth of a point).

Which scorer a task uses is the data set's choice (:class:`TaskScorers`), never a guess from the
task's name: a user's data gets exact match unless a scorer is named.

Example:
    >>> from routerlab.scoring import ZeroEvalMath, Numeric
    >>> ZeroEvalMath().score('{"reasoning": "6*3", "answer": "$18"}', "# 18")
    Score(value=1.0, answer='$18', extracted=True, normalized='18.0')
    >>> Numeric().answer("6 * 3 = 18, so the answer is $18.")
    '18.0'
"""

from __future__ import annotations

from ._base import (
    BaseScorer,
    Contains,
    ExactMatch,
    MultipleChoice,
    PassFail,
    Passthrough,
    RegexScorer,
    Score,
    Scorer,
    normalize_text,
    number_key,
    score_many,
    score_rows,
)
from .arith import safe_arithmetic
from .extract import extract_answer, extract_first_json, find_last_boxed, is_llama31
from .mathequiv import MathEquivalence, latex_value, math_equivalent, normalize_latex
from .numeric import Numeric
from .tasks import SCORER_NAMES, TaskScorers, get_scorer
from .zeroeval import ZeroEvalCrux, ZeroEvalMath, first_number, sanitize_math_answer

__all__ = [
    "Score",
    "Scorer",
    "BaseScorer",
    "score_many",
    "score_rows",
    "ExactMatch",
    "Contains",
    "RegexScorer",
    "MultipleChoice",
    "Numeric",
    "Passthrough",
    "PassFail",
    "ZeroEvalMath",
    "ZeroEvalCrux",
    "MathEquivalence",
    "TaskScorers",
    "get_scorer",
    "SCORER_NAMES",
    "extract_answer",
    "extract_first_json",
    "find_last_boxed",
    "is_llama31",
    "normalize_text",
    "number_key",
    "normalize_latex",
    "math_equivalent",
    "latex_value",
    "sanitize_math_answer",
    "first_number",
    "safe_arithmetic",
]
