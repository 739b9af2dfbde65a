"""The argument parser of every ``routerlab`` command: a user's mistake is one line and exit code 2.

argparse's own parser prints the whole usage block before its error; on a terminal that buries the
one line that matters. This parser prints ``routerlab run: argument --test-size: ... (see 'routerlab
run --help')`` and exits 2, the documented code for bad arguments. Argument types that check a range
live here too, so ``run``, ``serve`` and ``export`` reject bad values the same way.

Example::

    >>> p = ArgumentParser(prog="routerlab demo")
    >>> _ = p.add_argument("--share", type=fraction, default=0.5)
    >>> p.parse_args(["--share", "0.25"]).share
    0.25
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

__all__ = ["ArgumentParser", "fraction", "positive_int", "seed", "non_negative_float", "port", "fail", "EXIT_USAGE",
           "NUMBER_TYPES", "names", "http_url", "plain_text", "writable_dir"]

N = TypeVar("N", int, float)

#: The exit code of a bad argument or configuration (every ``routerlab`` command).
EXIT_USAGE = 2


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line on stderr and exit code 2, and whose
    ``--help`` is plain text: descriptions taken from docstrings lose their reStructuredText markup."""

    def format_help(self) -> str:
        return plain_text(super().format_help())

    def format_usage(self) -> str:
        return plain_text(super().format_usage())

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain_text(text: str) -> str:
    """``text`` without reStructuredText inline markup: ````x```` → ``x``, ``:class:`~a.B``` → ``a.B``,
    and ``Example::`` → ``Example:`` (what a terminal should show of a docstring)."""
    text = _ROLE.sub(lambda m: m.group(1), text)
    text = _LITERAL.sub(lambda m: m.group(1), text)
    return re.sub(r"(\S)::$", r"\1:", text, flags=re.MULTILINE)


def fraction(text: str) -> float:
    """A share strictly between 0 and 1 (e.g. ``--test-size``)."""
    return _checked(text, float, "is not a number; give a share between 0 and 1, e.g. 0.5", lambda v: 0 < v < 1,
                    lambda v: f"{text} is not strictly between 0 and 1; give a share such as 0.5 (0 or 1 would "
                              "leave the train or the test part empty)")


def positive_int(text: str) -> int:
    """An integer ≥ 1 (e.g. ``--concurrency``)."""
    return _checked(text, int, "is not a whole number; give one >= 1", lambda v: v >= 1,
                    lambda v: f"{v} is less than 1; give a whole number >= 1")


def seed(text: str) -> int:
    """A random seed: an integer 0 to 2**32 - 1 (the range numpy's generators accept)."""
    return _checked(text, int, "is not a whole number; give a seed 0 to 4294967295, e.g. 0", lambda v: 0 <= v < 2**32,
                    lambda v: f"{v} is outside 0 to 4294967295; give a seed such as 0")


def non_negative_float(text: str) -> float:
    """A finite number ≥ 0 (e.g. ``--latency-scale``: 0 means at once); ``nan`` and ``inf`` are refused."""
    return _checked(text, float, "is not a number; give one >= 0, e.g. 1.0", lambda v: math.isfinite(v) and v >= 0,
                    lambda v: f"{text} is not a finite number >= 0; give one such as 1.0 (0: no delay)")


def port(text: str) -> int:
    """A TCP port 0-65535 (0: any free port)."""
    return _checked(text, int, "is not a port number; give 0-65535 (0: any free port)", lambda v: 0 <= v <= 65535,
                    lambda v: f"{v} is not a port number; give 0-65535 (0: any free port)")


def names(example: str) -> Callable[[str], list[str]]:
    """A comma-separated list type whose parse is the non-empty, stripped names in order, without
    repeats; ``""`` or ``", ,"`` is refused (an empty list would silently mean "everything")."""
    def parse(text: str) -> list[str]:
        items = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
        if not items:
            raise argparse.ArgumentTypeError(f"{text!r} is empty; give comma-separated names such as {example} "
                                             "(or leave the flag out for the default)")
        return items
    parse.__name__ = "names"  # argparse names the type in its own messages
    return parse


def http_url(text: str) -> str:
    """An absolute ``http://`` or ``https://`` URL with a host (e.g. ``--api-base``), without a trailing slash."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text.strip())
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or out of range
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL; give one such as "
                                         "http://127.0.0.1:8000/v1 or https://api.openai.com/v1")
    return text.strip().rstrip("/")


def writable_dir(text: str) -> str:
    """An output directory this process can write files into, checked when the flags are parsed, so a
    long run never ends in a write error. Probed by really creating (and removing) a file: permission
    bits lie for root and on special file systems such as /proc. Directories the probe had to create
    are removed again; the command creates them when it writes."""
    import tempfile
    from pathlib import Path

    path = Path(text).expanduser()
    missing = [p for p in (path, *path.parents) if not p.exists()]
    try:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"{text} exists and is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".routerlab-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise argparse.ArgumentTypeError(f"cannot write into {text} ({reason}); give a directory you can "
                                         "write to, e.g. results/") from None
    finally:
        for made in missing:  # innermost first; only empty ones, never what another process put there
            try:
                made.rmdir()
            except OSError:
                break
    return text


#: Every numeric argument type of the ``routerlab`` parsers: each checks its range at parse time, so a
#: bare ``type=int`` / ``type=float`` (which lets -1, nan or inf through to fail mid-run) is never used.
NUMBER_TYPES = (fraction, positive_int, seed, non_negative_float, port)


def _checked(text: str, kind: Callable[[str], N], not_one: str, fits: Callable[[N], bool],
             outside: Callable[[N], str]) -> N:
    """``kind(text)`` when it parses and ``fits``; else argparse's error: ``'<text>' <not_one>``, or
    ``outside(value)``."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} {not_one}") from None
    if not fits(value):
        raise argparse.ArgumentTypeError(outside(value))
    return value


def fail(prog: str, message: str, code: int = EXIT_USAGE) -> int:
    """Print ``prog: message`` on one line of stderr and return ``code`` (for errors found after parsing)."""
    print(f"{prog}: {message}", file=sys.stderr)
    return code
