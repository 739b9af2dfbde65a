"""``%route`` and ``%%route``: ask a router from a notebook cell.

Load with ``%load_ext routerlab``, then::

    %route --use task                    # the active router: a built-in name, a model, or a variable
    %route What is 17 * 23?              # its Decision: model, task, reason, est. cost/latency, candidates
    %route --explain What is 17 * 23?    # every candidate, with the constraint that removed it
    %route --compare task,gpt-4o,my_router What is 17 * 23?
    %route --run --id gsm8k-main-test-#0 # answer a bundled prompt through the replay caller
    %route --data ds --run --id gsm8k-main-test-#0   # ... of a Dataset variable
    %route --run --via gw Hi there        # ... or through a Gateway variable (live path)
    %route --run --server Hi there        # ... or through the local provider server (real SDKs, no key)
    %route --compare gpt-4o,gpt-4o-mini --run --id gsm8k-main-test-#0   # several routers' answers

    %%route --run --via gw
    A long prompt over
    several lines.

Options come first; everything after the first word that is not an option is the prompt, verbatim
(quotes and apostrophes need no escaping). ``%route?`` lists every flag; for the same reason a
one-line prompt that *ends* with ``?`` is taken by IPython as a help request: use ``%%route``. The value of the magic is a
:class:`RouteReport` (rich display in Jupyter; ``.decision``, ``.candidates``, ``.answer`` in code).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any, cast

import pandas as pd
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .errors import MissingOutcomeError
from .types import Decision, Request

__all__ = ["RouteMagics", "RouteReport", "load_ipython_extension", "unload_ipython_extension"]

_MAX_CANDIDATES = 12


# ------------------------------------------------------------------------------------------ report
@dataclass
class RouteReport:
    """What ``%route`` shows: the decision(s), the candidates, and the answer when ``--run``."""

    prompt: str
    router: str = ""
    decision: Decision | None = None
    candidates: pd.DataFrame | None = None
    explain: pd.DataFrame | None = None
    compare: pd.DataFrame | None = None
    answer: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def _decision_rows(self) -> list[tuple[str, str]]:
        d = self.decision
        if d is None:
            return []
        return [("router", self.router or d.router), ("model", d.model), ("task", d.task or "—"),
                ("reason", d.reason or "—"),
                ("est. cost (USD)", "—" if d.estimated_cost is None else f"{d.estimated_cost:.6f}"),
                ("est. latency (s)", "—" if d.estimated_latency is None else f"{d.estimated_latency:.2f}")]

    def _answer_rows(self) -> list[tuple[str, str]]:
        a = self.answer
        if a is None:
            return []
        sim = " (simulated)" if a.get("simulated_latency") else ""
        called = a.get("models_called") or []
        extra = [("models called", " → ".join(called))] if len(called) > 1 else []
        return [("answered by", str(a["model"])), *extra, ("via", str(a["via"])),
                ("tokens (in / out)", f"{a['input_tokens']} / {a['output_tokens']}"),
                ("cost (USD)", f"{a['cost']:.6f}"), ("latency (s)", f"{a['latency']:.2f}{sim}")]

    def __repr__(self) -> str:
        out = [f"prompt: {self.prompt[:100]!r}" + ("…" if len(self.prompt) > 100 else "")]
        out += [f"{k:>17}: {v}" for k, v in self._decision_rows()]
        if self.candidates is not None and len(self.candidates):
            out += ["candidates:", self.candidates.to_string(index=False)]
        if self.explain is not None:
            out += ["explain:", self.explain.to_string()]
        if self.compare is not None:
            out += ["decisions side by side:", self.compare.to_string()]
        if self.answer is not None:
            out += [f"{k:>17}: {v}" for k, v in self._answer_rows()] + ["answer:", str(self.answer["text"])]
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        def kv(rows: list[tuple[str, str]]) -> str:
            return "<table>" + "".join(f"<tr><th style='text-align:left'>{escape(k)}</th>"
                                       f"<td style='text-align:left'>{escape(v)}</td></tr>" for k, v in rows) + "</table>"

        prompt = self.prompt if len(self.prompt) <= 300 else self.prompt[:300] + "…"
        parts = [f"<div class='routerlab-route'><p><b>prompt</b>: {escape(prompt)}</p>"]
        if self.decision is not None:
            parts.append(kv(self._decision_rows()))
        if self.candidates is not None and len(self.candidates):
            parts.append("<p><b>candidates</b></p>" + self.candidates.to_html(index=False, float_format="%.4g"))
        if self.explain is not None:
            parts.append("<p><b>explain</b>: every candidate and what removed it</p>"
                         + self.explain.to_html(float_format="%.4g"))
        if self.compare is not None:
            parts.append("<p><b>decisions side by side</b></p>" + self.compare.to_html())
        if self.answer is not None:
            parts.append(kv(self._answer_rows()))
            parts.append(f"<pre style='white-space:pre-wrap'>{escape(str(self.answer['text']))}</pre>")
        parts += [f"<p><i>{escape(n)}</i></p>" for n in self.notes]
        return "".join(parts) + "</div>"


# ------------------------------------------------------------------------------------------ helpers
def _run_sync(coro: Any) -> Any:
    from ._aio import run_sync

    return run_sync(coro)


def _candidates(decision: Decision) -> pd.DataFrame:
    scores = dict(decision.scores or {})
    if not scores:
        return pd.DataFrame(columns=["model", "score", "chosen"])
    df = pd.DataFrame({"model": list(scores), "score": [float(v) for v in scores.values()]})
    df["chosen"] = df["model"] == decision.model
    return df.sort_values("score", ascending=False, kind="stable").head(_MAX_CANDIDATES).reset_index(drop=True)


def _as_answer(obj: Any, via: str) -> dict[str, Any]:
    return {"text": getattr(obj, "text", ""), "model": getattr(obj, "model", ""), "via": via,
            "input_tokens": int(getattr(obj, "input_tokens", 0) or 0),
            "output_tokens": int(getattr(obj, "output_tokens", 0) or 0),
            "cost": float(getattr(obj, "cost", 0.0) or 0.0), "latency": float(getattr(obj, "latency", 0.0) or 0.0),
            "simulated_latency": bool(getattr(obj, "simulated_latency", False)),
            "models_called": [str(getattr(c, "model", "")) for c in getattr(obj, "calls", ()) or ()]}


# ------------------------------------------------------------------------------------------ magics
def with_estimates(decision: Decision, request: Request) -> Decision:
    """``decision`` with its cost (USD) and latency (seconds) estimated from the catalog's list prices and
    latency profile where the router gave none: the request's input tokens, and ``max_tokens`` output
    tokens capped at :data:`routerlab.routers.capability.EXPECTED_OUTPUT_TOKENS` (as CapabilityRouter
    assumes). A model the catalog lacks keeps ``None``."""
    if decision.estimated_cost is not None and decision.estimated_latency is not None:
        return decision
    from dataclasses import replace

    from .catalog import Catalog
    from .routers.base import request_tokens
    from .routers.capability import EXPECTED_OUTPUT_TOKENS

    catalog = Catalog.default()
    if decision.model not in catalog:
        return decision
    spec = catalog[decision.model]
    out = min(request.max_tokens or EXPECTED_OUTPUT_TOKENS, EXPECTED_OUTPUT_TOKENS)
    cost = decision.estimated_cost
    latency = decision.estimated_latency
    return replace(decision,
                   estimated_cost=float(spec.cost(request_tokens(request), out)) if cost is None else cost,
                   estimated_latency=float(spec.latency.expected(out)) if latency is None else latency)


def _cell_magic_named(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """IPython's ``cell_magic(name)``, typed as the decorator it is (IPython >= 9.18 annotates it as
    returning either a decorator or a function, which type checkers cannot call)."""
    return cast(Callable[[Callable[..., Any]], Callable[..., Any]], cell_magic(name))


@magics_class
class RouteMagics(Magics):
    """The ``%route`` / ``%%route`` magics; state (the active router) lives on this object."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self.active: Any = None
        self.active_name: str = ""
        self._dataset: Any = None
        self._builtins: dict[str, Any] | None = None
        self._replay: Any = None
        self._local: Any = None  # (gateway, server) of --server, started once

    # -- resolving names ------------------------------------------------------------------------
    def dataset(self) -> Any:
        """The bundled data set (for built-in routers and replay), loaded on first use."""
        if self._dataset is None:
            from . import datasets

            self._dataset = datasets.load("zeroeval")
        return self._dataset

    def builtins(self) -> dict[str, Any]:
        """Built-in routers by name (``routerlab.routers.defaults.builtin_strategies``), fitted on the
        bundled data."""
        if self._builtins is None:
            from .routers.defaults import builtin_strategies

            self._builtins = dict(builtin_strategies(self.dataset()))
        return self._builtins

    def resolve(self, name: str) -> tuple[str, Any]:
        """A router (or strategy) from a user variable, a catalog model name, or a built-in name."""
        name = name.strip()
        ns = self.shell.user_ns if self.shell is not None else {}
        if name in ns and not isinstance(ns[name], (str, int, float)):
            obj = ns[name]
            if hasattr(obj, "route") or hasattr(obj, "answer"):
                return name, obj
            raise UsageError(f"variable {name!r} is a {type(obj).__name__}, not a router (no .route) "
                             "or strategy (no .answer)")
        from .catalog import Catalog

        catalog = Catalog.default()
        if name in catalog:  # before the built-ins: a model name needs no data set loaded
            from .routers import FixedRouter

            return name, FixedRouter(catalog.canonical(name), name=name)
        builtins = self.builtins()
        if name in builtins:
            return name, builtins[name]
        known = sorted(builtins) + ["<any catalog model>", "<a variable holding a router>"]
        raise UsageError(f"unknown router {name!r}; use one of: {', '.join(known)}")

    def _active(self) -> tuple[str, Any]:
        if self.active is None:
            builtins = self.builtins()
            if not builtins:
                raise UsageError("no active router: choose one with %route --use NAME_OR_VARIABLE "
                                 "(a router variable or a model name such as gpt-4o-mini)")
            first = "task" if "task" in builtins else next(iter(builtins))
            self.active_name, self.active = first, builtins[first]
        return self.active_name, self.active

    def _caller(self, via: str | None, server: bool = False) -> tuple[str, Any]:
        if server:
            if self._local is None:
                from .harness.local import local_gateway

                self._local = local_gateway(self.dataset())
                import atexit

                atexit.register(self._local[1].close)  # the server's threads end with the kernel
            return f"local provider server ({self._local[1].url})", self._local[0]
        if via:
            ns = self.shell.user_ns if self.shell is not None else {}
            if via not in ns:
                raise UsageError(f"--via {via!r}: no such variable (a Gateway or any Caller)")
            obj = ns[via]
            if not (hasattr(obj, "complete_sync") or hasattr(obj, "complete")):
                raise UsageError(f"--via {via!r} is a {type(obj).__name__}, not a Caller or Gateway")
            return via, obj
        if self._replay is None:
            from .providers.replay import ReplayCaller

            self._replay = ReplayCaller(self.dataset())
        return "replay (bundled zeroeval)", self._replay

    # -- parsing --------------------------------------------------------------------------------
    def _split(self, line: str) -> tuple[Any, str]:
        """Options first, then the prompt verbatim (so apostrophes and quotes need no escaping)."""
        parser = self.route.parser
        takes_value = {s for a in parser._actions for s in a.option_strings if a.nargs != 0}
        flags, rest = [], line.lstrip()
        while rest.startswith("-"):
            tok, _, rest = rest.partition(" ")
            rest = rest.lstrip()
            if tok == "--":
                break
            flags.append(tok)
            if tok in takes_value and "=" not in tok:
                val, _, rest = rest.partition(" ")
                rest = rest.lstrip()
                flags.append(val)
        try:
            args = parse_argstring(self.route, " ".join(_quote(f) for f in flags))
        except SystemExit as exc:  # argparse exits on a bad flag: make it a UsageError
            raise UsageError(f"bad %route options {flags}; see %route?") from exc
        return args, rest.strip()

    # -- the magic ------------------------------------------------------------------------------
    @magic_arguments()
    @argument("--use", metavar="NAME_OR_VAR", help="set the active router: a built-in router name, a catalog "
              "model (a fixed router), or a variable holding a router or strategy")
    @argument("--run", action="store_true", help="also answer the prompt and show answer, tokens, cost, latency")
    @argument("--via", metavar="VAR", help="with --run: a Gateway (or any Caller) variable to answer through; "
              "default: the replay caller over the bundled data (the prompt must be one of its prompts)")
    @argument("--server", action="store_true", help="with --run: answer through the local provider server "
              "started on the loaded data set (real SDK calls over HTTP, no key; recorded answers for its prompts)")
    @argument("--compare", metavar="A,B,C", help="show several routers' decisions side by side (names or variables); "
              "with --run, each one's answer too")
    @argument("--explain", action="store_true", help="show the router's full candidates table (explain)")
    @argument("--task", help="task label to attach to the request (e.g. gsm, crux, math-l5)")
    @argument("--id", dest="prompt_id", metavar="PROMPT_ID", help="use a prompt of the bundled data set by id")
    @argument("--max-tokens", type=int, default=None, help="max output tokens for the request")
    @argument("--data", metavar="VAR", help="a Dataset variable for --id, replay and the built-in routers "
              "(default: the bundled zeroeval, loaded on first use)")
    @argument("--list", action="store_true", help="list the built-in routers and the active one")
    @line_magic
    def route(self, line: str = "", cell: str | None = None) -> Any:
        """Route a prompt with the active router and show its Decision (and answer with ``--run``).

        ``%route [options] PROMPT`` or, as a cell magic, ``%%route [options]`` with the prompt as the
        cell body. Everything after the options is the prompt, verbatim.
        """
        args, prompt = self._split(line)
        if args.data:
            ns = self.shell.user_ns if self.shell is not None else {}
            ds = ns.get(args.data)
            if ds is None or not hasattr(ds, "prompts"):
                raise UsageError(f"--data {args.data!r}: no Dataset variable of that name")
            if ds is not self._dataset:
                self._dataset, self._builtins, self._replay = ds, None, None
        if cell is not None and cell.strip():
            prompt = cell.strip("\n")
        if args.list:
            names = sorted(self.builtins())
            active = self.active_name or "(none yet)"
            return RouteReport(prompt="", notes=[f"built-in routers: {', '.join(names) or '(none available)'}",
                                                 f"active router: {active}"])
        if args.use:
            self.active_name, self.active = self.resolve(args.use)
            if not prompt and not args.prompt_id:
                return RouteReport(prompt="", router=self.active_name,
                                   notes=[f"active router: {self.active_name} ({type(self.active).__name__})"])
        request = self._request(prompt, args)
        if args.compare:
            names = [n for n in re.split(r"[,\s]+", args.compare) if n]
            return self._compare(request, names, run=args.run, via=args.via, server=args.server)
        name, router = self._active()
        report = RouteReport(prompt=request.prompt, router=name)
        if hasattr(router, "route"):
            report.decision = with_estimates(router.route(request), request)
            report.candidates = _candidates(report.decision)
            if args.explain:
                report.explain = self._explain(router, request, report)
        else:
            report.notes.append(f"{name} is a strategy (it may call several models): no single decision; "
                                "use --run to see what it answers")
        if args.run:
            try:
                report.answer = self._answer(router, request, report.decision, args.via, args.server)
            except MissingOutcomeError:
                report.notes.append(self._offline_note(request))
        return report

    @_cell_magic_named("route")
    def route_cell(self, line: str, cell: str) -> Any:
        """``%%route [options]``: the cell body is the prompt."""
        return self.route(line, cell)

    def _request(self, prompt: str, args: Any) -> Request:
        opts: dict[str, Any] = {}
        if args.max_tokens is not None:
            opts["max_tokens"] = args.max_tokens
        if args.prompt_id:
            ds = self.dataset()
            if args.prompt_id not in set(ds.prompts["prompt_id"]):
                raise UsageError(f"--id {args.prompt_id!r} is not a prompt of the bundled data set")
            req = ds.request(args.prompt_id, **opts)
            return req.with_(task=args.task) if args.task else req
        if not prompt:
            raise UsageError("nothing to route: give a prompt (%route What is 2+2?), --id PROMPT_ID, "
                             "or use %%route with the prompt as the cell body")
        return Request.from_prompt(prompt, task=args.task, **opts)

    def _explain(self, router: Any, request: Request, report: RouteReport) -> pd.DataFrame | None:
        explain = getattr(router, "explain", None)
        if explain is None:
            report.notes.append(f"{type(router).__name__} has no explain(); showing decision scores only")
            return None
        return explain(request)

    def _offline_note(self, request: Request) -> str:
        ds = self.dataset()
        return (f"Offline, routerlab answers only prompts of the loaded data set ({ds.name}, {len(ds):,} prompts, "
                "their recorded answers); this prompt is not one of them. To answer any prompt: add --server "
                "(the local provider server through the real SDKs: no key, and it echoes prompts it has no "
                "answer for) or --via GATEWAY (a live Gateway variable, e.g. "
                "gw = routerlab.Gateway.from_config('examples/gateway.yaml') with your keys set); or pick a "
                "prompt of the data set with --id PROMPT_ID.")

    def _in_dataset(self, request: Request) -> bool:
        return bool(request.prompt_id) or self.dataset().find_prompt(request.prompt) is not None

    def _compare(self, request: Request, names: list[str], *, run: bool = False, via: str | None = None,
                 server: bool = False) -> RouteReport:
        cols: dict[str, dict[str, Any]] = {}
        report = RouteReport(prompt=request.prompt)
        offline = not (via or server)
        for n in names:
            label, router = self.resolve(n)
            d = with_estimates(router.route(request), request) if hasattr(router, "route") else None
            col: dict[str, Any] = {"model": "(strategy: no single decision)"}
            if d is not None:
                top = _candidates(d)
                col = {"model": d.model, "task": d.task or "—", "reason": d.reason or "—",
                       "est. cost (USD)": d.estimated_cost, "est. latency (s)": d.estimated_latency,
                       "runner-up": top["model"].iloc[1] if len(top) > 1 else "—"}
            if run and not (offline and not self._in_dataset(request)):
                a = self._answer(router, request, d, via, server)
                col.update({"answered by": a["model"], "answer": _short(str(a["text"])),
                            "cost (USD)": round(a["cost"], 6), "latency (s)": round(a["latency"], 2)})
            cols[label] = col
        table = pd.DataFrame(cols).astype(object)
        table = table.where(table.notna(), "—")
        table.index.name = "field"
        report.compare = table
        if offline and not self._in_dataset(request):
            report.notes.append(self._offline_note(request) if run else
                                "Decisions only: add --run to see each answer. " + self._offline_note(request))
        return report

    def _answer(self, router: Any, request: Request, decision: Decision | None, via: str | None,
                server: bool = False) -> dict[str, Any]:
        label, caller = self._caller(via, server)
        if decision is None:  # a strategy: it makes its own calls through the caller
            ans = _run_sync(router.answer(request, caller))
            return _as_answer(ans, label)
        if hasattr(caller, "complete_sync"):
            comp = caller.complete_sync(request, decision.model)
        else:
            comp = _run_sync(caller.complete(request, decision.model))
        return _as_answer(comp, label)


def _short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _quote(tok: str) -> str:
    return tok if tok and not re.search(r"[\s'\"]", tok) else "'" + tok.replace("'", "") + "'"


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%route`` / ``%%route`` (``%load_ext routerlab``)."""
    ipython.register_magics(RouteMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Stop the local provider server ``--server`` started, if any."""
    magics = ipython.magics_manager.registry.get("RouteMagics")
    if magics is not None and magics._local is not None:
        magics._local[1].close()
        magics._local = None
