"""Scorers: turn a model's raw output and a reference answer into a score in [0, 1].

Every scorer follows the :class:`Scorer` protocol, ``score(response, reference, *, model=None) ->
Score`` (value, extracted answer, whether an answer was found), and has a batch form
``score_many``. The ZeroEval scorers reproduce ZeroEval's published accuracies on the bundled data
(9 models × GSM8K, CRUXEval, MATH level 5, to the hundredth of a point).

Example:
    >>> from routerlab.scoring import scorer_for_task
    >>> scorer_for_task("gsm").score('{"reasoning": "6*3", "answer": "$18"}', "# 18")
    Score(value=1.0, answer='$18', extracted=True)
"""

from __future__ import annotations

from ._base import (
    BaseScorer,
    Contains,
    ExactMatch,
    MultipleChoice,
    Passthrough,
    RegexScorer,
    Score,
    Scorer,
    normalize_text,
    score_many,
)
from .arith import safe_arithmetic
from .extract import extract_answer, extract_first_json, find_last_boxed, is_llama31
from .mathequiv import MathEquivalence, latex_value, math_equivalent, normalize_latex
from .tasks import canonical_task, normalize_answer, scorer_for_task
from .zeroeval import ZeroEvalCrux, ZeroEvalMath, first_number, sanitize_math_answer

__all__ = [
    "Score",
    "Scorer",
    "BaseScorer",
    "score_many",
    "ExactMatch",
    "Contains",
    "RegexScorer",
    "MultipleChoice",
    "Passthrough",
    "ZeroEvalMath",
    "ZeroEvalCrux",
    "MathEquivalence",
    "scorer_for_task",
    "canonical_task",
    "extract_answer",
    "extract_first_json",
    "find_last_boxed",
    "is_llama31",
    "normalize_answer",
    "normalize_text",
    "normalize_latex",
    "math_equivalent",
    "latex_value",
    "sanitize_math_answer",
    "first_number",
    "safe_arithmetic",
]
