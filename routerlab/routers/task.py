"""TaskRouter: detect the task (regex patterns, first match in priority order, or a task label the
request carries), then look the model up in a :class:`~routerlab.routers.table.RoutingTable`.

Patterns are compiled once into one matcher. With ``google-re2`` installed (``engine="re2"``, the
default when importable) every pattern of every task goes into one RE2 set that scans a prompt once
and reports all patterns that match; the lowest pattern index wins, which keeps the first-match
priority of a loop over tasks. Without it (``engine="re"``) each task's patterns are one compiled
Python alternation, tried in priority order. Both engines decide identically on the bundled data.

Batches (``match_many``) go faster with the optional ``hyperscan`` package (``pip install
routerlab[fast]``; ``engine="auto"`` uses it when installed and every pattern compiles): all ASCII
prompts, lower-cased and joined by newlines, are scanned in one native pass that stops at the first
candidate; only a prompt holding a candidate is then decided exactly by the per-prompt engine, and
the scan resumes at the next prompt. Anchors are compiled multi-line, so a candidate is a superset
of the true matches and the decisions are exactly the per-prompt ones (non-ASCII prompts take the
per-prompt path).

Measured on the 2,840 zeroeval prompts (``benchmarks/bench_routers.py``): see ``benchmarks/README.md``.

Example::

    >>> from routerlab.routers import TaskRouter, RoutingTable
    >>> r = TaskRouter(RoutingTable(default="gpt-4o", routes={"math": "gpt-4o-mini"}))
    >>> r.detect_task("Solve 3x + 7 = 22").task                 # .pattern: the regex that matched
    'math'
    >>> r.route_many(["Solve 3x + 7 = 22", "Hello there"]).tolist()
    ['gpt-4o-mini', 'gpt-4o']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import ConfigError, NotFittedError
from ..types import Decision, Request
from .base import Batch, BaseRouter, decisions, explain_frame, request_field
from .table import RoutingTable

__all__ = ["TaskRouter", "TaskMatcher", "TaskMatch", "DEFAULT_PATTERNS", "DEFAULT_TASK", "detect_task",
           "re2_available"]

_LANGS = ("english|french|spanish|german|italian|portuguese|chinese|mandarin|japanese|korean|russian|arabic|"
          "hindi|dutch|swedish|polish|turkish")

#: The nine task types: eight detected by patterns, in priority order, and ``chat`` for the rest.
#: Verb-driven intents (translate, summarise, extract, classify) come before topics (code, math),
#: so "summarise this code" is a summary. Edit freely: ``TaskRouter(patterns={...})``.
DEFAULT_PATTERNS: dict[str, list[str]] = {
    "translation": [r"\btranslat(?:e|es|ed|ing|ion)\b", rf"\b(?:in|to|into) (?:{_LANGS})\b[^.?!\n]{{0,40}}[:?]",
                    r"\bhow do (?:you|i) say\b"],
    "summarization": [r"\bsummar(?:y|ies|ise|ize|ised|ized|ising|izing)\b", r"\btl;?dr\b",
                      r"\b(?:key|main) (?:points|takeaways)\b", r"\bcondense\b", r"\bin a nutshell\b"],
    "extraction": [r"\bextract(?:s|ed|ing|ion)?\b", r"\bparse\b", r"\bpull out\b", r"\bnamed entit(?:y|ies)\b",
                   r"\blist (?:all|every|each) (?:the )?(?:names|dates|emails|entities|items)\b"],
    "classification": [r"\bclassif(?:y|ies|ication)\b", r"\bcategori[sz]e\b", r"\bsentiment\b",
                       r"\bis (?:this|the following|it) (?:positive|negative|spam|toxic)\b", r"\bwhich category\b"],
    "code": [r"\[python\]", r"```(?:python|py|javascript|js|typescript|ts|java|c\+\+|cpp|go|rust|sql|bash|sh)\b",
             r"\bdef \w+\(", r"\b(?:python|javascript|typescript|java|c\+\+|rust|golang|sql|regex|html|css)\b",
             r"\b(?:write|implement|fix|refactor|debug|optimi[sz]e)\b[^.?!\n]{0,40}\b(?:function|code|script|program|"
             r"class|method|query)\b",
             r"\b(?:stack trace|traceback|compile error|syntax error|unit tests?)\b"],
    "math": [r"\$[^$\n]+\$", r"\\(?:frac|sqrt|sum|int|boxed|cdot|pi)\b", r"\d\s*[-+*/×÷^=]\s*\d",
             r"\b(?:calculate|compute|solve|equations?|integral|derivative|probability|percent(?:age)?|average|"
             r"remainder|how (?:many|much))\b"],
    "creative": [r"\b(?:poem|story|stories|haiku|lyrics|song|novel|fiction|screenplay|limerick|sonnet|blog post)\b",
                 r"\b(?:write|compose|draft)\b[^.?!\n]{0,30}\b(?:story|poem|essay|letter|speech|script|post)\b",
                 r"\bimagine\b"],
    "reasoning": [r"\bwhy\b", r"\bexplain\b", r"\bstep[- ]by[- ]step\b", r"\b(?:logic(?:al)?|puzzle|riddle|deduce|infer)\b",
                  r"\bpros and cons\b", r"\bcompare\b"],
}
#: The task of prompts no pattern matches.
DEFAULT_TASK = "chat"

_GROUP = "_rlp_"


class TaskMatch(NamedTuple):
    """A detected task and the pattern that matched (``None`` when no pattern did)."""

    task: str
    pattern: str | None


@lru_cache(maxsize=1)
def re2_available() -> bool:
    """Whether ``google-re2`` can be imported (the fast engine)."""
    try:
        import re2  # noqa: F401
    except ImportError:
        return False
    return True


class TaskMatcher:
    """Task patterns compiled once: ``match(text)`` → index of the winning pattern, or -1.

    ``patterns``: task → regexes in priority order. Matching is case-insensitive. ``engine``: ``"re2"``
    (one RE2 set scan per prompt; needs ``pip install google-re2``), ``"re"`` (per-task Python
    alternations) or ``"auto"`` (re2 when installed and every pattern is RE2 syntax, else re).

    Example::

        >>> m = TaskMatcher({"greeting": [r"\\bhello\\b"], "math": [r"\\d\\s*\\+\\s*\\d"]}, engine="re")
        >>> m.detect("Hello, what is 2 + 2?")
        TaskMatch(task='greeting', pattern='\\\\bhello\\\\b')
        >>> m.detect_many(["2+2", "nothing"], default="chat").tolist()
        ['math', 'chat']
    """

    def __init__(self, patterns: Mapping[str, Sequence[str]], *, engine: str = "auto") -> None:
        if engine not in ("auto", "re2", "re", "hyperscan"):
            raise ConfigError(f"engine must be 'auto', 're2', 're' or 'hyperscan', got {engine!r}")
        self.flat: list[tuple[str, str]] = [(t, p) for t, ps in patterns.items() for p in ps]
        self.tasks = np.array([t for t, _ in self.flat] + [None], dtype=object)
        self.pattern_of = np.array([p for _, p in self.flat] + [None], dtype=object)
        self.engine = self._compile_re2("auto" if engine == "hyperscan" else engine) if engine != "re" else "re"
        if self.engine == "re":
            self._compile_re()
        #: the batch engine: "hyperscan" when asked for (or "auto" and it is installed and compiles), else the above
        self.batch_engine = self._compile_hyperscan(engine) if engine in ("auto", "hyperscan") else self.engine

    def _compile_re2(self, engine: str) -> str:
        if not re2_available():
            if engine == "re2":
                raise ConfigError("engine='re2' needs google-re2: pip install google-re2 (or use engine='re')")
            return "re"
        import re2

        options = re2.Options()
        options.case_sensitive = False
        options.never_capture = True
        s = re2.Set.SearchSet(options)
        for i, (task, p) in enumerate(self.flat):
            try:
                s.Add(p)
            except Exception as exc:  # noqa: BLE001 - re2 raises its own error type
                if engine == "re2":
                    raise ConfigError(f"pattern {p!r} of task {task!r} is not RE2 syntax ({exc}); "
                                      "use engine='re'") from None
                return "re"
        s.Compile()
        self._set = s
        return "re2"

    def _compile_hyperscan(self, engine: str) -> str:
        try:
            from ._hyperscan import Scanner

            self._scanner = Scanner([p for _, p in self.flat])
        except ImportError:
            if engine == "hyperscan":
                raise ConfigError("engine='hyperscan' needs the hyperscan package: pip install hyperscan "
                                  "(or pip install routerlab[fast]); or use engine='auto'") from None
            return self.engine
        except ValueError as exc:  # a construct hyperscan does not support, or a pattern matching ""
            if engine == "hyperscan":
                raise ConfigError(f"a pattern is not usable by hyperscan ({exc}); use engine='auto'") from None
            return self.engine
        return "hyperscan"

    def _compile_re(self) -> None:
        by_task: dict[str, list[int]] = {}
        for i, (task, _) in enumerate(self.flat):
            by_task.setdefault(task, []).append(i)
        self._unions: list[tuple[re.Pattern[str] | None, list[tuple[int, re.Pattern[str]]]]] = []
        for idx in by_task.values():
            singles = [(i, re.compile(self.flat[i][1], re.IGNORECASE)) for i in idx]
            try:
                union = re.compile("|".join(f"(?P<{_GROUP}{i}>{self.flat[i][1]})" for i in idx), re.IGNORECASE)
            except re.error:  # e.g. inline global flags inside a pattern: try them one by one
                union = None
            self._unions.append((union, singles))

    def match(self, text: str) -> int:
        """Index (into the flattened pattern list) of the winning pattern, or -1."""
        if self.engine == "re2":
            hits = self._set.Match(text)
            return min(hits) if hits else -1
        for union, singles in self._unions:
            if union is not None:
                m = union.search(text)
                if m is not None:  # the task is decided; report its lowest-index pattern that matches, as RE2 does
                    won = int(m.lastgroup[len(_GROUP):])  # type: ignore[index]
                    return next(i for i, pat in singles if i == won or pat.search(text))
            else:
                for i, pat in singles:
                    if pat.search(text):
                        return i
        return -1

    def match_many(self, texts: Sequence[str] | np.ndarray) -> np.ndarray:
        """``match`` for many texts (each distinct text scanned once; with hyperscan all in one pass, where
        finding the duplicates would cost more than scanning them)."""
        if self.batch_engine == "hyperscan":
            return self._scanner.match_texts([t if isinstance(t, str) else str(t) for t in texts], self.match)
        codes, uniques = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=False)
        if self.engine == "re2":
            m = self._set.Match
            won = np.fromiter((min(h) if (h := m(t)) else -1 for t in uniques), dtype=np.int64, count=len(uniques))
        else:
            won = np.fromiter((self.match(t) for t in uniques), dtype=np.int64, count=len(uniques))
        return won[codes]

    def match_column(self, column: Any) -> np.ndarray:
        """:meth:`match_many` for a column of texts: a pandas Series backed by a pyarrow string array is
        scanned in place by hyperscan when the patterns allow it (see :mod:`._hyperscan`)."""
        if self.batch_engine == "hyperscan" and _arrow_backed(column):
            won = self._scanner.match_arrow(column.array, self.match)
            if won is not None:
                return won
        return self.match_many(column.to_numpy(dtype=object) if isinstance(column, pd.Series) else column)

    def detect(self, text: str, default: str = DEFAULT_TASK) -> TaskMatch:
        i = self.match(text)
        return TaskMatch(default, None) if i < 0 else TaskMatch(*self.flat[i])

    def detect_many(self, texts: Sequence[str] | np.ndarray, default: str = DEFAULT_TASK) -> np.ndarray:
        tasks = self.tasks[self.match_many(texts)]
        tasks[tasks == None] = default  # noqa: E711 - elementwise on an object array
        return tasks


def _arrow_backed(column: Any) -> bool:
    """Whether ``column`` is a pandas Series whose values live in a pyarrow array (readable in place)."""
    if not isinstance(column, pd.Series):
        return False
    dtype = column.dtype
    return isinstance(dtype, pd.ArrowDtype) or getattr(dtype, "storage", None) == "pyarrow"


@lru_cache(maxsize=4)
def _default_matcher(engine: str = "auto") -> TaskMatcher:
    return TaskMatcher(DEFAULT_PATTERNS, engine=engine)


def detect_task(prompt: str) -> TaskMatch:
    """The task of ``prompt`` under :data:`DEFAULT_PATTERNS`, and the pattern that matched.

    Example::

        >>> detect_task("Translate 'thank you' into Japanese").task
        'translation'
        >>> detect_task("hi!")
        TaskMatch(task='chat', pattern=None)
    """
    return _default_matcher().detect(prompt)


@dataclass(eq=False, repr=False)
class TaskRouter(BaseRouter):
    """Strategy 2: task → model through a routing table; the table can be learnt from results.

    The task of a request is its ``task_field`` (``"task"`` → ``Request.task``, any other name → a
    metadata key / DataFrame column) when that is set and present, else the first pattern match (see
    :class:`TaskMatcher`), else ``default_task``. Patterns: ``patterns`` if given, else the table's, else
    :data:`DEFAULT_PATTERNS`.

    ``fit(dataset)`` learns the table with :meth:`RoutingTable.learn` over the tasks this router would
    assign (detected tasks when routing by regex, the labels when routing by ``task_field``), using
    ``tolerance``, ``confidence`` and ``conservative`` (see there). A router given a ``table`` routes
    without fitting; fitting replaces it (``routing_table_``).

    Example::

        >>> from routerlab.routers import TaskRouter, RoutingTable
        >>> r = TaskRouter(RoutingTable(default="gpt-4o", routes={"gsm": "gemini-1.5-flash"}), task_field="task")
        >>> from routerlab.types import Request
        >>> r.route(Request.from_prompt("Janet has 3 ducks...", task="gsm")).model
        'gemini-1.5-flash'
        >>> TaskRouter().fit(train_dataset).routing_table_.routes               # doctest: +SKIP
    """

    table: RoutingTable | None = None
    _: KW_ONLY
    patterns: Mapping[str, Sequence[str]] | None = None
    task_field: str | None = None
    default_task: str = DEFAULT_TASK
    catalog: Catalog | None = None
    candidates: Sequence[str] | None = None
    tolerance: float = 0.02
    confidence: float = 0.95
    conservative: bool = False
    engine: str = "auto"
    name: str = "task"

    prompt_only = True

    # -- state -------------------------------------------------------------------------------------
    @property
    def routing_table(self) -> RoutingTable:
        """The table in use: the fitted one, else the one given."""
        table = getattr(self, "routing_table_", None) or self.table
        if table is None:
            raise NotFittedError(f"{type(self).__name__} has no routing table: pass table=... or call fit(dataset)")
        return table

    def _patterns(self) -> Mapping[str, Sequence[str]]:
        if self.patterns is not None:
            return self.patterns
        table = getattr(self, "routing_table_", None) or self.table
        if table is not None and table.patterns:
            return table.patterns
        return DEFAULT_PATTERNS

    @property
    def matcher(self) -> TaskMatcher:
        """The compiled matcher (built once, rebuilt after ``set_params`` or ``fit``)."""
        cached = getattr(self, "_cache_matcher", None)
        if cached is None:
            patterns = self._patterns()
            cached = _default_matcher(self.engine) if patterns is DEFAULT_PATTERNS else \
                TaskMatcher(patterns, engine=self.engine)
            self._cache_matcher = cached
        return cached

    # -- tasks -------------------------------------------------------------------------------------
    def detect_task(self, prompt: str) -> TaskMatch:
        """The task the patterns give ``prompt`` and the pattern that matched."""
        return self.matcher.detect(prompt, self.default_task)

    def detect_tasks(self, prompts: Any) -> pd.DataFrame:
        """``task`` and ``pattern`` for many prompts (strings, Requests or a prompts DataFrame)."""
        batch = Batch.of(prompts)
        won = self.matcher.match_many(batch.prompts)
        tasks = self.matcher.tasks[won]
        tasks[won < 0] = self.default_task
        return pd.DataFrame({"task": tasks, "pattern": self.matcher.pattern_of[won]})

    def task_of(self, request: Request) -> TaskMatch:
        """The task this router assigns ``request`` (its ``task_field`` when present, else detection)."""
        if self.task_field:
            value = request_field(request, self.task_field)
            if isinstance(value, str) and value:
                return TaskMatch(value, None)
        return self.detect_task(request.prompt)

    def _tasks(self, batch: Batch) -> np.ndarray:
        if not self.task_field:
            return self.matcher.detect_many(batch.prompts, self.default_task)
        given = batch.column(self.task_field)
        codes, uniques = pd.factorize(pd.Series(given, dtype=object), use_na_sentinel=True)
        labelled = np.array([isinstance(v, str) and v != "" for v in uniques], dtype=bool)
        ok = (codes >= 0) & labelled[np.where(codes >= 0, codes, 0)] if len(uniques) else np.zeros(len(given), bool)
        tasks = np.empty(len(given), dtype=object)
        tasks[ok] = given[ok]
        if not ok.all():  # detect only where no label was given
            tasks[~ok] = self.matcher.detect_many(batch.prompts[~ok], self.default_task)
        return tasks

    # -- learning ----------------------------------------------------------------------------------
    def fit(self, dataset: Any) -> TaskRouter:
        """Learn the routing table from ``dataset``'s recorded outcomes (see the class docstring)."""
        prompts = dataset.prompts
        tasks = pd.Series(self._tasks(Batch.of(prompts)), index=prompts["prompt_id"].to_numpy())
        self.routing_table_ = RoutingTable.learn(
            dataset, tasks=tasks, catalog=self.catalog, candidates=self.candidates, tolerance=self.tolerance,
            confidence=self.confidence, conservative=self.conservative, patterns=dict(self._patterns()))
        self.routing_table_.provenance.setdefault("learned", {})["task_source"] = \
            f"field {self.task_field!r}, else patterns" if self.task_field else "patterns"
        self._invalidate()
        return self

    # -- routing -----------------------------------------------------------------------------------
    def route(self, request: Request) -> Decision:
        table = self.routing_table
        match = self.task_of(request)
        model = table.model_for(match.task)
        chain = table.chain(model)
        how = (f"matched {match.pattern!r}" if match.pattern else
               f"from the request's {self.task_field!r}" if self.task_field and
               request_field(request, self.task_field) == match.task else "no pattern matched")
        routed = "routed" if match.task in table.routes else "no route: default"
        return Decision(model, reason=f"task {match.task!r} ({how}; {routed})",
                        scores={m: 1.0 / (1 + i) for i, m in enumerate(chain)}, task=match.task, router=self.name)

    def _route_batch(self, batch: Batch) -> pd.Categorical:
        table = self.routing_table
        if not self.task_field:  # by pattern alone: the winning pattern's model, one gather
            cached = getattr(self, "_cache_pattern_models", None)
            if cached is None or cached[0] is not table:
                models = [table.model_for(t) for t in self.matcher.tasks[:-1]] + [table.model_for(self.default_task)]
                cached = self._cache_pattern_models = (table, np.array(models, dtype=object))
            frame = batch.frame
            column = frame["prompt"] if frame is not None else batch.prompts
            won = np.asarray(self.matcher.match_column(column))
            return decisions(np.where(won < 0, len(cached[1]) - 1, won), list(cached[1]))
        # by label: one look-up per distinct label, then a gather; patterns only where no label is given
        codes, uniques = batch.factorized(self.task_field)
        names = list(dict.fromkeys([table.default, *table.routes.values()]))
        slot = {m: i for i, m in enumerate(names)}
        labelled = [isinstance(u, str) and u != "" for u in uniques]
        per_label = np.array([slot[table.routes.get(u, table.default)] if ok else -1
                              for u, ok in zip(uniques, labelled)] + [-1], dtype=np.int64)
        picks = per_label[codes]  # code -1 (no label) takes the appended -1
        missing = picks < 0
        if missing.any():  # detect only where no label was given
            detected = self.matcher.detect_many(batch.prompts[missing], self.default_task)
            picks[missing] = [slot.setdefault(table.routes.get(t, table.default), len(slot)) for t in detected]
            names = list(slot)
        return decisions(picks, names)

    def explain(self, request: Request) -> pd.DataFrame:
        table = self.routing_table
        d = self.route(request)
        match = self.task_of(request)
        rows = []
        for m in table.models:
            if m in d.scores:
                rows.append({"model": m, "score": d.scores[m], "removed_by": None})
            else:
                rows.append({"model": m, "score": None, "removed_by": f"task {match.task!r} routes to {d.model}"})
        out = explain_frame(rows, d.model)
        out["task"], out["pattern"] = match.task, match.pattern
        return out
