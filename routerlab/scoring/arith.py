"""Safe arithmetic: evaluate a numeric expression from untrusted text without ``eval``.

ZeroEval turned answers such as ``"3/4"`` into ``0.75`` with Python's ``eval``. Model output must never
reach ``eval``, so this module parses the text with :mod:`ast` (the same grammar ``eval`` would use) and
walks the tree, accepting only numeric literals, ``+ - * / // % **``, unary signs and parentheses, with
limits on input length and on the size of powers. Anything else is rejected with ``ValueError``, which
is where ``eval`` would also have failed for every answer in the bundled data.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

__all__ = ["safe_arithmetic"]

_MAX_CHARS = 2_000
_MAX_INT_BITS = 20_000  # ints beyond this cannot become a float anyway (float() would overflow)

_BINOPS: dict[type[ast.operator], Callable[[object, object], object]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def _check_size(value: int | float) -> int | float:
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise ValueError("intermediate integer too large")
    return value


def _power(base: int | float, exp: int | float) -> int | float:
    # Refuse before computing: 10**10**10 must not hang the scorer.
    if (isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1
            and exp * abs(base).bit_length() > _MAX_INT_BITS):
        raise ValueError("power too large")
    result = base**exp
    if isinstance(result, complex):
        raise ValueError("complex result")
    return _check_size(result)


def _walk(node: ast.AST) -> int | float:
    if isinstance(node, ast.Expression):
        return _walk(node.body)
    if isinstance(node, ast.Constant):
        value = node.value
        # bool is an int subclass and complex is numeric: neither is an arithmetic answer.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"not a number: {value!r}")
        return _check_size(value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _walk(node.operand)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        left, right = _walk(node.left), _walk(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        fn = _BINOPS.get(type(node.op))
        if fn is None:
            raise ValueError(f"operator not allowed: {type(node.op).__name__}")
        return _check_size(fn(left, right))  # type: ignore[arg-type]
    raise ValueError(f"syntax not allowed: {type(node).__name__}")


def safe_arithmetic(text: str) -> float:
    """Evaluate a plain arithmetic expression to a float, never calling ``eval``.

    Accepts numeric literals, ``+ - * / // % **``, unary ``+``/``-`` and parentheses. Raises
    ``ValueError`` for anything else (names, calls, strings, ``^``), for division by zero, for
    integers over 20,000 bits and inputs over 2,000 characters. Like ``float(eval(...))`` it may
    return ``inf`` or ``nan`` (``1e308*10``).

    Example:
        >>> safe_arithmetic("3/4")
        0.75
        >>> safe_arithmetic("-(1+2)**2/3")
        -3.0
        >>> safe_arithmetic("__import__('os')")
        Traceback (most recent call last):
        ...
        ValueError: syntax not allowed: Call
    """
    if len(text) > _MAX_CHARS:
        raise ValueError("expression too long")
    try:
        tree = ast.parse(text.strip(), mode="eval")
        value = _walk(tree)
        result = float(value)
    except (SyntaxError, ZeroDivisionError, OverflowError, TypeError, RecursionError,
            MemoryError) as exc:
        raise ValueError(f"cannot evaluate {text[:80]!r}: {exc}") from None
    return result
