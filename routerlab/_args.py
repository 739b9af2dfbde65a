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
import sys
from typing import NoReturn

__all__ = ["ArgumentParser", "fraction", "positive_int", "port", "fail", "EXIT_USAGE"]

#: The exit code of a bad argument or configuration (every ``routerlab`` command).
EXIT_USAGE = 2


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def fraction(text: str) -> float:
    """A share strictly between 0 and 1 (e.g. ``--test-size``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a share between 0 and 1, e.g. 0.5") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not strictly between 0 and 1; give a share such as 0.5 "
                                         "(0 or 1 would leave the train or the test part empty)")
    return value


def positive_int(text: str) -> int:
    """An integer ≥ 1 (e.g. ``--concurrency``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give one >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1; give a whole number >= 1")
    return value


def port(text: str) -> int:
    """A TCP port 0-65535 (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number; give 0-65535 (0: any free port)") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number; give 0-65535 (0: any free port)")
    return value


def fail(prog: str, message: str, code: int = EXIT_USAGE) -> int:
    """Print ``prog: message`` on one line of stderr and return ``code`` (for errors found after parsing)."""
    print(f"{prog}: {message}", file=sys.stderr)
    return code
