"""The plain data that flows through routerlab: Request → Decision → Completion → Answer.

All are frozen dataclasses: cheap to build, safe to share between tasks, easy to test.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

__all__ = ["Message", "Request", "Usage", "Completion", "Decision", "Answer", "Caller", "Strategy"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message. ``role`` is ``system``, ``user`` or ``assistant``."""

    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


def _as_messages(messages: Iterable[Message | Mapping[str, Any]]) -> tuple[Message, ...]:
    out = []
    for m in messages:
        if isinstance(m, Message):
            out.append(m)
        else:
            out.append(Message(str(m["role"]), str(m["content"])))
    return tuple(out)


@dataclass(frozen=True)
class Request:
    """What a user asks: messages plus sampling parameters plus metadata.

    Example::

        >>> r = Request.from_prompt("What is 2+2?", task="gsm", max_tokens=64)
        >>> r.prompt
        'What is 2+2?'
    """

    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float = 0.0
    top_p: float | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    tools: str | None = None  # canonical JSON of the tool definitions, when any
    response_format: str | None = None  # canonical JSON, when any
    prompt_id: str | None = None
    task: str | None = None
    sample: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", _as_messages(self.messages))
        if not self.messages:
            raise ValueError("Request needs at least one message; use Request.from_prompt(text)")
        if self.stop is not None and not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))

    @classmethod
    def from_prompt(cls, prompt: str, *, system: str | None = None, **kwargs: Any) -> Request:
        """Build a one-turn request (optionally with a system prompt)."""
        msgs = ([Message("system", system)] if system else []) + [Message("user", prompt)]
        return cls(messages=tuple(msgs), **kwargs)

    @property
    def prompt(self) -> str:
        """The last user message: what prompt-only routers look at."""
        for m in reversed(self.messages):
            if m.role == "user":
                return m.content
        return self.messages[-1].content

    @property
    def system(self) -> str | None:
        return next((m.content for m in self.messages if m.role == "system"), None)

    @property
    def text(self) -> str:
        """Every message's content, joined: what a token count must cover."""
        return "\n".join(m.content for m in self.messages)

    def messages_as_dicts(self) -> list[dict[str, str]]:
        return [m.to_dict() for m in self.messages]

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters that change the answer (all of them go into cache keys)."""
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": list(self.stop) if self.stop else None,
            "seed": self.seed,
            "tools": self.tools,
            "response_format": self.response_format,
        }

    def with_(self, **changes: Any) -> Request:
        """A copy with some fields changed."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and dollars, addable. ``cached_tokens`` (read from the provider's prompt cache) and
    ``cache_write_tokens`` (written to it) count inside ``input_tokens``."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                     self.cost + other.cost, self.cached_tokens + other.cached_tokens,
                     self.cache_write_tokens + other.cache_write_tokens)


@dataclass(frozen=True)
class Completion:
    """One model's answer to one request.

    ``latency`` and ``ttft`` are seconds; ``simulated_latency`` is True when they were drawn from a
    latency profile rather than measured. ``cached`` answers are excluded from latency statistics.
    ``attempts`` records each deployment tried (live path only), as ``(deployment, outcome)``.
    ``answer``: the normalised answer a replayed outcome recorded (what its data set's scorer read,
    or another tool's prediction); None when strategies must read it from ``text``.
    ``cached_tokens`` / ``cache_write_tokens`` are the input tokens read from / written to the provider's
    prompt cache (counted inside ``input_tokens``, priced at the catalog's cached-input / cache-write price).
    """

    text: str
    model: str
    provider: str = "replay"
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency: float = 0.0
    ttft: float | None = None
    cached: bool = False
    simulated_latency: bool = False
    finish_reason: str | None = "stop"
    deployment: str | None = None
    attempts: tuple[tuple[str, str], ...] = ()
    answer: str | None = None
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.output_tokens, self.cost, self.cached_tokens, self.cache_write_tokens)

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True)
class Decision:
    """A router's choice: the model, why, and how every candidate scored.

    ``scores`` maps candidate → score (higher is better); candidates removed by a constraint are
    absent from it and listed in the router's ``explain`` table instead.
    """

    model: str
    reason: str = ""
    scores: Mapping[str, float] = field(default_factory=dict)
    task: str | None = None
    router: str = ""
    estimated_cost: float | None = None
    estimated_latency: float | None = None

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td style='text-align:left'>{escape(str(v))}</td></tr>"
            for k, v in (
                ("model", self.model),
                ("task", self.task or "—"),
                ("reason", self.reason),
                ("router", self.router),
                ("est. cost (USD)", "—" if self.estimated_cost is None else f"{self.estimated_cost:.6f}"),
                ("est. latency (s)", "—" if self.estimated_latency is None else f"{self.estimated_latency:.2f}"),
            )
        )
        return f"<table>{rows}</table>"


