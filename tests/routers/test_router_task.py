"""TaskRouter: priority, engines, task labels, learning the table, and the regexes on real prompts."""

from __future__ import annotations

import numpy as np
import pytest

from routerlab.errors import ConfigError, NotFittedError
from routerlab.routers import DEFAULT_PATTERNS, RoutingTable, TaskMatcher, TaskRouter, check_router, detect_task
from routerlab.routers.task import re2_available
from routerlab.types import Request

TABLE = RoutingTable(default="gpt-4o", routes={"math": "gpt-4o-mini", "code": "claude-3.5-sonnet",
                                                "translation": "gemini-1.5-flash"})


def test_nine_task_types_by_default():
    assert list(DEFAULT_PATTERNS) == ["translation", "summarization", "extraction", "classification", "code", "math",
                                      "creative", "reasoning"]
    cases = {
        "Translate 'thank you' into Japanese": "translation",
        "Please summarize this article in three bullet points": "summarization",
        "Extract every email address from the text below": "extraction",
        "Classify the sentiment of this review": "classification",
        "Write a Python function that merges two sorted lists": "code",
        "Solve for x: 3x + 7 = 22": "math",
        "Write a short poem about autumn": "creative",
        "Explain why the sky is blue": "reasoning",
        "Hi! How are you?": "chat",
    }
    for prompt, task in cases.items():
        assert detect_task(prompt).task == task, prompt


def test_first_match_priority_is_kept_and_the_pattern_is_reported():
    # "summarize" (priority 2) beats "python" (code, priority 5) even though python comes first in the text
    m = detect_task("Python code below: please summarize what it does")
    assert m.task == "summarization" and "summar" in m.pattern
    r = TaskRouter(TABLE, patterns={"a": [r"zzz", r"\bfoo\b"], "b": [r"foo"]}, engine="re")
    assert r.detect_task("foo zzz") == ("a", r"zzz")  # lowest-index pattern of the winning task
    assert r.detect_task("xfoo") == ("b", "foo")
    assert r.detect_task("nothing") == ("chat", None)


@pytest.mark.skipif(not re2_available(), reason="google-re2 not installed")
def test_re2_and_re_engines_decide_the_same_on_every_bundled_prompt(zeroeval):
    prompts = zeroeval.prompts["prompt"].tolist()
    fast, slow = TaskMatcher(DEFAULT_PATTERNS, engine="re2"), TaskMatcher(DEFAULT_PATTERNS, engine="re")
    assert fast.engine == "re2" and slow.engine == "re"
    a = fast.match_many(prompts)
    assert (a == slow.match_many(prompts)).all()
    assert [fast.match(p) for p in prompts[:200]] == a[:200].tolist()


def test_engine_falls_back_to_re_for_python_only_syntax():
    m = TaskMatcher({"x": [r"(?<=a)b"]}, engine="auto")
    assert m.engine == "re"
    assert m.detect("ab").task == "x"
    with pytest.raises(ConfigError, match="engine must be"):
        TaskMatcher({"x": ["a"]}, engine="pcre")


def test_regexes_on_real_prompts_and_the_task_field(zeroeval):
    """The default patterns on the 2,840 zeroeval prompts: how many land where (recorded, not tuned for)."""
    r = TaskRouter(TABLE)
    detected = r.detect_tasks(zeroeval.prompts)
    crosstab = detected.assign(label=zeroeval.prompts["task"].to_numpy()).value_counts(["label", "task"])
    assert (detected["task"] == "chat").sum() < 300          # the write-up's regexes sent 2,667 to default
    assert crosstab[("crux", "code")] > 700 and crosstab[("gsm", "math")] > 1000
    labelled = TaskRouter(RoutingTable(default="gpt-4o", routes={"crux": "claude-3.5-sonnet"}), task_field="task")
    req = zeroeval.request(zeroeval.prompts["prompt_id"][zeroeval.prompts["task"] == "crux"].iloc[0])
    d = labelled.route(req)
    assert d.model == "claude-3.5-sonnet" and d.task == "crux" and "request's 'task'" in d.reason
    # without a label the same router falls back to the patterns
    assert labelled.route(req.with_(task=None)).task == "code"


def test_fit_learns_the_table_and_needs_data(small_split):
    train, test = small_split
    with pytest.raises(NotFittedError):
        TaskRouter().route(Request.from_prompt("hi"))
    r = TaskRouter(task_field="task").fit(train)
    table = r.routing_table_
    assert set(table.routes) == {"crux", "gsm", "math-l5"}
    ev = table.evidence()
    for task, model in table.routes.items():
        rows = ev[ev["task"] == task]
        assert rows.loc[rows["model"] == model, "kept"].item()
        cheaper_kept = rows[(rows["cost"] < rows.loc[rows["model"] == model, "cost"].item()) & rows["kept"]]
        assert cheaper_kept.empty
    assert check_router(r, test) == []
    by_regex = TaskRouter().fit(train)
    assert set(by_regex.routing_table_.routes) <= set(DEFAULT_PATTERNS) | {"chat"}
    assert by_regex.routing_table_.provenance["learned"]["task_source"] == "patterns"


def test_route_many_accepts_strings_and_frames():
    r = TaskRouter(TABLE)
    out = r.route_many(["Solve 2x = 4", "Translate hello into French", "hey"])
    assert isinstance(out, np.ndarray) and out.tolist() == ["gpt-4o-mini", "gemini-1.5-flash", "gpt-4o"]
    exp = r.explain(Request.from_prompt("Solve 2x = 4"))
    assert exp.loc[exp["chosen"], "model"].item() == "gpt-4o-mini"
    assert exp["removed_by"].dropna().str.contains("routes to gpt-4o-mini").all()


