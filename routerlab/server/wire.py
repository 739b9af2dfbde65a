"""The three wire formats of the local server: bodies, stream events, errors, usage, request checks.

Private to :mod:`routerlab.server`. What a real provider sends is reproduced closely enough that the
official SDKs parse it and routerlab's error classification sees what it would see in production:
error bodies typed as each API types them (also an error event inside a 200 stream), a 404 for a model
the host does not serve, a host that rejects a parameter, usage with prompt-cache fields, and the 400s
the real APIs answer to malformed conversations.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["error_body", "stream_error", "usage", "whole_body", "openai_events", "anthropic_events",
           "conversation_problem", "rejected_param", "STATUS_TEXT"]

_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                    500: "api_error", 529: "overloaded_error", 503: "overloaded_error"}
_OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_denied",
                 404: "invalid_request_error", 413: "invalid_request_error", 429: "requests"}
STATUS_TEXT = {429: "Rate limit reached for requests (injected by routerlab's local server).",
               500: "The server had an error while processing your request (injected).",
               502: "Bad gateway (injected).", 503: "The service is temporarily unavailable (injected).",
               529: "Overloaded (injected).", 400: "Bad request (injected).", 401: "Unauthorized (injected).",
               403: "Forbidden (injected).", 404: "The model `{model}` does not exist or you do not have access to it.",
               413: "Request too large (injected)."}
_STATUS_CODE = {429: "rate_limit_exceeded", 500: "server_error", 503: "service_unavailable", 404: "model_not_found"}
_OPENAI_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def error_body(api: str, status: int, message: str, *, kind: str | None = None, code: str | None = None,
               param: str | None = None) -> dict[str, Any]:
    """An error body as ``api`` writes it; ``kind`` overrides the error type the status implies."""
    if api == "anthropic":
        return {"type": "error", "error": {"type": kind or _ANTHROPIC_TYPES.get(status, "api_error"),
                                           "message": message}}
    default = "server_error" if status >= 500 else "invalid_request_error"
    if kind is not None:  # an injected type: no default code contradicting it
        return {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return {"error": {"message": message, "type": _OPENAI_TYPES.get(status, default), "param": param,
                      "code": code if code is not None else _STATUS_CODE.get(status)}}


def stream_error(api: str, kind: str, message: str) -> bytes:
    """An error event inside a 200 stream: Anthropic's named ``error`` event, OpenAI's ``data: {"error"}``."""
    if api == "anthropic":
        return _sse({"type": "error", "error": {"type": kind, "message": message}}, "error")
    return _sse({"error": {"message": message, "type": kind, "param": None, "code": None}})


def usage(api: str, n_in: int, n_out: int, cached: int = 0, written: int = 0) -> dict[str, Any]:
    """Token usage as ``api`` reports it, prompt-cache fields included (Anthropic's ``input_tokens``
    exclude the cached and cache-written ones; OpenAI's ``prompt_tokens`` include them)."""
    if api == "anthropic":
        return {"input_tokens": n_in - cached - written, "output_tokens": n_out, "cache_read_input_tokens": cached,
                "cache_creation_input_tokens": written}
    return {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out,
            "prompt_tokens_details": {"cached_tokens": cached}}


def _stop_reason(finish: str, stop_seq: str | None) -> str:
    return {"stop": "stop_sequence" if stop_seq else "end_turn", "length": "max_tokens"}[finish]


def whole_body(api: str, model: str, text: str, finish: str, stop_seq: str | None,
               use: Mapping[str, Any]) -> dict[str, Any]:
    """A whole (non-streamed) answer as ``api`` writes it."""
    if api == "anthropic":
        return {"id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": _stop_reason(finish, stop_seq),
                "stop_sequence": stop_seq, "usage": dict(use)}
    body: dict[str, Any] = {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion", "created": int(time.time()),
        "model": model, "system_fingerprint": "routerlab-local",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                     "logprobs": None, "finish_reason": finish}],
        "usage": dict(use),
    }
    if api == "groq":
        body["x_groq"] = {"id": "req_" + uuid.uuid4().hex[:16]}
    return body


def _sse(obj: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + json.dumps(obj).encode() + b"\n\n"


def openai_events(api: str, model: str, pieces: list[str], finish: str, stop_seq: str | None,
                  use: Mapping[str, Any], include_usage: bool) -> Iterable[tuple[str, bytes]]:
    """``(kind, bytes)`` of a Chat Completions stream (``text`` for a delta); Groq's usage in ``x_groq``."""
    base = {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model, "system_fingerprint": "routerlab-local"}
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], reason: str | None = None, **more: Any) -> bytes:
        return _sse({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
                     **extra, **more})

    yield "head", chunk({"role": "assistant", "content": ""})
    for p in pieces:
        yield "text", chunk({"content": p})
    groq_usage = {"x_groq": {"id": base["id"], "usage": dict(use)}} if api == "groq" else {}
    yield "end", chunk({}, finish, **groq_usage)
    if include_usage:
        yield "usage", _sse({**base, "choices": [], "usage": dict(use)})
    yield "done", b"data: [DONE]\n\n"


def anthropic_events(api: str, model: str, pieces: list[str], finish: str, stop_seq: str | None,
                     use: Mapping[str, Any], include_usage: bool) -> Iterable[tuple[str, bytes]]:
    """``(kind, bytes)`` of a Messages stream: ``message_start`` (input usage) … ``message_stop``."""
    msg: dict[str, Any] = {"id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant",
                           "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
                           "usage": {**use, "output_tokens": 1}}
    yield "head", _sse({"type": "message_start", "message": msg}, "message_start")
    yield "head", _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                       "content_block_start")
    yield "head", _sse({"type": "ping"}, "ping")
    for p in pieces:
        yield "text", _sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}},
                           "content_block_delta")
    yield "end", _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    yield "end", _sse({"type": "message_delta", "delta": {"stop_reason": _stop_reason(finish, stop_seq),
                                                          "stop_sequence": stop_seq},
                       "usage": {"output_tokens": use["output_tokens"]}}, "message_delta")
    yield "done", _sse({"type": "message_stop"}, "message_stop")


def conversation_problem(api: str, messages: Sequence[Any]) -> str | None:
    """What the real API rejects about ``messages`` (400): none at all, a role it does not take, and for
    Anthropic a first turn that is not the user's; None when they are acceptable."""
    if not messages:
        return ("messages: at least one message is required" if api == "anthropic"
                else "[] is too short - 'messages'")
    roles = ("user", "assistant") if api == "anthropic" else _OPENAI_ROLES
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, Mapping) else None
        if role not in roles:
            return (f"messages.{i}.role: Input should be 'user' or 'assistant'" if api == "anthropic" else
                    f"Invalid value: {role!r}. Supported values are: {', '.join(map(repr, roles))}.")
    if api == "anthropic" and messages[0].get("role") != "user":
        return 'messages: first message must use the "user" role'
    return None


def rejected_param(body: Mapping[str, Any], reject: Sequence[str]) -> str | None:
    """The first of ``reject`` the request body carries (top level or in ``stream_options``)."""
    for name in reject:
        if name in body:
            return name
    return None
