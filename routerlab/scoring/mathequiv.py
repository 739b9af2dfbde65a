"""A stricter MATH answer check: LaTeX normalised, then compared by value, not by first number.

ZeroEval's rule compares only the first number of each answer, so ``3\\sqrt{2}`` "equals" ``3`` and
``1/2`` does not equal ``\\frac{1}{2}``. :func:`math_equivalent` instead normalises both sides
(``\\dfrac``/``\\tfrac``, ``\\left``/``\\right``, spacing commands, ``$``, ``%``, degrees, ``\\text{}``
and trailing units, ``x =``, thousands separators) and then:

- equal strings are equivalent;
- tuples, intervals and lists are compared element by element (brackets must agree; sets and bare
  lists in any order);
- otherwise both sides are parsed as LaTeX arithmetic (``\\frac``, ``\\sqrt[n]{}``, ``^``, ``!``,
  ``\\pi``, ``\\cdot``, implicit products, single-letter variables, a few functions) and compared
  numerically (relative tolerance 1e-6) at fixed sample points for the variables.

Text answers (words) are compared as normalised strings only.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable

from ._base import BaseScorer, Score, number_key
from .extract import extract_answer, find_last_boxed

__all__ = ["MathEquivalence", "math_equivalent", "normalize_latex", "latex_value"]

_MAX_LEN = 400
_MAX_DEPTH = 60

_SPACING = re.compile(r"\\[!,;: ]|\\q?quad(?![a-zA-Z])|~")
_FRAC_VARIANTS = re.compile(r"\\[dt]frac(?![a-zA-Z])")
_SIZING = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)(?![a-zA-Z])")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|°")
_UNIT_TAIL = re.compile(
    r"^(.*?\S)\s*\\(?:text|mbox|mathrm)\s*\{\s*[A-Za-z][A-Za-z .]*\}\s*(?:\^\s*\{?\d\}?)?\s*$")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_LHS = re.compile(r"^\s*[A-Za-z](?:_\{?\w+\}?)?\s*(?:=|\\in)\s*(?=[^=]*$)")
_WORD_UNITS = re.compile(r"^(.*\d)\s+[A-Za-z]{2,}(?:\s+[A-Za-z]{2,})*\.?$")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_BARE_DECIMAL = re.compile(r"(?<![\d}])\.(\d)")
_LETTER_CHOICE = re.compile(r"\(([A-Za-z])\)")
_BASE_SUBSCRIPT = re.compile(r"(-?(?=[0-9A-F]*\d)[0-9A-F]+)_\{?[0-9A-Za-z]+\}?")
_UNICODE_BASE = re.compile(r"([0-9A-F])([₀₁₂₃₄₅₆₇₈₉]+)$")
_SUB_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_WORD = re.compile(r"(?<!\\)(?<![A-Za-z])[A-Za-z]{3,}")
_LATEX_WORD = re.compile(r"\\[A-Za-z]+")


def normalize_latex(answer: str) -> str:
    """Put a LaTeX-ish answer into a canonical string (no whitespace), for comparison and voting.

    Example:
        >>> normalize_latex(r"$\\dfrac{1}{2}$"), normalize_latex(r"\\left( 1, 2 \\right)")
        ('\\\\frac{1}{2}', '(1,2)')
        >>> normalize_latex(r"x = 1,000 \\text{ cm}"), normalize_latex(r"30^\\circ"), normalize_latex(".5")
        ('1000', '30', '0.5')
    """
    s = str(answer).strip()
    if "\\boxed" in s or "\\fbox" in s:
        boxed = find_last_boxed(s)
        if boxed is not None:
            s = boxed
    s = s.replace("\n", " ")
    s = _SPACING.sub(" ", s).replace("{,}", ",")
    s = _FRAC_VARIANTS.sub(r"\\frac", s)
    s = _SIZING.sub("", s).replace("\\displaystyle", "")
    s = _DEGREES.sub("", s)
    s = s.replace("\\%", "").replace("%", "").replace("\\$", "").replace("$", "")
    s = _UNIT_TAIL.sub(r"\1", s)
    for _ in range(5):
        stripped = _TEXT_CMD.sub(r"\1", s)
        if stripped == s:
            break
        s = stripped
    s = s.replace("\\{", "{").replace("\\}", "}")
    s = _LHS.sub("", s.strip())
    s = _WORD_UNITS.sub(r"\1", s)
    s = re.sub(r"\s+", "", s)
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    s = _BARE_DECIMAL.sub(r"0.\1", s).rstrip(".")
    # 1011₂ → 1011_2; below, a numeral's base subscript is dropped (only the digits are compared)
    s = _UNICODE_BASE.sub(lambda m: m.group(1) + "_" + m.group(2).translate(_SUB_DIGITS), s)
    base = _BASE_SUBSCRIPT.fullmatch(s)
    if base:  # a numeral in a stated base, 1011_2: the digits are the answer
        s = base.group(1)
    choice = _LETTER_CHOICE.fullmatch(s)
    return choice.group(1) if choice else s


class _NotMath(Exception):
    pass


# A parsed expression: ("num", value) | ("var", name) | ("neg", x) | (op, x, y) for op in + - * / ^
# | ("!", x) | ("fn", name, x).
_Node = tuple[object, ...]

_FUNCS: dict[str, Callable[[float], float]] = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "ln": math.log, "exp": math.exp,
    "arcsin": math.asin, "arccos": math.acos, "arctan": math.atan,
    "sec": lambda x: 1 / math.cos(x), "csc": lambda x: 1 / math.sin(x), "cot": lambda x: 1 / math.tan(x),
    "sqrt": math.sqrt,
}
_CONSTS = {"pi": math.pi, "infty": math.inf, "infinity": math.inf}
_BINARY_CMDS = {"cdot": "*", "times": "*", "div": "/"}
_COMMANDS = sorted([*_FUNCS, *_CONSTS, *_BINARY_CMDS, "frac"], key=len, reverse=True)
_CLOSERS = {"(": ")", "{": "}", "[": "]"}
_NUMBER = re.compile(r"\d*\.?\d+")


def _factorial(x: float) -> float:
    if x < 0 or x > 170 or x != int(x):
        raise ValueError("factorial of a non-integer")
    return float(math.factorial(int(x)))


def _eval(node: _Node, env: dict[str, float]) -> float:
    kind = node[0]
    if kind == "num":
        return node[1]  # type: ignore[return-value]
    if kind == "var":
        return env[node[1]]  # type: ignore[index]
    if kind == "neg":
        return -_eval(node[1], env)  # type: ignore[arg-type]
    if kind == "!":
        return _factorial(_eval(node[1], env))  # type: ignore[arg-type]
    if kind == "fn":
        return _FUNCS[node[1]](_eval(node[2], env))  # type: ignore[index, arg-type]
    a, b = _eval(node[1], env), _eval(node[2], env)  # type: ignore[arg-type]
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    if kind == "/":
        return a / b
    return math.pow(a, b)  # "^"; ValueError for a negative base and a fractional power


class _Parser:
    """Recursive descent over a normalised LaTeX string, producing a small expression tree."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.depth = 0
        self.variables: set[str] = set()

    def parse(self) -> _Node:
        node = self.expr()
        if self.i != len(self.s):
            raise _NotMath(self.s[self.i :])
        return node

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def command(self) -> str | None:
        """The known command at the cursor (``\\pix`` reads as ``\\pi`` then ``x``), not consumed."""
        if self.peek() != "\\":
            return None
        for name in _COMMANDS:
            if self.s.startswith(name, self.i + 1):
                return name
        raise _NotMath(self.s[self.i : self.i + 12])

    def expr(self) -> _Node:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _NotMath("too deep")
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.s[self.i]
            self.i += 1
            node = (op, node, self.term())
        self.depth -= 1
        return node

    def term(self) -> _Node:
        node = self.unary()
        while True:
            c = self.peek()
            name = self.command() if c == "\\" else None
            if c in ("*", "/"):
                op = c
                self.i += 1
            elif name is not None and name in _BINARY_CMDS:
                op = _BINARY_CMDS[name]
                self.i += 1 + len(name)
            elif c.isalnum() or c in ("(", "{", ".") or name is not None:
                op = "*"  # implicit product: 2x, 3\sqrt{2}, (x-1)(x+1)
            else:
                return node
            node = (op, node, self.unary())

    def unary(self) -> _Node:
        if self.peek() in ("+", "-"):
            negative = self.s[self.i] == "-"
            self.i += 1
            inner = self.unary()
            return ("neg", inner) if negative else inner
        return self.power()

    def power(self) -> _Node:
        base = self.atom()
        while self.peek() == "!":
            self.i += 1
            base = ("!", base)
        if self.peek() != "^":
            return base
        self.i += 1
        exponent = self.unary() if self.peek() in ("+", "-") else self.power()
        return ("^", base, exponent)

    def group(self, close: str) -> _Node:
        node = self.expr()
        if self.peek() != close:
            raise _NotMath(f"expected {close}")
        self.i += 1
        return node

    def argument(self) -> _Node:
        """A TeX macro argument: a ``{group}``, one character (``\\frac12``) or a command."""
        c = self.peek()
        if c == "{":
            self.i += 1
            return self.group("}")
        if c.isdigit():
            self.i += 1
            return ("num", float(c))
        if c.isascii() and c.isalpha():
            self.i += 1
            self.variables.add(c)
            return ("var", c)
        if c == "\\":
            return self.atom()
        raise _NotMath("bad argument")

    def atom(self) -> _Node:
        c = self.peek()
        if c.isdigit() or c == ".":
            match = _NUMBER.match(self.s, self.i)
            if match is None:
                raise _NotMath("bad number")
            self.i = match.end()
            return ("num", float(match.group()))
        if c in _CLOSERS:
            self.i += 1
            return self.group(_CLOSERS[c])
        if c.isascii() and c.isalpha():
            self.i += 1
            self.variables.add(c)
            return ("var", c)
        name = self.command() if c == "\\" else None
        if name is None or name in _BINARY_CMDS:
            raise _NotMath(f"unexpected {c!r}")
        self.i += 1 + len(name)
        if name in _CONSTS:
            return ("num", _CONSTS[name])
        if name == "frac":
            return ("/", self.argument(), self.argument())
        if name == "sqrt":
            if self.peek() == "[":  # \sqrt[n]{x}
                self.i += 1
                index = self.group("]")
                return ("^", self.argument(), ("/", ("num", 1.0), index))
            return ("fn", name, self.argument())
        return ("fn", name, self.power())