# ---------------------------------------------------------------------------------------------------
# the batch engine: one native scan (hyperscan), decisions identical to the per-prompt engines

hyperscan = pytest.importorskip("hyperscan")

TRICKY = {
    "greeting": [r"^hello\b", r"bye$"],                 # anchors: only at the very start / end of a prompt
    "spaced": [r"foo\s+bar", r"x[^a]yz"],               # both may span the newline joint
    "code": [r"```\w+", r"list (the |all )?"],          # trailing repeats reduced for the scan
    "word": [r"\bcat\b", r"dog[s]?"],
}
TRICKY_TEXTS = ["hello there", "well, hello", "say bye", "bye now", "foo\nbar", "foo", "bar baz", "xyz",
                "```python\nx", "a list", "concatenate", "the cat sat", "", "HELLO!", "naïve cat",
                "\u212a", "dogs", "line one\nhello", "x\nyz", "x yz", "foo", "end\n"]


@pytest.mark.parametrize("patterns,texts", [(TRICKY, TRICKY_TEXTS), (DEFAULT_PATTERNS, None)])
def test_hyperscan_batches_decide_exactly_as_the_per_prompt_engines(patterns, texts, zeroeval):
    from routerlab.routers.task import TaskMatcher

    if texts is None:
        texts = zeroeval.prompts["prompt"].tolist()[::7] + TRICKY_TEXTS
    fast = TaskMatcher(patterns, engine="hyperscan")
    assert fast.batch_engine == "hyperscan"
    slow = TaskMatcher(patterns, engine="re")
    expected = [slow.match(t) for t in texts]
    assert fast.match_many(texts).tolist() == expected
    # order and neighbours do not matter: each prompt alone, and the batch reversed
    assert [int(fast.match_many([t])[0]) for t in texts] == expected
    assert fast.match_many(texts[::-1]).tolist() == expected[::-1]


def test_existence_form_keeps_what_matches():
    from routerlab.routers._hyperscan import existence_form as _existence_form

    assert _existence_form(r"```\w+") == r"```\w"
    assert _existence_form(r"get (the |all )?") == "get "
    assert _existence_form(r"ab{2,}") == "ab{2}"
    assert _existence_form(r"a|b+") == r"a|b+"          # a top-level alternation is left alone
    assert _existence_form(r"x\(a)?") == r"x\(a)?"      # an escaped parenthesis is not a group
    assert _existence_form(r"a+?") == "a+?"             # lazy: left alone
    assert _existence_form(r"z?") == "z?"               # nothing would be left


def test_hyperscan_engine_refuses_what_it_cannot_compile_and_auto_falls_back():
    from routerlab.routers.task import TaskMatcher

    backref = {"echo": [r"(ab)\1"]}
    with pytest.raises(ConfigError, match="hyperscan"):
        TaskMatcher(backref, engine="hyperscan")
    auto = TaskMatcher(backref, engine="auto")
    assert auto.batch_engine in ("re", "re2") and auto.match_many(["abab", "ab"]).tolist() == [0, -1]
    empty = TaskMatcher({"any": ["x*"]}, engine="auto")
    assert empty.batch_engine != "hyperscan" and empty.match_many(["", "y"]).tolist() == [0, 0]


RAW_OK = {  # no assertion but a leading ^: the column is scanned in place, with no joint between texts
    "qa": [r"^what (is|are)", r"^how"],
    "code": [r"```\w+", r"implement", r"kelvin"],
    "spans": [r"foo\s+bar", r"tl;?dr", r"x[^a]yz"],
}
RAW_TEXTS = ["What is this", "so what is it", "how?", "abc tl", "dr def", "foo", "bar", "foo \n bar",
             "xyz", "x\nyz", "", "naïve implement", "\u212aelvin", "KELVIN", "```json {}", "nothing here"]


@pytest.mark.parametrize("texts", [RAW_TEXTS, None])
def test_raw_arrow_layout_decides_exactly_as_the_per_prompt_engine(texts, zeroeval):
    import pandas as pd

    from routerlab.routers.task import TaskMatcher

    if texts is None:
        texts = zeroeval.prompts["prompt"].tolist()[::5] + RAW_TEXTS
    column = pd.Series(texts, dtype="string[pyarrow]")
    fast = TaskMatcher(RAW_OK, engine="hyperscan")
    from routerlab.routers.task import _arrow_backed

    assert _arrow_backed(column) and _arrow_backed(zeroeval.prompts["prompt"]) and not _arrow_backed(texts)
    assert fast._scanner.match_arrow(column.array, fast.match) is not None  # the raw layout applies
    expected = [TaskMatcher(RAW_OK, engine="re").match(t) for t in texts]
    assert fast.match_column(column).tolist() == expected
    assert fast.match_column(column.iloc[3:]).tolist() == expected[3:]  # a slice: offsets into the buffer
    assert fast.match_many(texts).tolist() == expected                 # the joined layout agrees
    # patterns with word boundaries cannot be scanned without a joint: the joined layout answers
    bounded = TaskMatcher(DEFAULT_PATTERNS, engine="hyperscan")
    assert bounded._scanner.match_arrow(column.array, bounded.match) is None
    assert bounded.match_column(column).tolist() == [TaskMatcher(DEFAULT_PATTERNS, engine="re").match(t) for t in texts]
