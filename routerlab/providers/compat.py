"""What goes out on the wire: compatibility settings per deployment, and the check that a request can be sent.

OpenAI-compatible hosts differ: some reject parameters (``seed``, ``logit_bias``, ...), some want
``max_completion_tokens`` instead of ``max_tokens``, some refuse usage options on streams. A
deployment's :class:`Compat` says so up front (``compat:`` in the gateway config); a host that answers
400/422 naming a parameter the request carried teaches the provider at run time (one retry without it,
remembered for that deployment).

:func:`unsendable` finds what in a request cannot be serialised or encoded (a lone surrogate, a NaN,
an object JSON cannot carry) before any byte is sent: that is the caller's error, never a deployment's.

Example::

    >>> Compat(drop_params=["seed"]).apply({"model": "m", "messages": [], "seed": 7})
    {'model': 'm', 'messages': []}
    >>> unsendable({"messages": [{"role": "user", "content": "bad \\ud800 text"}]})
    "messages[0].content: the text cannot be encoded as UTF-8 (a lone surrogate '\\\\ud800' at character 4)"
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import StrictBool, StrictStr

from .._validation import Validated, is_real

__all__ = ["Compat", "unsendable", "PROTECTED_PARAMS"]

PROTECTED_PARAMS = frozenset({"model", "messages", "stream", "system", "extra_body"})
"""Parameters never dropped: without them the request means something else."""
_MAX_TOKENS = ("max_tokens", "max_completion_tokens")


class Compat(Validated):
    """How a deployment's host differs from the reference API.

    ``drop_params``: parameters the host rejects, never sent; ``max_tokens_param``: the name the host
    takes for the output budget (``max_tokens`` or ``max_completion_tokens``; None: the adapter's
    default); ``stream_usage``: whether the host accepts ``stream_options.include_usage`` on streams
    (without it, a stream's usage is counted locally).

    Example::

        >>> Compat(max_tokens_param="max_completion_tokens").apply({"max_tokens": 5})
        {'max_completion_tokens': 5}
    """

    section = "compat"
    drop_params: tuple[StrictStr, ...] = ()
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] | None = None
    stream_usage: StrictBool = True

    def apply(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` as this host takes them (a new dict; ``extra_body`` is handled like the top level)."""
        out = {k: v for k, v in params.items() if k not in self.drop_params}
        if isinstance(out.get("extra_body"), Mapping):
            out["extra_body"] = self.apply(out["extra_body"])
            if not out["extra_body"]:
                del out["extra_body"]
        if not self.stream_usage:
            out.pop("stream_options", None)
        name = self.max_tokens_param
        if name is not None:
            for other in _MAX_TOKENS:
                if other != name and other in out:
                    out[name] = out.pop(other)
        return out

    def without(self, param: str) -> Compat | None:
        """These settings after the host rejected ``param``; None when nothing can be done without it."""
        if param in PROTECTED_PARAMS or param in self.drop_params:
            return None
        if param in _MAX_TOKENS:  # the output budget matters: send it under the other name
            other = next(p for p in _MAX_TOKENS if p != param)
            return None if self.max_tokens_param == other else self.replace(max_tokens_param=other)
        if param == "stream_options":
            return self.replace(stream_usage=False) if self.stream_usage else None
        return self.replace(drop_params=(*self.drop_params, param))

    def describe(self) -> str:
        """As it would be written in the gateway config."""
        return json.dumps(self.model_dump(exclude_defaults=True))


def candidates(params: Mapping[str, Any]) -> list[str]:
    """The optional parameters of ``params`` (and of its ``extra_body``) a host may reject."""
    names = [k for k in params if k not in PROTECTED_PARAMS]
    extra = params.get("extra_body")
    if isinstance(extra, Mapping):
        names += [k for k in extra if k not in PROTECTED_PARAMS]
    return names


def unsendable(params: Mapping[str, Any]) -> str | None:
    """What in ``params`` cannot be sent as JSON in UTF-8, with its path; None when all of it can."""
    try:
        json.dumps(params, ensure_ascii=False, allow_nan=False).encode("utf-8")
        return None
    except (TypeError, ValueError):
        return _first_problem(params, "") or "the request is not JSON-serialisable"


def _first_problem(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (f"{path}: the text cannot be encoded as UTF-8 (a lone surrogate "
                    f"{value[exc.start]!r} at character {exc.start})")
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path}: {value!r} is not a number JSON can carry"
    if isinstance(value, Mapping):
        return next((p for k, v in value.items() for p in [_first_problem(v, f"{path}.{k}" if path else str(k))] if p),
                    None)
    if isinstance(value, (list, tuple)):
        return next((p for i, v in enumerate(value) for p in [_first_problem(v, f"{path}[{i}]")] if p), None)
    if value is None or isinstance(value, (bool, int)):
        return None
    return f"{path}: a {type(value).__name__} cannot be sent as JSON"


def sampling_problem(request: Any) -> str | None:
    """What in a request's sampling parameters no provider accepts, named with the rule; None when all is
    well. Rules common to the OpenAI, Anthropic and Groq APIs (their API references): ``max_tokens`` a
    positive integer, ``temperature`` a number >= 0 (each host caps it: 2 for OpenAI and Groq, 1 for
    Anthropic, and answers above its cap itself), ``top_p`` in (0, 1], ``seed`` an integer, ``stop`` texts.
    A NaN is left to :func:`unsendable` (it cannot be written as JSON at all)."""
    checks = (
        ("max_tokens", request.max_tokens, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
         "a positive integer"),
        ("temperature", request.temperature, lambda v: is_real(v) and not v < 0, "a number >= 0"),
        ("top_p", request.top_p, lambda v: is_real(v) and not (v <= 0 or v > 1), "a number in (0, 1]"),
        ("seed", request.seed, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
        ("stop", request.stop, lambda v: all(isinstance(s, str) for s in v), "a list of texts"),
    )
    for name, value, ok, rule in checks:
        if value is not None and not ok(value):
            return f"{name}: {value!r} (must be {rule})"
    return None