_SAMPLES = (0.7310585786, 1.6180339887, 2.3025850930)
# Distinct offsets, so that no two variables ever take the same value (a + 2h must differ from 2a + h).
_VAR_OFFSETS = {c: (k + 1) * 0.1174 for k, c in enumerate(string.ascii_letters)}


def _compile(text: str) -> tuple[_Node, frozenset[str]] | None:
    if not text or len(text) > _MAX_LEN or _WORD.search(_LATEX_WORD.sub("", text)):
        return None
    parser = _Parser(text)
    try:
        node = parser.parse()
    except (_NotMath, RecursionError, ValueError):
        return None
    return node, frozenset(parser.variables)


def _evaluate(node: _Node, variables: frozenset[str]) -> list[float | None]:
    values: list[float | None] = []
    for sample in _SAMPLES:
        env = {name: sample + _VAR_OFFSETS.get(name, 0.0) for name in variables}
        try:
            values.append(float(_eval(node, env)))
        except (ArithmeticError, ValueError, KeyError, RecursionError):
            values.append(None)
        if not variables:
            break
    return values


def latex_value(answer: str) -> float | None:
    """The numeric value of a variable-free LaTeX answer, or None if it is not plain arithmetic.

    Example:
        >>> latex_value(r"\\frac{\\sqrt{2}}{2}") == latex_value(r"\\sqrt2/2")
        True
        >>> latex_value(r"2\\pi"), latex_value("x+1"), latex_value("blue")
        (6.283185307179586, None, None)
    """
    compiled = _compile(normalize_latex(answer))
    if compiled is None or compiled[1]:
        return None
    value = _evaluate(*compiled)[0]
    return None if value is None or math.isnan(value) else value


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _scalar_equivalent(a: str, b: str) -> bool:
    if a == b:
        return True
    ca, cb = _compile(a), _compile(b)
    if ca is None or cb is None or ca[1] != cb[1]:
        return False
    values = zip(_evaluate(*ca), _evaluate(*cb), strict=True)
    pairs = [(x, y) for x, y in values if x is not None or y is not None]
    return bool(pairs) and all(_close(x, y) for x, y in pairs)