@dataclass(frozen=True)
class Answer:
    """What a strategy returns for one request: the final text plus every call it made.

    ``cost``, ``input_tokens`` and ``output_tokens`` are summed over ``calls``; ``latency`` is what
    the user waited (a sum for sequential calls, the slowest awaited call for parallel ones), so a
    strategy sets it.

    Example::

        >>> a = Answer.single(Completion(text="4", model="gpt-4o", cost=0.001, latency=0.5))
        >>> a.model, a.cost
        ('gpt-4o', 0.001)
    """

    text: str
    model: str
    calls: tuple[Completion, ...]
    latency: float
    info: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def single(cls, completion: Completion, **info: Any) -> Answer:
        return cls(completion.text, completion.model, (completion,), completion.latency, info)

    @classmethod
    def sequential(cls, calls: Sequence[Completion], final: Completion, **info: Any) -> Answer:
        """Calls made one after the other: the user waited for all of them."""
        return cls(final.text, final.model, tuple(calls), sum(c.latency for c in calls), info)

    @property
    def cost(self) -> float:
        return float(sum(c.cost for c in self.calls))

    @property
    def input_tokens(self) -> int:
        return int(sum(c.input_tokens for c in self.calls))

    @property
    def output_tokens(self) -> int:
        return int(sum(c.output_tokens for c in self.calls))

    @property
    def final_call(self) -> Completion | None:
        """The call that produced the answer (the last one with this model and text). Calls are in
        the order they were made, so it need not be the last: a judge may have spoken after it."""
        for c in reversed(self.calls):
            if c.model == self.model and c.text == self.text:
                return c
        return self.calls[-1] if self.calls else None

    @property
    def ttft(self) -> float | None:
        final = self.final_call
        return None if final is None or final.ttft is None else final.ttft

    @property
    def cached(self) -> bool:
        return bool(self.calls) and all(c.cached for c in self.calls)

    @property
    def simulated_latency(self) -> bool:
        return any(c.simulated_latency for c in self.calls)

    @property
    def models_called(self) -> tuple[str, ...]:
        return tuple(c.model for c in self.calls)

    def info_json(self) -> str:
        return json.dumps(dict(self.info), sort_keys=True, default=str)


@runtime_checkable
class Caller(Protocol):
    """Turns (request, model) into a Completion: the replay caller and the live Gateway both are one.

    A strategy only ever sees this protocol, so the same strategy replays recorded outcomes offline
    and calls providers live. Implement it to plug in another source of answers.

    Example::

        >>> class Echo:
        ...     async def complete(self, request: Request, model: str) -> Completion:
        ...         return Completion(text=request.prompt, model=model, provider="echo")
        >>> isinstance(Echo(), Caller)
        True
    """

    async def complete(self, request: Request, model: str) -> Completion:
        """Ask ``model`` to answer ``request``; awaitable, safe to run many at once.

        ``request``: the messages, the sampling parameters (``max_tokens``, ``temperature``, ...), and
        ``prompt_id`` / ``task`` / ``sample`` (the sample index; the replay caller reads the recorded
        answer of that prompt, model and sample) and ``metadata``. ``model``: a catalog name or alias.

        Returns a :class:`Completion`: ``text``; ``model``, the canonical name of the model that
        answered (a fallback model when the Gateway fell back); ``input_tokens`` / ``output_tokens``
        (tokens, including any failed attempt that consumed some); ``cost`` (USD, every attempt of
        this call); ``latency`` and ``ttft`` (seconds the caller waited; drawn from a latency profile
        when ``simulated_latency``); ``cached``; ``finish_reason``; live only, the ``deployment`` and
        the ``attempts`` made.

        Raises :class:`~routerlab.errors.MissingOutcomeError` (replay: no recorded answer for this
        prompt and model), :class:`~routerlab.errors.UnknownModelError` (a model not in the catalog, or
        live not configured in the Gateway),
        and live a :class:`~routerlab.errors.ProviderError` once retries and fallbacks are exhausted:
        ``RateLimited``, ``Timeout``, ``ConnectionFailed``, ``ServerError``, ``BadRequest`` /
        ``ContextTooLong`` (never retried), ``AuthError``, ``MalformedResponse``, ``StreamInterrupted``,
        ``Unavailable`` (with ``retry_after`` seconds; ``BudgetExceeded`` is one). A ProviderError's
        ``tokens`` (input, output) and ``cost`` (USD) are what the failed call consumed, to be charged.
        """
        ...


@runtime_checkable
class Strategy(Protocol):
    """Answers one request, calling one or more models through the caller it is given.

    ``name`` labels the strategy in answers. Routers become strategies through
    :class:`routerlab.routers.RouterStrategy`; cascades and ensembles are strategies themselves
    (:class:`routerlab.routers.BaseStrategy` gives a subclass the params mechanism and ``answer_sync``).

    Example::

        >>> class Cheapest:
        ...     name = "cheapest"
        ...     async def answer(self, request: Request, caller: Caller) -> Answer:
        ...         return Answer.single(await caller.complete(request, "gemma-2-2b"))
        >>> isinstance(Cheapest(), Strategy)
        True
    """

    name: str

    async def answer(self, request: Request, caller: Caller) -> Answer:
        """Answer ``request``, making every model call through ``caller`` (never a provider directly).

        Returns an :class:`Answer`: the final ``text`` and ``model``; ``calls``, every Completion made
        (judge calls and calls whose answer was not used included: ``Answer.cost`` in USD and the token
        counts are summed over them); ``latency``, the seconds the user waited (sequential calls add
        up, parallel ones count their slowest); ``info``, a JSON-able dict of what the strategy decided
        (stage, votes, verdicts) that the results table keeps.

        Raises what ``caller.complete`` raises when the strategy cannot answer without that call
        (a cascade's last stage failing, every voter failing); a call that fails where another can
        stand in (an earlier cascade stage, one voter) is counted in ``info`` instead. Raises
        :class:`~routerlab.errors.ConfigError` for a bad parameter, on first use.
        """
        ...
