"""Which scorer a task uses, and answers in a canonical form for voting."""

from __future__ import annotations

import math
import re
from collections.abc import Hashable

from ._base import ExactMatch, MultipleChoice, Scorer, normalize_text
from .mathequiv import MathEquivalence, latex_value, normalize_latex
from .zeroeval import ZeroEvalCrux, ZeroEvalMath, first_number, sanitize_math_answer

__all__ = ["scorer_for_task", "normalize_answer", "canonical_task"]

_ALIASES = {
    "gsm": "gsm", "gsm8k": "gsm",
    "math-l5": "math-l5", "math": "math-l5", "mathl5": "math-l5", "math-level5": "math-l5",
    "hendrycks-math": "math-l5", "competition-math": "math-l5",
    "crux": "crux", "cruxeval": "crux", "cruxeval-o": "crux", "crux-o": "crux",
    "mmlu": "mmlu", "mmlu-redux": "mmlu", "mmlu-pro": "mmlu-pro",
}


def canonical_task(task: str) -> str:
    """The canonical name of a task (``"GSM8K"``, ``"zeroeval/gsm"`` → ``"gsm"``); unknown names lower-cased.

    Example:
        >>> canonical_task("zeroeval/GSM8K"), canonical_task("math_l5"), canonical_task("trivia")
        ('gsm', 'math-l5', 'trivia')
    """
    key = str(task).strip().lower().rsplit("/", 1)[-1].replace("_", "-").replace(" ", "-")
    return _ALIASES.get(key, key)


def scorer_for_task(task: str, *, strict_math: bool = False, crux_newline_fix: bool = False) -> Scorer:
    """The scorer for a task: ZeroEval's rules for the bundled tasks, a letter match for MMLU.

    ``gsm`` → :class:`ZeroEvalMath`; ``math-l5`` → :class:`ZeroEvalMath` (or
    :class:`MathEquivalence` with ``strict_math=True``); ``crux`` → :class:`ZeroEvalCrux` (the
    published rule, or the later corrected one with ``crux_newline_fix=True``); ``mmlu`` →
    :class:`MultipleChoice` with 4 letters (``mmlu-pro``: 10); anything else → :class:`ExactMatch`.
    The defaults reproduce ZeroEval's published accuracies.

    Example:
        >>> scorer_for_task("gsm8k"), scorer_for_task("crux", crux_newline_fix=True)
        (ZeroEvalMath(), ZeroEvalCrux(newline_fix=True, empty_matches_empty=True))
        >>> scorer_for_task("mmlu"), scorer_for_task("trivia")
        (MultipleChoice(n_choices=4), ExactMatch(extract=True, case_sensitive=False))
    """
    name = canonical_task(task)
    if name == "gsm":
        return ZeroEvalMath()
    if name == "math-l5":
        return MathEquivalence() if strict_math else ZeroEvalMath()
    if name == "crux":
        return ZeroEvalCrux(newline_fix=crux_newline_fix)
    if name == "mmlu":
        return MultipleChoice(4)
    if name == "mmlu-pro":
        return MultipleChoice(10)
    return ExactMatch()


_LETTER = re.compile(r"^\s*[\(\[]?\s*([A-Za-z])\s*(?:[\)\]]|$|[\s.:,])")


def normalize_answer(answer: str | None, task: str, *, strict_math: bool = False) -> Hashable | None:
    """An extracted answer in a canonical, hashable form, so that equal answers get equal votes.

    Consistent with :func:`scorer_for_task`: for ``gsm``/``math-l5`` the first number after
    ZeroEval's sanitizing, as a float (answers without a number: their normalised text); with
    ``strict_math=True`` the value of the LaTeX (rounded to 9 significant digits) or the normalised
    LaTeX; for ``crux`` the literal without surrounding quotes; for ``mmlu`` the upper-case letter;
    otherwise :func:`normalize_text`. None stays None.

    Example:
        >>> normalize_answer("$1,000", "gsm"), normalize_answer("1000.0", "gsm")
        (1000.0, 1000.0)
        >>> normalize_answer(r"\\frac{1}{2}", "math", strict_math=True)
        0.5
        >>> normalize_answer("'abc'", "crux"), normalize_answer("(b) 4", "mmlu"), normalize_answer("Paris", "qa")
        ('abc', 'B', 'paris')
    """
    if answer is None:
        return None
    text = str(answer)
    name = canonical_task(task)
    if name in ("gsm", "math-l5"):
        if strict_math:
            value = latex_value(text)
            if value is not None and math.isfinite(value):
                return float(f"{value:.9g}") + 0.0  # + 0.0 folds -0.0 into 0.0
            return normalize_latex(text)
        number = first_number(sanitize_math_answer(text))
        return number + 0.0 if number is not None else normalize_text(text)
    if name == "crux":
        return text.strip("'\"")
    if name in ("mmlu", "mmlu-pro"):
        match = _LETTER.match(text)
        return match.group(1).upper() if match else normalize_text(text)
    return normalize_text(text)