def _enclosed(s: str) -> bool:
    depth = 0
    for k, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0 and k != len(s) - 1:
                return False
    return depth == 0


def _split(s: str) -> tuple[str, str, list[str]]:
    opener = closer = ""
    if len(s) >= 2 and s[0] in "([{" and s[-1] in ")]}" and _enclosed(s):
        opener, closer, s = s[0], s[-1], s[1:-1]
    parts, depth, start = [], 0, 0
    for k, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(s[start:k])
            start = k + 1
    parts.append(s[start:])
    return opener, closer, parts


def math_equivalent(prediction: str, reference: str) -> bool:
    """True if two MATH answers are the same value (see the module docstring for the rules).

    Example:
        >>> math_equivalent("0.5", r"\\frac{1}{2}"), math_equivalent(r"\\sqrt{2}/2", r"\\frac{\\sqrt2}{2}")
        (True, True)
        >>> math_equivalent(r"3\\sqrt{2}", "3"), math_equivalent("(1,2]", r"\\left(1, 2\\right]")
        (False, True)
    """
    a, b = normalize_latex(prediction), normalize_latex(reference)
    if a == b:
        return bool(a)
    oa, ca, pa = _split(a)
    ob, cb, pb = _split(b)
    if len(pa) > 1 or len(pb) > 1:
        if len(pa) != len(pb) or (oa, ca) != (ob, cb):
            return False
        if oa in ("", "{"):  # sets and bare lists of solutions: any order
            remaining = list(pb)
            for x in pa:
                match = next((k for k, y in enumerate(remaining) if _scalar_equivalent(x, y)), None)
                if match is None:
                    return False
                remaining.pop(match)
            return True
        return all(_scalar_equivalent(x, y) for x, y in zip(pa, pb, strict=True))
    return _scalar_equivalent(a, b)


