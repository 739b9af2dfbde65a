"""Answer extraction from raw model output, as ZeroEval did it when it published its tables.

ZeroEval asks every model for a JSON object ``{"reasoning": ..., "answer": ...}`` and reads the
answer back with a fixed cascade of rules (``src/evaluation/eval_utils.py`` in yuchenlin/ZeroEval,
September 2024). The cascade is reproduced here rule for rule, including its quirks, because the
published accuracies depend on them:

1. The first complete, balanced ``{...}`` in the output (braces are counted without regard to JSON
   strings), parsed with :func:`json.loads` after deleting newlines. Only that first object is tried;
   if it does not parse, or has no ``answer`` key, the next rules run on the whole output.
2. The regex ``"answer"\\s*:\\s*"([^"]*?)"``, then the same across lines.
3. An unquoted value ``"answer": 42`` (``[^,\\s]*``, which may be empty), then an unquoted key
   ``answer: 42``.
4. For Llama 3.1 models only: if the text ``boxed`` occurs in the last 30 characters, the first
   ``\\boxed{word}`` of the output (word characters only, so ``\\boxed{-5}`` does not count).
5. Otherwise there is no answer (scored wrong).
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["extract_answer", "extract_first_json", "is_llama31", "find_last_boxed"]

_BRACE = re.compile(r"[{}]")
_QUOTED = re.compile(r'"answer"\s*:\s*"([^"]*?)"')
_QUOTED_DOTALL = re.compile(r'"answer"\s*:\s*"(.*?)"', re.DOTALL)
_UNQUOTED_VALUE = re.compile(r'"answer"\s*:\s*([^,\s]*)')
_UNQUOTED_KEY = re.compile(r"answer\s*:\s*([^,\s]*)")
_BOXED_WORD = re.compile(r"\\boxed{([\w\d]+)}")
_LLAMA31 = re.compile(r"llama[-_ ]?3[.\-_]1(?![0-9])", re.IGNORECASE)
_BOXED_TAIL = 30


def is_llama31(model: str | None) -> bool:
    """True if ``model`` names a Llama 3.1 model (the family ZeroEval's ``\\boxed`` rule applies to).

    A rule on the family string, case-insensitive, not a table of model ids.

    Example:
        >>> is_llama31("meta-llama/Meta-Llama-3.1-70B-Instruct"), is_llama31("llama-3.1-8b-instant")
        (True, True)
        >>> is_llama31("Meta-Llama-3-70B-Instruct"), is_llama31(None)
        (False, False)
    """
    return bool(model) and _LLAMA31.search(model) is not None  # type: ignore[arg-type]


def extract_first_json(text: str) -> dict[str, Any] | None:
    """Parse the first complete, balanced ``{...}`` of ``text`` (newlines removed), or return None.

    Braces are counted as characters, as ZeroEval did, so a ``}`` inside a JSON string closes the
    object early; and only the first balanced object is tried.

    Example:
        >>> extract_first_json('Sure! ```json\\n{"answer": 3, "why": {"a": 1}}\\n``` {"answer": 4}')
        {'answer': 3, 'why': {'a': 1}}
        >>> extract_first_json('{"answer": "}"}') is None   # the "}" in the string ends the object
        True
    """
    depth = 0
    start = -1
    for match in _BRACE.finditer(text):
        if match.group() == "{":
            if depth == 0:
                start = match.start()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                candidate = text[start : match.end()].replace("\n", "")
                try:
                    parsed = json.loads(candidate)
                except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
                    return None
                return parsed if isinstance(parsed, dict) else None
    return None


def _stringify(value: Any) -> str:
    # ZeroEval compared str(value): a JSON number 18 becomes "18", true becomes "True".
    return value if isinstance(value, str) else str(value)


def extract_answer(output: str, model: str | None = None) -> str | None:
    """Extract the answer from a raw model output with ZeroEval's rules, or None for "no answer".

    ``model`` (any model id) switches on the Llama 3.1 ``\\boxed{}`` rule; see the module docstring
    for the full cascade. Non-string JSON answers are returned as Python's ``str`` of them.

    Example:
        >>> extract_answer('```json\\n{"reasoning": "2+2", "answer": 4}\\n```')
        '4'
        >>> extract_answer('{"reasoning": "broken \\\\ json", "answer": "12"')
        '12'
        >>> extract_answer("so the answer is $\\\\boxed{36}$.", model="Meta-Llama-3.1-8B-Instruct")
        '36'
        >>> extract_answer("so the answer is $\\\\boxed{36}$.", model="gpt-4o") is None
        True
    """
    if not isinstance(output, str):
        return None
    if "answer" not in output:  # every rule below but the boxed one needs the word: skip the regexes
        return _boxed(output, model)
    if "{" in output:
        parsed = extract_first_json(output)
        if parsed is not None and "answer" in parsed:
            return _stringify(parsed["answer"])
    match = _QUOTED.search(output) or _QUOTED_DOTALL.search(output)
    if match is None:
        match = _UNQUOTED_VALUE.search(output) or _UNQUOTED_KEY.search(output)
    if match is not None:
        return match.group(1)
    return _boxed(output, model)


def _boxed(output: str, model: str | None) -> str | None:
    """Rule 4: for Llama 3.1 only, the first ``\\boxed{word}`` when ``boxed`` ends the output."""
    if "boxed" in output[-_BOXED_TAIL:] and is_llama31(model):
        boxed = _BOXED_WORD.search(output)
        if boxed is not None:
            return boxed.group(1)
    return None


def find_last_boxed(text: str) -> str | None:
    """Return the content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, braces balanced.

    Not part of ZeroEval's rules; :class:`~routerlab.scoring.MathEquivalence` can use it as a fallback.

    Example:
        >>> find_last_boxed(r"so $\\boxed{1}$, no wait: $\\boxed{\\frac{1}{2}}$")
        '\\\\frac{1}{2}'
        >>> find_last_boxed("no box") is None
        True
    """
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    brace = text.find("{", start)
    if brace < 0:
        return None
    depth = 0
    for i in range(brace, len(text)):
        char = text[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[brace + 1 : i]
    return None
