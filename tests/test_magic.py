"""``%route`` / ``%%route`` in a real IPython InteractiveShell."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from routerlab.magic import RouteMagics, RouteReport
from routerlab.types import Answer, Completion, Decision, Request


class ToyRouter:
    """Short prompts to a small model, long ones to a big one; explains both candidates."""

    prompt_only = True

    def __init__(self, name: str = "toy") -> None:
        self.name = name

    def route(self, request: Request) -> Decision:
        big = len(request.prompt) > 40
        model = "gpt-4o" if big else "gpt-4o-mini"
        return Decision(model=model, reason="long prompt" if big else "short prompt", task=request.task,
                        scores={"gpt-4o": 0.9 if big else 0.4, "gpt-4o-mini": 0.5}, router=self.name,
                        estimated_cost=0.001, estimated_latency=1.5)

    def explain(self, request: Request) -> pd.DataFrame:
        d = self.route(request)
        return pd.DataFrame({"model": list(d.scores), "score": list(d.scores.values()),
                             "removed_by": ["", ""], "chosen": [m == d.model for m in d.scores]})


class FakeGateway:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def complete_sync(self, request: Request, model: str) -> Completion:
        self.calls.append((request.prompt, model))
        return Completion(text=f"answer from {model}", model=model, provider="fake", input_tokens=12,
                          output_tokens=3, cost=0.0042, latency=0.25)


@pytest.fixture()
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "routerlab.magic")
    shell.user_ns.update(toy=ToyRouter(), other=ToyRouter("other"), gw=FakeGateway())
    yield shell
    shell.run_cell("%route --use toy")


def run(ip: InteractiveShell, code: str) -> RouteReport:
    res = ip.run_cell(code)
    res.raise_error()
    return res.result


def test_use_a_variable_then_route(ip):
    run(ip, "%route --use toy")
    rep = run(ip, "%route What's 2+2?")  # an apostrophe needs no escaping
    assert rep.prompt == "What's 2+2?"
    assert rep.decision.model == "gpt-4o-mini" and rep.decision.reason == "short prompt"
    assert rep.candidates["model"].tolist() == ["gpt-4o-mini", "gpt-4o"]
    html = rep._repr_html_()
    for text in ("gpt-4o-mini", "short prompt", "0.001000", "1.50", "candidates"):
        assert text in html
    assert "est. latency" in repr(rep)


def test_cell_magic_takes_the_body_as_prompt(ip):
    run(ip, "%route --use toy")
    rep = run(ip, "%%route --task essay\nWrite a long essay about the history\nof routing, in detail please.\n")
    assert rep.decision.model == "gpt-4o" and rep.decision.task == "essay"
    assert "\n" in rep.prompt


def test_explain_shows_the_candidates_table(ip):
    run(ip, "%route --use toy")
    rep = run(ip, "%route --explain hello")
    assert list(rep.explain.columns) == ["model", "score", "removed_by", "chosen"]
    assert "every candidate" in rep._repr_html_()


def test_compare_side_by_side(ip):
    rep = run(ip, "%route --compare toy,other,gpt-4o-mini hi")
    assert list(rep.compare.columns) == ["toy", "other", "gpt-4o-mini"]
    assert rep.compare.loc["model"].tolist() == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini"]
    assert "side by side" in rep._repr_html_()


def test_run_through_a_gateway_variable(ip):
    run(ip, "%route --use toy")
    rep = run(ip, "%route --run --via gw hi there")
    assert ip.user_ns["gw"].calls == [("hi there", "gpt-4o-mini")]
    a = rep.answer
    assert (a["text"], a["input_tokens"], a["output_tokens"], a["cost"], a["latency"]) == (
        "answer from gpt-4o-mini", 12, 3, 0.0042, 0.25)
    assert "answer from gpt-4o-mini" in rep._repr_html_()


def test_run_a_strategy_through_the_gateway(ip):
    class Strat:
        async def answer(self, request, caller):
            c = caller.complete_sync(request, "gpt-4o")
            return Answer(text=c.text, model=c.model, calls=(c,), latency=c.latency)

    ip.user_ns["strat"] = Strat()
    run(ip, "%route --use strat")
    rep = run(ip, "%route --run --via gw hello")
    assert rep.decision is None and rep.answer["model"] == "gpt-4o" and rep.answer["cost"] == 0.0042


def test_a_model_name_is_a_fixed_router(ip):
    rep = run(ip, "%route --use claude-3-haiku Which model is this")
    assert rep.decision.model == "claude-3-haiku"


def test_errors_are_usage_errors(ip):
    res = ip.run_cell("%route --use no_such_router_or_model")
    assert res.error_in_exec is not None and "unknown router" in str(res.error_in_exec)
    res = ip.run_cell("%route --run --via nothing_here hi")
    assert "no such variable" in str(res.error_in_exec)
    res = ip.run_cell("%route --use toy")
    res = ip.run_cell("%route")
    assert "nothing to route" in str(res.error_in_exec)


def test_help_documents_every_flag():
    doc = RouteMagics.route.__doc__
    for flag in ("--use", "--run", "--via", "--compare", "--explain", "--task", "--id", "--max-tokens", "--data"):
        assert flag in doc


def test_replay_run_on_a_bundled_prompt(ip, zeroeval):
    ip.user_ns["ds"] = zeroeval  # the session's copy: no second load
    run(ip, "%route --use gpt-4o-mini")
    rep = run(ip, "%route --data ds --run --id gsm8k-main-test-#0")
    assert rep.decision.model == "gpt-4o-mini"
    assert rep.answer["via"].startswith("replay") and rep.answer["output_tokens"] > 0
    assert rep.answer["simulated_latency"] and "(simulated)" in repr(rep)


def test_builtin_routers_by_name(ip, zeroeval):
    ip.user_ns["ds"] = zeroeval
    rep = run(ip, "%route --data ds --use task --task gsm Natalia sold 48 clips in April")
    assert rep.router == "task" and rep.decision.model in zeroeval.models
    rep = run(ip, "%route --compare task,capability,cascade-agreement Natalia sold 48 clips in April")
    assert rep.compare.loc["model", "cascade-agreement"] == "(strategy: no single decision)"
    rep = run(ip, "%route --use cascade-agreement --run --id gsm8k-main-test-#0")
    assert rep.decision is None and len(rep.answer["models_called"]) >= 1


# ---------------------------------------------------------------- issue 16: --compare offline says why and how
def test_compare_offline_on_an_unknown_prompt_says_why_and_how(ip):
    """Issue 16: the last cell of notebook 01 showed a table of '—' with no word of why."""
    rep = run(ip, "%route --compare gpt-4o,gpt-4o-mini --run Summarise the plot above in one sentence.")
    note = " ".join(rep.notes)
    assert "only prompts of the loaded data set" in note and "zeroeval" in note
    assert "--server" in note and "--via" in note and "--id" in note
    assert "answer" not in rep.compare.index  # nothing answered, and no row of '—' pretending otherwise
    assert note in rep._repr_html_().replace("&#x27;", "'")
    decisions = run(ip, "%route --compare gpt-4o,gpt-4o-mini Summarise the plot above in one sentence.")
    assert "add --run" in " ".join(decisions.notes)


def test_compare_with_run_shows_each_routers_real_answer(ip):
    from routerlab import datasets

    ds = datasets.load("zeroeval")
    pid = "gsm8k-main-test-#0"
    rep = run(ip, f"%route --compare gpt-4o,gpt-4o-mini,llama-3.1-8b --run --id {pid}")
    assert not rep.notes
    for model in ("gpt-4o", "gpt-4o-mini", "llama-3.1-8b"):
        recorded = " ".join(ds.outcomes.response(pid, model).split())
        assert rep.compare.loc["answer", model].rstrip("…") in recorded
        assert rep.compare.loc["answered by", model] == model
        assert float(rep.compare.loc["cost (USD)", model]) > 0


def test_server_answers_any_prompt_through_the_real_sdks(ip):
    rep = run(ip, "%route --use gpt-4o-mini")
    rep = run(ip, "%route --run --server Tell me anything at all")
    assert rep.answer is not None and rep.answer["via"].startswith("local provider server (http://127.0.0.1:")
    assert rep.answer["model"] == "gpt-4o-mini" and not rep.notes
    ip.run_line_magic("unload_ext", "routerlab.magic")
    ip.run_line_magic("load_ext", "routerlab.magic")


def test_a_router_without_estimates_gets_them_from_the_catalog(ip):
    """Before: %route --compare task,gpt-4o showed est. cost and latency as "—" for catalog models."""
    from routerlab.catalog import Catalog
    from routerlab.routers.base import request_tokens

    rep = run(ip, "%route --compare gpt-4o,claude-3-haiku Summarise the plot of Hamlet in two lines")
    spec = Catalog.default()["gpt-4o"]
    tin = request_tokens(Request.from_prompt("Summarise the plot of Hamlet in two lines"))
    assert rep.compare.loc["est. cost (USD)", "gpt-4o"] == pytest.approx(spec.cost(tin, 500))
    assert rep.compare.loc["est. latency (s)", "gpt-4o"] == pytest.approx(spec.latency.expected(500))
    assert rep.compare.loc["est. cost (USD)", "claude-3-haiku"] < rep.compare.loc["est. cost (USD)", "gpt-4o"]
    one = run(ip, "%route --use gpt-4o --max-tokens 20 Summarise the plot of Hamlet in two lines")
    assert one.decision.estimated_cost == pytest.approx(spec.cost(tin, 20))  # max_tokens caps the output assumed
    assert "—" not in dict(one._decision_rows())["est. cost (USD)"]
