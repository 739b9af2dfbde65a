"""What a provider's error reply means: its kind, from what the provider says, not the status line alone.

The body decides first: its error ``type`` / ``code`` (OpenAI's and Groq's error objects, Anthropic's
``{"type": "error", "error": {...}}`` also inside a 200 stream, Gemini's ``status``, vLLM's, TGI's and
llama.cpp's shapes) looked up in :data:`routerlab.errors.ERROR_KINDS`; then the message: a context
overflow in the words of any provider or OpenAI-compatible server is :class:`~routerlab.errors.ContextTooLong`,
a limit of the key (tokens per minute, quota, request size) is :class:`~routerlab.errors.DeploymentLimit`;
last the status. A 400/422 that names a parameter the request carried is
:class:`~routerlab.errors.UnsupportedParameter`.

Example::

    >>> e = classify(200, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    >>> type(e).__name__, e.kind.retry_same
    ('Overloaded', True)
    >>> type(classify(400, {"error": {"message": "the request exceeds the available context size, "
    ...                                          "try increasing it", "type": "exceed_context_size_error"}})).__name__
    'ContextTooLong'
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Collection, Mapping
from typing import Any

from ..errors import (
    ERROR_KINDS,
    ContextTooLong,
    DeploymentLimit,
    ErrorKind,
    ProviderError,
    UnsupportedParameter,
    error_class,
    kind_for_status,
)

__all__ = ["classify", "error_fields", "is_context_overflow", "is_key_limit", "parse_retry_after",
           "unsupported_parameter"]

# A context overflow, as providers and OpenAI-compatible servers word it (OpenAI, Azure, DeepSeek, vLLM:
# "maximum context length is N tokens"; Anthropic: "prompt is too long", "input length and max_tokens
# exceed context limit"; Gemini: "input token count ... exceeds the maximum number of tokens"; llama.cpp:
# "exceeds the available context size"; Ollama: "input length exceeds the context length"; sglang,
# Together: "longer than the model's context length"; TGI: "`inputs` tokens + `max_new_tokens` must be
# <="; Mistral: "too large for model with N maximum context length"; xAI: "maximum prompt length"; Groq:
# "reduce the length of the messages"; Bedrock: "input is too long"). Concepts, not sentences.
_OVERFLOW = re.compile(r"""
      context[\s_-]?(?:length|window|size|limit)[\s_-]?(?:exceeded|exceeds)
    | (?:exceed\w*|longer\ than|greater\ than|larger\ than|more\ than|too\ (?:long|large|big|many))\b[^.;]{0,80}?
      \b(?:context|(?:max(?:imum)?|model'?s?)\s(?:allowed\s)?(?:input|prompt|sequence)\s(?:length|size|tokens))
    | (?:context|max(?:imum)?\s(?:context|prompt|input|sequence))[\s_](?:length|size|window|limit)\b
      [^.;]{0,60}?\b(?:exceed\w*|however|is\ only|too\ (?:long|large))
    | \b(?:prompt|input|request|messages?|conversation)s?\b[^;\n]{0,40}?\btoo\ long
    | \b(?:input|prompt)\s(?:token\s count|length|tokens?)\b[^.;]{0,60}?\bexceed
    | \bmax(?:imum)?\s(?:prompt|input)\s length
    | inputs`?\s tokens\s \+\s `?max_new_tokens
    | range\ of\ input\ length
    | (?:exceeded\ model\ |\b)token\ limit\ (?:exceeded|reached)|exceeded\ model\ token\ limit
    | reduce\ the\ length\ of\ the\ (?:messages|prompt|input)
    | \btoo\ many\ (?:input\ |prompt\ )?tokens
    | \bmax(?:imum)?\s context\s length\s is\s [\d,]+
    | \bprompt\s (?:has|contains)\s [\d,]+\s tokens?\b
""", re.I | re.X)

# A limit of the key, per time period or quota: never a context overflow, whatever else it says
# ("Request too large for model ... on tokens per minute (TPM)", "exceeded your current quota").
_KEY_LIMIT = re.compile(r"""
      \bper\s(?:minute|min|second|sec|hour|day)\b | \b(?:tpm|rpm|tpd|rpd|itpm|otpm)\b
    | rate[\s_-]?limit | throttl | \bquota\b | billing | credit\ balance | please\ wait | try\ again\ in
""", re.I | re.X)

_UNSUPPORTED = re.compile(r"""
      unsupported | not\ supported | does\ not\ support | doesn't\ support | unknown | unrecogni[sz]ed
    | not\ permitted | not\ allowed | extra\ (?:inputs|fields) | extra_forbidden | cannot\ find\ field
    | unexpected\ (?:keyword|field|parameter|argument) | invalid\ (?:parameter|field|argument)
""", re.I | re.X)


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (preferred) or ``Retry-After`` (seconds or an HTTP date).

    Non-negative and never NaN: a negative, malformed or NaN value is ignored (None); a huge value or
    ``inf`` is returned as is and clamped by whoever turns it into a cooldown.

    Example::

        >>> parse_retry_after({"retry-after": "7"})
        7.0
        >>> parse_retry_after({"retry-after-ms": "1500", "retry-after": "2"})
        1.5
        >>> parse_retry_after({"retry-after": "-5"}), parse_retry_after({"retry-after": "soon"})
        (None, None)
    """
    if not headers:
        return None
    lower = {str(k).lower(): str(v).strip() for k, v in headers.items()}
    ms = _seconds(lower.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    value = lower.get("retry-after")
    seconds = _seconds(value)
    if seconds is not None or not value:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _seconds(text: str | None) -> float | None:
    try:
        value = float(text) if text else math.nan
    except ValueError:
        return None
    return value if value >= 0 else None  # NaN and negative values fail this test


def error_fields(body: Any, fallback: str = "") -> tuple[str, str | None, str | None, str | None]:
    """``(message, type, code, param)`` of a provider error body, whatever its shape.

    Example::

        >>> error_fields({"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}})
        ('slow down', 'requests', 'rate_limit_exceeded', None)
        >>> error_fields({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        ('Overloaded', 'overloaded_error', None, None)
    """
    if isinstance(body, list) and body and isinstance(body[0], Mapping):  # Gemini: [{"error": {...}}]
        body = body[0]
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, str):  # TGI: {"error": "...", "error_type": "validation"}
            return inner, _text(body.get("error_type")), None, None
        if isinstance(inner, Mapping):
            message = inner.get("message") or inner.get("msg") or body.get("detail") or fallback
            kind = inner.get("type") or inner.get("status")
            return str(message), _text(kind), _text(inner.get("code")), _text(inner.get("param"))
    if isinstance(body, str) and body:
        return body[:500], None, None, None
    return fallback, None, None, None


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, (int, float)) else str(value)


def is_context_overflow(text: str) -> bool:
    """Whether an error message says the request does not fit the model's context window.

    Example::

        >>> is_context_overflow("This model's maximum context length is 8192 tokens. However, your messages "
        ...                     "resulted in 9000 tokens.")
        True
        >>> is_context_overflow("Request too large for model on tokens per minute (TPM): Limit 6000, Requested 7841")
        False
    """
    return bool(_OVERFLOW.search(text)) and not _KEY_LIMIT.search(text)


def is_key_limit(text: str) -> bool:
    """Whether an error message speaks of a per-period limit or a quota of the key (TPM, RPM, billing)."""
    return bool(_KEY_LIMIT.search(text))


def _by_body(body_type: str | None, code: str | None) -> ErrorKind | None:
    for value in (code, body_type):
        if value:
            low = value.lower()
            for kind in ERROR_KINDS.values():
                if low in kind.body_types:
                    return kind
    return None


_GENERIC = ("bad_request", "server_error")  # kinds of catch-all body types ("invalid_request_error", "api_error")


def _kind(status: int | None, text: str, body_type: str | None, code: str | None) -> ErrorKind:
    client_side = status is None or status < 500 or status == 200  # a 5xx never means "your prompt is too long"
    if client_side and is_context_overflow(text):
        return ERROR_KINDS["context_too_long"]
    kind = _by_body(body_type, code)
    if status not in (None, 200) and (kind is None or kind.name in _GENERIC):
        by_status = kind_for_status(status)  # a generic body type: the status may say more
        kind = by_status if kind is None or by_status.name not in _GENERIC else kind
    kind = kind or ERROR_KINDS["provider_error"]
    if kind.name == "rate_limited" and (status == 413 or (is_key_limit(text) and "token" in text.lower())):
        return ERROR_KINDS["deployment_limit"]  # "... on tokens per minute (TPM)": this request, this key
    return kind


def classify(status: int | None, body: Any = None, *, message: str = "", headers: Mapping[str, str] | None = None,
             deployment: str | None = None, tokens: tuple[int, int] = (0, 0)) -> ProviderError:
    """The routerlab error for a provider's error reply (``message``, and the body's, must already be redacted).

    ``status`` is the HTTP status (200 for an error event inside a stream, None when unknown); ``body``
    the parsed error body; ``headers`` give ``Retry-After``.
    """
    text, body_type, code, _ = error_fields(body, message)
    hay = " ".join(x for x in (body_type, code, text) if x)
    kind = _kind(status, hay, body_type, code)
    head = f"HTTP {status}" if status not in (None, 200) else "error event"
    hint = _HINTS.get(kind.name, "")
    cls = error_class(kind.name)
    return cls(f"{head}: {text}{hint}", status=status, deployment=deployment, tokens=tokens,
               retry_after=parse_retry_after(headers))


_HINTS = {"misconfigured": " (check the API key variable and the deployment's access)",
          "not_found": " (check the deployment's model name and base_url)"}


def unsupported_parameter(error: ProviderError, body: Any, candidates: Collection[str]) -> str | None:
    """The parameter a 400/422 reply rejects, when it is one of ``candidates`` (the optional parameters the
    request carried); None when the reply is about something else.

    Example::

        >>> err = classify(400, {"error": {"message": "Unsupported parameter: 'seed' is not supported with "
        ...                                           "this model.", "param": "seed"}})
        >>> unsupported_parameter(err, {"error": {"param": "seed"}}, ["seed", "temperature"])
        'seed'
    """
    if error.status not in (400, 422) or isinstance(error, (ContextTooLong, DeploymentLimit)):
        return None
    text, _, code, param = error_fields(body, str(error))
    hay = f"{code or ''} {text} {error}"
    if not _UNSUPPORTED.search(hay):
        return None
    if param in candidates:
        return param
    found = [(m.start(), name) for name in candidates
             for m in [re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", hay)] if m]
    return min(found)[1] if found else None


def unsupported(error: ProviderError, param: str) -> UnsupportedParameter:
    """``error`` as an :class:`~routerlab.errors.UnsupportedParameter` naming ``param``."""
    return UnsupportedParameter(str(error), param=param, status=error.status, deployment=error.deployment)
