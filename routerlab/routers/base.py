"""The Router protocol, the column view routers read in batches, and the Strategy wrapper.

A **Router** only decides: ``route(request) -> Decision`` and ``explain(request) -> DataFrame`` (every
candidate, with the constraint that removed it or its score). A router whose decision depends only on
the request's content (prompt, system prompt, task label, prompt id) sets ``prompt_only = True`` and
offers ``route_many(requests)``: a vectorised batch form over a list of Requests or a prompts
DataFrame that returns a numpy array of model names and agrees with ``route`` on every prompt.

Example::

    >>> from routerlab.routers import FixedRouter, RouterStrategy
    >>> r = FixedRouter("gpt-4o-mini")
    >>> r.route_many(["What is 2+2?", "Write a haiku"]).tolist()
    ['gpt-4o-mini', 'gpt-4o-mini']
    >>> RouterStrategy(r).name
    'fixed'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..tokens import MESSAGE_OVERHEAD_TOKENS, count_cached
from ..types import Answer, Caller, Decision, Message, Request
from .params import DerivedDefault, Params

__all__ = ["Router", "BaseRouter", "BaseStrategy", "Batch", "RouterStrategy", "EXPLAIN_COLUMNS",
           "explain_frame", "decisions", "key_hash"]

#: Columns every ``explain`` table has (routers may add more after them).
EXPLAIN_COLUMNS = ["model", "score", "removed_by", "chosen"]



@runtime_checkable
class Router(Protocol):
    """Anything that decides which model answers a request (it calls no model).

    ``name`` labels its decisions. ``prompt_only`` is True when the decision depends only on the
    request's content (prompt, system prompt, ``task``, ``prompt_id``, metadata); such routers also
    have ``route_many(requests) -> np.ndarray`` (see :meth:`BaseRouter.route_many`), which lets a
    replay be one vectorised join. Subclass :class:`BaseRouter` to get that, the params mechanism and
    the input handling; :func:`check_router` checks a router keeps this contract.
    """

    name: str
    prompt_only: bool

    def route(self, request: Request) -> Decision:
        """The model that should answer ``request``, and why.

        ``request``: a :class:`~routerlab.types.Request` (messages, sampling parameters, ``task`` and
        ``prompt_id`` when known). Returns a :class:`~routerlab.types.Decision`: ``model`` (a catalog
        name), ``reason`` (one readable line), ``scores`` (candidate -> score, higher is better; the
        candidates a constraint removed are absent), ``task``, ``router`` (this router's ``name``) and,
        when the router estimates them, ``estimated_cost`` (USD) and ``estimated_latency`` (seconds).
        Deterministic: the same request gives the same decision.

        Raises :class:`~routerlab.errors.NotFittedError` (a learned router before ``fit``),
        :class:`~routerlab.errors.NoModelFitsError` (constraints removed every candidate; the message
        names the constraint), :class:`~routerlab.errors.MissingOutcomeError` (the oracle, for a prompt
        it has no outcomes of), :class:`~routerlab.errors.ConfigError` (a bad parameter, on first use).
        """
        ...

    def explain(self, request: Request) -> pd.DataFrame:
        """Every candidate for ``request``: one row per model with the columns :data:`EXPLAIN_COLUMNS`
        (``model``; ``score``, NaN for a removed model; ``removed_by``, the constraint that removed it,
        else None; ``chosen``, True on exactly the model :meth:`route` picks) plus router-specific
        columns, the chosen model first. Raises what :meth:`route` raises."""
        ...


# ---------------------------------------------------------------------------------------------------
# the column view


class Batch:
    """Many requests as columns: what prompt-only routers read in ``route_many``.

    Built by :meth:`of` from a list of :class:`~routerlab.types.Request` (or plain prompt strings), a
    prompts DataFrame (``prompt`` column; optional ``prompt_id``, ``task``, ``system``, ``max_tokens``
    and any metadata column), a :class:`~routerlab.datasets.Dataset`, or another Batch.
    ``texts`` equals ``Request.text`` (system prompt and prompt joined by a newline).

    Columns are converted on first use only: a router that reads none of them (a fixed model) or
    only one (task labels) does not pay for the others on a million-row frame. A DataFrame indexed
    0..n-1 is used as it is (not copied); one with any other index is re-indexed 0..n-1 first. What
    routers derive from the rows (a field's codes, key hashes, positions in an index) is kept too, so
    several routers replayed over one batch (an Experiment's strategies, a threshold sweep) derive it once.
    """

    _COLUMNS = ("prompts", "prompt_ids", "tasks", "texts", "n_messages", "max_tokens")

    def __init__(self, *, frame: pd.DataFrame | None = None, requests: list[Request] | None = None,
                 **columns: np.ndarray) -> None:
        self.frame = frame
        self.requests = requests
        self._tokens: np.ndarray | None = None
        self._derived: dict[Any, Any] = {}
        self._n = len(frame) if frame is not None else len(requests or [])
        for name, value in columns.items():
            if name not in self._COLUMNS:
                raise TypeError(f"Batch has no column {name!r}")
            setattr(self, name, value)

    def __len__(self) -> int:
        return self._n

    def __getattr__(self, name: str) -> Any:  # only called for columns not computed yet
        if name not in Batch._COLUMNS:
            raise AttributeError(name)
        value = self._compute(name)
        setattr(self, name, value)
        return value

    def _compute(self, name: str) -> np.ndarray:
        n, df, items = self._n, self.frame, self.requests
        if items is not None:
            get = {
                "prompts": lambda r: r.prompt, "prompt_ids": lambda r: r.prompt_id, "tasks": lambda r: r.task,
                "texts": lambda r: r.text,
            }.get(name)
            if get is not None:
                return np.array([get(r) for r in items], dtype=object).reshape(n)
            if name == "n_messages":
                return np.array([len(r.messages) for r in items], dtype=np.int64).reshape(n)
            return np.array([np.nan if r.max_tokens is None else r.max_tokens for r in items], dtype=float)
        assert df is not None
        none = np.full(n, None, dtype=object)
        if name == "prompts":
            return df["prompt"].astype(str).to_numpy(dtype=object)
        if name == "prompt_ids":
            return df["prompt_id"].astype(object).to_numpy() if "prompt_id" in df.columns else none
        if name == "tasks":
            return df["task"].astype(object).to_numpy() if "task" in df.columns else none
        has_system = None
        if "system" in df.columns:
            system = df["system"].fillna("").astype(str).to_numpy(dtype=object)
            has_system = system != ""
        if name == "texts":
            if has_system is None:
                return self.prompts
            return np.where(has_system, system + "\n" + self.prompts, self.prompts).astype(object)
        if name == "n_messages":
            return np.ones(n, dtype=np.int64) + (0 if has_system is None else has_system.astype(np.int64))
        return (pd.to_numeric(df["max_tokens"], errors="coerce").to_numpy(dtype=float)
                if "max_tokens" in df.columns else np.full(n, np.nan))

    @classmethod
    def of(cls, requests: Any) -> Batch:
        """The column view of ``requests`` (see the class docstring for what is accepted)."""
        if isinstance(requests, Batch):
            return requests
        if hasattr(requests, "prompts") and isinstance(getattr(requests, "prompts"), pd.DataFrame):
            info = getattr(requests, "info", None)  # a Dataset: one batch of its prompts, kept with it
            if isinstance(info, dict):
                kept = info.get("_batch")
                if kept is None:
                    kept = info["_batch"] = cls.of(requests.prompts)
                return kept
            requests = requests.prompts
        if isinstance(requests, pd.DataFrame):
            if "prompt" not in requests.columns:
                raise ConfigError(f"route_many: the DataFrame needs a 'prompt' column; it has {list(requests.columns)}")
            # columns are read by position; a frame already indexed 0..n-1 (every Dataset's prompts, a
            # read_csv) serves as it is, without the copy reset_index makes on every route_many call
            index = requests.index
            default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
            return cls(frame=requests if default else requests.reset_index(drop=True))
        if isinstance(requests, (str, Request)):
            raise ConfigError("route_many takes a list of requests or a prompts DataFrame; "
                              "use route(request) for one request")
        items = [Request.from_prompt(r) if isinstance(r, str) else r for r in requests]
        for i, r in enumerate(items):
            if not isinstance(r, Request):
                raise ConfigError(f"route_many: item {i} is a {type(r).__name__}, expected a Request or a str")
        return cls(requests=items)

    def column(self, name: str) -> np.ndarray:
        """A request field for every row: ``task``/``prompt_id``, else a DataFrame column or metadata key."""
        if name == "task":
            return self.tasks
        if name == "prompt_id":
            return self.prompt_ids
        if self.frame is not None:
            if name in self.frame.columns:
                return self.frame[name].astype(object).to_numpy()
            return np.full(len(self), None, dtype=object)
        assert self.requests is not None
        return np.array([r.metadata.get(name) for r in self.requests], dtype=object).reshape(len(self))

    def factorized(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A request field per row as ``(codes, uniques)``: ``uniques[codes[i]]`` is row ``i``'s value,
        code -1 where it is missing (None / NaN). Computed once per batch.

        Example::

            >>> codes, uniques = Batch.of(pd.DataFrame({"prompt": ["a", "b", "c"], "task": ["x", None, "x"]})).factorized("task")
            >>> codes.tolist(), uniques.tolist()
            ([0, -1, 0], ['x'])
        """
        key = ("factorized", name)
        if key not in self._derived:
            col = {"task": "task", "prompt_id": "prompt_id"}.get(name, name)
            if self.frame is not None and col in self.frame.columns:
                codes, uniques = pd.factorize(self.frame[col], use_na_sentinel=True)
            else:
                codes, uniques = pd.factorize(pd.Series(self.column(name), dtype=object), use_na_sentinel=True)
            self._derived[key] = (np.asarray(codes), np.asarray(uniques, dtype=object))
        return self._derived[key]

    def key_hashes(self) -> np.ndarray:
        """Per row a stable 64-bit hash (uint64) of what identifies the request: its prompt id, else its
        prompt text (see :func:`key_hash`, which gives the same number for one request). The same in every
        process and run; computed once per batch."""
        if "key_hashes" not in self._derived:
            ids = self.prompt_ids
            has_id = pd.notna(ids)
            out = np.empty(len(self), dtype=np.uint64)
            if has_id.all():
                out[:] = pd.util.hash_array(ids, categorize=False)
            else:
                out[has_id] = pd.util.hash_array(ids[has_id], categorize=False)
                out[~has_id] = pd.util.hash_array(self.prompts[~has_id], categorize=False) ^ _TEXT_KEY
            self._derived["key_hashes"] = out
        return self._derived["key_hashes"]

    def rows_in(self, index: pd.Index) -> np.ndarray:
        """Each row's position in ``index``, a pd.Index of prompt ids (-1 where its id is absent or
        missing); computed once per batch and index."""
        hit = self._derived.get(("rows_in", id(index)))
        if hit is None or hit[0] is not index:  # the index is kept with its positions: its id stays its own
            ids = self.frame["prompt_id"] if self.frame is not None and "prompt_id" in self.frame.columns \
                else pd.Series(self.prompt_ids, dtype=object)
            hit = (index, np.asarray(index.get_indexer(pd.Index(ids))))
            self._derived[("rows_in", id(index))] = hit
        return hit[1]

    def input_tokens(self) -> np.ndarray:
        """Input tokens per row (cl100k over ``texts`` plus chat overhead), computed once."""
        if self._tokens is None:
            per_msg, per_req = MESSAGE_OVERHEAD_TOKENS
            counts = np.asarray(text_tokens(self.texts.tolist()), dtype=np.int64).reshape(len(self))
            self._tokens = counts + per_msg * self.n_messages + per_req
        return self._tokens

    def request(self, i: int) -> Request:
        """Row ``i`` as a Request (the original one when the batch was built from Requests)."""
        if self.requests is not None:
            return self.requests[i]
        row = self.frame.iloc[i] if self.frame is not None else None
        msgs = []
        if row is not None and "system" in row.index and isinstance(row["system"], str) and row["system"]:
            msgs.append(Message("system", row["system"]))
        msgs.append(Message("user", str(self.prompts[i])))
        mt = self.max_tokens[i]
        return Request(messages=tuple(msgs), prompt_id=self.prompt_ids[i], task=self.tasks[i],
                       max_tokens=None if np.isnan(mt) else int(mt))


#: what a prompt text's hash is XOR-ed with, so a text and a prompt id that are the same string differ
_TEXT_KEY = np.uint64(0x7E57_0000_0000_0000 | 0x5EED)


def key_hash(prompt_id: Any, prompt: str) -> int:
    """:meth:`Batch.key_hashes` for one request: the hash of its prompt id, else of its prompt text."""
    if prompt_id is not None and prompt_id == prompt_id:
        return int(pd.util.hash_array(np.array([prompt_id], dtype=object), categorize=False)[0])
    return int(pd.util.hash_array(np.array([prompt], dtype=object), categorize=False)[0] ^ _TEXT_KEY)


def decisions(codes: np.ndarray, models: Sequence[Any]) -> pd.Categorical:
    """Decisions as a Categorical: row ``i`` goes to ``models[codes[i]]`` (``models`` may name a model
    twice; code -1 decides nothing). What ``_route_batch`` returns when it picks from a few models, so a
    replay joins on integer codes instead of hashing a million model names.

    Example::

        >>> decisions(np.array([1, 0, 2]), ["gpt-4o", "gpt-4o-mini", "gpt-4o"]).tolist()
        ['gpt-4o-mini', 'gpt-4o', 'gpt-4o']
    """
    names = [str(m) for m in models]
    unique = tuple(dict.fromkeys(names))
    codes = np.asarray(codes)
    if len(codes) and (codes.min() < -1 or codes.max() >= len(names)):
        raise ValueError(f"decision codes must lie in [-1, {len(names)}), got {codes.min()}..{codes.max()}")
    if len(unique) != len(names):  # the same model twice: one category, the codes remapped
        remap = np.array([unique.index(n) for n in names] + [-1], dtype=np.int64)
        codes = remap[codes]
    return pd.Categorical.from_codes(codes, dtype=_category_dtype(unique), validate=False)


_DTYPES: dict[tuple[str, ...], pd.CategoricalDtype] = {}


def _category_dtype(names: tuple[str, ...]) -> pd.CategoricalDtype:
    """One dtype per list of model names (building one hashes and checks its categories: ~50 µs a call,
    a third of routing 3,000 prompts by task), kept for the few lists a session routes to."""
    dtype = _DTYPES.get(names)
    if dtype is None:
        if len(_DTYPES) >= 256:
            _DTYPES.clear()
        dtype = _DTYPES[names] = pd.CategoricalDtype(list(names))
    return dtype


def decision_names(out: np.ndarray | pd.Categorical) -> np.ndarray:
    """A router's decisions as a numpy object array of model names (None where a code is -1)."""
    if not isinstance(out, pd.Categorical):
        return np.asarray(out, dtype=object)
    names = np.empty(len(out.categories) + 1, dtype=object)
    names[:-1] = out.categories.to_numpy(dtype=object)
    names[-1] = None  # code -1
    return names[out.codes]


def text_tokens(texts: Sequence[str]) -> list[int]:
    """cl100k token counts of ``texts``, remembered per text (see :func:`routerlab.tokens.count_cached`).

    Routers see the same prompts again and again in a notebook (``route``, ``route_many``, ``explain``,
    every strategy of a replay), and counting is the costly part of a capability or context-window
    decision (~1 µs per token), so each distinct text is counted once per process.
    """
    return count_cached(texts)


def request_tokens(request: Request) -> int:
    """Input tokens of one request, counted exactly as :meth:`Batch.input_tokens` counts a row."""
    per_msg, per_req = MESSAGE_OVERHEAD_TOKENS
    return text_tokens([request.text])[0] + per_msg * len(request.messages) + per_req


def request_field(request: Request, name: str) -> Any:
    """``request.task`` / ``request.prompt_id`` or a metadata key (None when absent)."""
    if name in ("task", "prompt_id"):
        return getattr(request, name)
    return request.metadata.get(name)


# ---------------------------------------------------------------------------------------------------
# the base class


class BaseRouter(Params):
    """The base of routerlab's routers: the params mechanism (:class:`~routerlab.routers.params.Params`:
    ``get_params``/``set_params``/``clone``/``repr``), ``route_many`` input handling and an HTML view
    of ``explain``.

    Subclasses declare their parameters as ``__init__`` keywords (see :mod:`routerlab.routers.params`),
    set ``name`` and implement :meth:`route` and :meth:`explain`; prompt-only ones set
    ``prompt_only = True`` and implement ``_route_batch(batch: Batch) -> np.ndarray`` (one model name
    per row, agreeing with ``route``); learned ones implement ``fit(dataset) -> self`` and raise
    :class:`~routerlab.errors.NotFittedError` before it. :func:`check_router` checks all of this.

    Example::

        >>> from dataclasses import dataclass
        >>> from routerlab.routers import check_router
        >>> @dataclass(eq=False, repr=False)
        ... class ShortOrLong(BaseRouter):
        ...     short: str = "gpt-4o-mini"
        ...     long: str = "gpt-4o"
        ...     limit: int = 200          # characters
        ...     name: str = "short-or-long"
        ...     prompt_only = True
        ...     def route(self, request):
        ...         model = self.short if len(request.prompt) <= self.limit else self.long
        ...         return Decision(model, reason=f"{len(request.prompt)} characters", router=self.name)
        ...     def explain(self, request):
        ...         chosen = self.route(request).model
        ...         return explain_frame([{"model": m, "score": float(m == chosen), "removed_by": None}
        ...                               for m in (self.short, self.long)], chosen)
        ...     def _route_batch(self, batch):
        ...         short = np.array([len(p) <= self.limit for p in batch.prompts])
        ...         return np.where(short, self.short, self.long).astype(object)
        >>> check_router(ShortOrLong(limit=10))
        []
    """

    name: str = "router"
    prompt_only: bool = False
    #: True for a router that reads the recorded answers to decide (an oracle): an upper bound that
    #: results mark and never put on the Pareto frontier or recommend
    reads_answers: bool = False

    # -- deciding --------------------------------------------------------------------------------
    def route(self, request: Request) -> Decision:  # pragma: no cover - abstract
        """The model that should answer ``request``, and why: see :meth:`Router.route`."""
        raise NotImplementedError

    def explain(self, request: Request) -> pd.DataFrame:  # pragma: no cover - abstract
        """Every candidate for ``request`` and what removed it: see :meth:`Router.explain`."""
        raise NotImplementedError

    def route_many(self, requests: Any) -> np.ndarray:
        """The model for each of many requests: the batch form of :meth:`route` (prompt-only routers).

        ``requests``: a list of Requests or prompt strings, a prompts DataFrame (a ``prompt`` column;
        optional ``prompt_id``, ``task``, ``system``, ``max_tokens`` and metadata columns), a Dataset,
        or a :class:`Batch`. Returns a numpy object array of model names, one per request in order
        (length 0 for no requests), equal to ``route(r).model`` for every ``r``; vectorised, so a
        million-row replay is a join, not a Python loop.

        Raises ``TypeError`` when the router is not prompt-only (its decision depends on more than
        the prompt), :class:`~routerlab.errors.ConfigError` for input of another shape (naming what
        is missing), and what :meth:`route` raises.

        Example::

            >>> from routerlab.routers import FixedRouter
            >>> FixedRouter("gpt-4o").route_many(pd.DataFrame({"prompt": ["a", "b"]})).tolist()
            ['gpt-4o', 'gpt-4o']
        """
        return decision_names(self._decide(requests))

    def _decide(self, requests: Any) -> np.ndarray | pd.Categorical:
        if not self.prompt_only:
            raise TypeError(f"{type(self).__name__} is not prompt-only: route each request with route()")
        batch = Batch.of(requests)
        if len(batch) == 0:
            return np.zeros(0, dtype=object)
        out = self._route_batch(batch)
        assert len(out) == len(batch), "a router's _route_batch returned the wrong number of decisions"
        return out

    def route_codes(self, requests: Any) -> pd.Categorical:
        """:meth:`route_many` as a Categorical: the same decisions, as integer codes into the few models
        picked. What a vectorised replay joins on (no per-row model names to hash); takes the same input
        and raises the same errors as :meth:`route_many`.

        Example::

            >>> from routerlab.routers import FixedRouter
            >>> FixedRouter("gpt-4o").route_codes(["a", "b"]).codes.tolist()
            [0, 0]
        """
        out = self._decide(requests)
        return out if isinstance(out, pd.Categorical) else pd.Categorical(np.asarray(out, dtype=object))

    def _route_batch(self, batch: Batch) -> np.ndarray | pd.Categorical:  # pragma: no cover - abstract
        """One model per row of ``batch``: an array of names, or :func:`decisions` (codes into a few names)."""
        raise NotImplementedError

    def _explain_html(self, request: Request) -> str:
        return self.explain(request)._repr_html_()


def explain_frame(rows: Sequence[Mapping[str, Any]], chosen: str) -> pd.DataFrame:
    """An ``explain`` table: eligible rows by score (best first), then removed ones in candidate order."""
    df = pd.DataFrame(list(rows))
    for col in EXPLAIN_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan if col == "score" else None
    df["chosen"] = df["model"] == chosen
    df["score"] = df["score"].astype(float)
    df["_removed"] = df["removed_by"].notna()
    df["_order"] = np.arange(len(df))
    df = df.sort_values(["chosen", "_removed", "score", "_order"], ascending=[False, True, False, True],
                        kind="stable")
    extra = [c for c in df.columns if c not in EXPLAIN_COLUMNS and not c.startswith("_")]
    return df[EXPLAIN_COLUMNS + extra].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------
# strategies


class BaseStrategy(Params):
    """The base of routerlab's strategies (cascades, ensembles, the router wrapper): the params
    mechanism plus :meth:`answer_sync`. Subclasses implement :meth:`answer`.

    A strategy may call several models; it never knows whether its caller replays recorded answers
    or goes live through a Gateway (see :class:`~routerlab.types.Strategy`).
    """

    name: str = "strategy"
    prompt_only: bool = False

    async def answer(self, request: Request, caller: Caller) -> Answer:  # pragma: no cover - abstract
        """See :meth:`routerlab.types.Strategy.answer`."""
        raise NotImplementedError

    def answer_sync(self, request: Request, caller: Caller) -> Answer:
        """:meth:`answer` from synchronous code (also inside Jupyter, where a loop is already running)."""
        from .._aio import run_sync

        return run_sync(self.answer(request, caller))


@dataclass(eq=False, repr=False)
class RouterStrategy(BaseStrategy):
    """A one-call Strategy made of a Router: route, then ask the chosen model through the caller.

    ``name``: the strategy's label in answers (default: the router's ``name``).

    Example::

        >>> from routerlab.routers import FixedRouter, RouterStrategy
        >>> s = RouterStrategy(FixedRouter("gpt-4o"))
        >>> s.name, s.prompt_only
        ('fixed', True)
    """

    router: Any
    _: KW_ONLY
    name: DerivedDefault = DerivedDefault(lambda self: str(getattr(self.router, "name", type(self.router).__name__)))

    @property
    def prompt_only(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.router, "prompt_only", False))

    @property
    def reads_answers(self) -> bool:
        """Whether the wrapped router reads recorded answers (an oracle: a bound, never on the frontier)."""
        return bool(getattr(self.router, "reads_answers", False))

    def _validate(self) -> None:
        if not callable(getattr(self.router, "route", None)):
            raise ConfigError(f"RouterStrategy router={self.router!r} has no route(request) method: it is not a Router")

    def route_many(self, requests: Any) -> np.ndarray:
        """The router's :meth:`BaseRouter.route_many`."""
        return self.router.route_many(requests)

    def route_codes(self, requests: Any) -> pd.Categorical:
        """The router's :meth:`BaseRouter.route_codes` (for a router without it, its route_many's)."""
        own = getattr(self.router, "route_codes", None)
        if callable(own):
            return own(requests)
        if isinstance(requests, Batch):  # a router of the user's own may expect what it was given: the frame
            requests = requests.frame if requests.frame is not None else requests.requests
        return pd.Categorical(np.asarray(self.router.route_many(requests), dtype=object))

    async def answer(self, request: Request, caller: Caller) -> Answer:
        self.validate()
        decision = self.router.route(request)
        completion = await caller.complete(request, decision.model)
        return Answer.single(completion, router=self.name, reason=decision.reason, task=decision.task)