class MathEquivalence(BaseScorer):
    """A stricter MATH scorer: ZeroEval's answer extraction, then :func:`math_equivalent`.

    Not the rule ZeroEval published with (use :class:`ZeroEvalMath` to reproduce its tables); it
    rejects ``3\\sqrt{2}`` for ``3`` and accepts ``1/2`` for ``\\frac{1}{2}``. With
    ``boxed_fallback=True`` an output with no JSON answer is read from its last ``\\boxed{}``,
    whatever the model.

    Example:
        >>> s = MathEquivalence()
        >>> s.score('{"answer": "\\\\\\\\dfrac{1}{2}"}', "0.5").value
        1.0
        >>> s.score('{"answer": "3\\\\\\\\sqrt{2}"}', "3").value
        0.0
        >>> MathEquivalence(boxed_fallback=True).score(r"... so $\\boxed{\\frac12}$", "1/2").value
        1.0
    """

    name: str = "math-equivalence"

    def __init__(self, *, boxed_fallback: bool = False) -> None:
        self.boxed_fallback = bool(boxed_fallback)

    def __repr__(self) -> str:
        return f"MathEquivalence(boxed_fallback={self.boxed_fallback})"

    def score(self, response: str, reference: str, *, model: str | None = None) -> Score:
        """Score one raw output against a LaTeX gold answer; see the class docstring."""
        answer = self.extract(response, model=model)
        if answer is None:
            return Score(0.0, None, False)
        return self._scored(1.0 if math_equivalent(answer, str(reference)) else 0.0, answer)

    def extract(self, response: str, *, model: str | None = None) -> str | None:
        answer = extract_answer(response, model)
        if answer is None and self.boxed_fallback and isinstance(response, str):
            answer = find_last_boxed(response)
        return answer

    def normalize(self, answer: str) -> str | None:
        """The value of the LaTeX (9 significant digits) when it has one, else the normalised LaTeX."""
        value = latex_value(str(answer))
        if value is not None and math.isfinite(value):
            return number_key(value, digits=9)
        return normalize_latex(str(answer))
