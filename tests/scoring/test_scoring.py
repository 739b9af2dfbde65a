"""Tests for routerlab.scoring: ZeroEval's published accuracies, and every scorer on hand cases."""

from __future__ import annotations

import doctest
import importlib
import json
import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from routerlab.errors import ConfigError
from routerlab.scoring import (
    Contains,
    ExactMatch,
    MathEquivalence,
    MultipleChoice,
    Passthrough,
    RegexScorer,
    Score,
    Scorer,
    ZeroEvalCrux,
    ZeroEvalMath,
    Numeric,
    PassFail,
    TaskScorers,
    extract_answer,
    extract_first_json,
    is_llama31,
    latex_value,
    math_equivalent,
    get_scorer,
    safe_arithmetic,
    sanitize_math_answer,
    score_many,
)

REPO = Path(__file__).resolve().parents[2]
# the raw files live in ../shared beside the checkout (a git worktree sits one level deeper)
RAW = next((p / "shared" / "datasets" / "zeroeval" for p in REPO.parents
            if (p / "shared" / "datasets" / "zeroeval").is_dir()), REPO.parent / "shared" / "datasets" / "zeroeval")
# the bundled data set names its scorers (ZeroEval's rules) beside its files
ZEROEVAL = TaskScorers(json.loads((REPO / "datasets" / "zeroeval" / "scorers.json").read_text()))

# ZeroEval's published accuracy (%), copied from result_dirs/{gsm,crux,math-l5}.summary.json at commit
# 570c6269 (2024-09-24), so the assertion does not need the summary files.
PUBLISHED = {
    #  model                           gsm      crux     math-l5
    "gpt-4o-2024-08-06":            ("96.21", "85.00", "55.34"),
    "claude-3-5-sonnet-20240620":   ("95.60", "78.75", "51.87"),
    "gpt-4o-mini-2024-07-18":       ("94.24", "73.50", "52.15"),
    "gemini-1.5-flash":             ("91.36", "61.88", "34.81"),
    "claude-3-haiku-20240307":      ("88.78", "53.62", "15.12"),
    "Meta-Llama-3.1-8B-Instruct":   ("84.00", "38.75", "22.19"),
    "gemma-2-2b-it":                ("51.63", "20.75", "4.30"),
    "claude-3-opus-20240229":       ("95.60", "68.62", "36.89"),
    "Meta-Llama-3.1-70B-Instruct":  ("94.16", "62.62", "43.13"),
}
# The "No answer" column of the same files: checks the extraction itself, not only the final score.
PUBLISHED_NO_ANSWER = {
    "gpt-4o-2024-08-06":            ("0.00", "0.12", "4.02"),
    "claude-3-5-sonnet-20240620":   ("0.00", "0.00", "0.00"),
    "gpt-4o-mini-2024-07-18":       ("0.00", "0.12", "1.11"),
    "gemini-1.5-flash":             ("0.00", "0.25", "2.36"),
    "claude-3-haiku-20240307":      ("0.00", "0.12", "0.14"),
    "Meta-Llama-3.1-8B-Instruct":   ("0.38", "0.62", "19.42"),
    "gemma-2-2b-it":                ("0.38", "0.00", "16.23"),
    "claude-3-opus-20240229":       ("0.00", "0.00", "0.00"),
    "Meta-Llama-3.1-70B-Instruct":  ("0.08", "0.50", "12.21"),
}
# ZeroEval's CRUXEval table after its newline fix (its later crux.summary.md, e.g. in the
# ruxiliang/ZeroEval fork): what ZeroEvalCrux(newline_fix=True) must give.
CRUX_FIXED = {
    "gpt-4o-2024-08-06": "87.00", "claude-3-5-sonnet-20240620": "80.75",
    "gpt-4o-mini-2024-07-18": "75.88", "gemini-1.5-flash": "63.75", "claude-3-haiku-20240307": "54.75",
    "Meta-Llama-3.1-8B-Instruct": "39.88", "gemma-2-2b-it": "21.50", "claude-3-opus-20240229": "70.38",
    "Meta-Llama-3.1-70B-Instruct": "64.25",
}
TASKS = ("gsm", "crux", "math-l5")
MODELS = tuple(PUBLISHED)

needs_raw = pytest.mark.skipif(
    not (RAW / "gsm").is_dir(),
    reason=f"raw ZeroEval result files not found at {RAW} (they live outside the repo, next to it in "
           "../shared/datasets/zeroeval); the published-accuracy checks need them",
)


@cache
def _rows(task: str, model: str) -> tuple[list[str], list[str]]:
    data = json.loads((RAW / task / f"{model}.json").read_text(encoding="utf-8"))
    return [row["output"][0] for row in data], [row["answer"] for row in data]


def _percent(values: np.ndarray) -> str:
    return f"{100 * values.mean():.2f}"


# ---------------------------------------------------------------- the 27 published numbers


@needs_raw
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("model", MODELS)
def test_reproduces_zeroeval_published_accuracy(task: str, model: str) -> None:
    outputs, golds = _rows(task, model)
    values, answers = ZEROEVAL.for_task(task).score_many(outputs, golds, model)
    column = TASKS.index(task)
    assert _percent(values) == PUBLISHED[model][column], (task, model)
    no_answer = f"{100 * sum(a is None for a in answers) / len(answers):.2f}"
    assert no_answer == PUBLISHED_NO_ANSWER[model][column], (task, model)


@pytest.mark.skipif(not (RAW / "gsm.summary.json").is_file(), reason=f"no summary files at {RAW}")
def test_constant_table_matches_the_summary_files() -> None:
    for column, task in enumerate(TASKS):
        rows = json.loads((RAW / f"{task}.summary.json").read_text(encoding="utf-8"))
        published = {row["Model"]: (row["Acc"], row["No answer"]) for row in rows}
        for model in MODELS:
            assert published[model] == (PUBLISHED[model][column], PUBLISHED_NO_ANSWER[model][column])


@pytest.mark.skipif(not (REPO / "datasets" / "zeroeval").is_dir(),
                    reason=f"bundled data set not found at {REPO / 'datasets' / 'zeroeval'}")
def test_reproduces_zeroeval_published_accuracy_from_the_bundled_dataset() -> None:
    from routerlab.datasets import load

    dataset = load("zeroeval", score=False)
    rows = dataset.outcomes.df.merge(dataset.prompts[["prompt_id", "task", "reference"]], on="prompt_id")
    seen = set()
    for (task, generator), group in rows.groupby(["task", "generator"]):
        model = str(generator).rsplit("/", 1)[-1]
        values, _ = ZEROEVAL.for_task(str(task)).score_many(group["response"], group["reference"], generator)
        assert _percent(values) == PUBLISHED[model][TASKS.index(str(task))], (task, model)
        seen.add((task, model))
    assert len(seen) == 27


@needs_raw
@pytest.mark.parametrize("model", MODELS)
def test_crux_newline_fix_raises_every_model_by_about_two_points(model: str) -> None:
    outputs, golds = _rows("crux", model)
    published, _ = ZeroEvalCrux().score_many(outputs, golds, model)
    fixed, _ = ZeroEvalCrux(newline_fix=True).score_many(outputs, golds, model)
    gain = 100 * (fixed.mean() - published.mean())
    assert 0.5 <= gain <= 3.0
    assert np.all(fixed >= published)  # the fix only ever turns wrong into right
    assert _percent(fixed) == CRUX_FIXED[model]


@needs_raw
def test_crux_newline_fix_mean_gain() -> None:
    gains = []
    for model in MODELS:
        outputs, golds = _rows("crux", model)
        gains.append(ZeroEvalCrux(newline_fix=True).score_many(outputs, golds, model)[0].mean()
                     - ZeroEvalCrux().score_many(outputs, golds, model)[0].mean())
    assert 1.0 <= 100 * float(np.mean(gains)) <= 2.5


@needs_raw
def test_strict_math_is_stricter_on_real_outputs() -> None:
    for model in ("gpt-4o-2024-08-06", "claude-3-5-sonnet-20240620"):
        outputs, golds = _rows("math-l5", model)
        lenient, _ = ZeroEvalMath().score_many(outputs, golds, model)
        strict, _ = MathEquivalence().score_many(outputs, golds, model)
        assert strict.mean() < lenient.mean()
        assert np.all(strict <= lenient)  # every integer gold; strict only removes false positives


@needs_raw
def test_scoring_the_whole_bundle_is_fast() -> None:
    batches = [(task, model, *_rows(task, model)) for task in TASKS for model in MODELS]
    start = time.perf_counter()
    for task, model, outputs, golds in batches:
        ZEROEVAL.for_task(task).score_many(outputs, golds, model)
    assert time.perf_counter() - start < 10.0  # ~25k responses; about 1 s on a laptop


# ---------------------------------------------------------------- extraction


def test_extract_plain_and_fenced_json() -> None:
    assert extract_answer('```json\n{\n  "reasoning": "6 * 3",\n  "answer": "18"\n}\n```') == "18"
    assert extract_answer('{"reasoning": "r", "answer": 18}') == "18"
    assert extract_answer('{"answer": 2.5}') == "2.5"
    assert extract_answer('{"answer": true}') == "True"  # str() of the JSON value, as ZeroEval
    assert extract_answer('{"answer": [1, 2]}') == "[1, 2]"


def test_extract_first_object_wins_even_if_a_later_one_differs() -> None:
    text = 'First {"reasoning": "a", "answer": "1"} then {"reasoning": "b", "answer": "2"}'
    assert extract_answer(text) == "1"


def test_extract_first_object_without_answer_falls_back_to_regex_over_the_whole_text() -> None:
    text = 'Input {"x": 1}. Output: {"reasoning": "r", "answer": "7"}'
    assert extract_first_json(text) == {"x": 1}
    assert extract_answer(text) == "7"


def test_extract_nested_braces_and_braces_inside_strings() -> None:
    nested = '{"reasoning": "uses {a: {b}}", "answer": {"k": [1, {"v": 2}]}}'
    assert extract_answer(nested) == "{'k': [1, {'v': 2}]}"
    # Braces are counted as characters (as ZeroEval did): the "}" in the string closes the object,
    # the JSON is then invalid and the regex fallback reads the quoted answer.
    unbalanced = '{"reasoning": "a set like } is odd", "answer": "5"}'
    assert extract_first_json(unbalanced) is None
    assert extract_answer(unbalanced) == "5"


def test_extract_regex_fallbacks() -> None:
    assert extract_answer('{"reasoning": "bad \\q escape", "answer": "12"}') == "12"
    assert extract_answer('"answer": "multi\nline"') == "multi\nline"
    assert extract_answer('{"reasoning": "x", "answer": 42, oops}') == "42"  # unquoted value
    assert extract_answer("reasoning: x\nanswer: 17") == "17"  # unquoted key
    assert extract_answer('"answer": , "x"') == ""  # an empty value is an answer (scored wrong)
    assert extract_answer("The answer is 5.") is None
    assert extract_answer(None) is None  # type: ignore[arg-type]


def test_newlines_are_removed_before_parsing() -> None:
    assert extract_answer('{"answer": "a\nb"}') == "ab"


@pytest.mark.parametrize("model", ["Meta-Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-70B-Instruct",
                                   "llama-3.1-8b-instant", "LLAMA-3.1-405B"])
def test_boxed_rule_applies_to_llama_31(model: str) -> None:
    assert extract_answer("... so the answer is $\\boxed{36}$.", model) == "36"


@pytest.mark.parametrize("model", [None, "gpt-4o", "Meta-Llama-3-70B-Instruct", "llama-3.2-3b"])
def test_boxed_rule_ignored_for_other_models(model: str | None) -> None:
    assert extract_answer("... so the answer is $\\boxed{36}$.", model) is None


def test_boxed_rule_needs_boxed_near_the_end_and_a_word_value() -> None:
    llama = "Meta-Llama-3.1-8B-Instruct"
    early = "We get $\\boxed{36}$." + " Let me double-check this reasoning carefully." * 2
    assert extract_answer(early, llama) is None  # "boxed" not in the last 30 characters
    assert extract_answer("x" * 100 + "\\boxed{7}", llama) == "7"
    assert extract_answer("so $\\boxed{-5}$", llama) is None  # ZeroEval's regex: word characters only
    assert extract_answer("so $\\boxed{\\frac{1}{2}}$", llama) is None
    assert extract_answer('{"answer": "3"} and \\boxed{4}', llama) == "3"  # JSON comes first


def test_is_llama31() -> None:
    assert is_llama31("Meta-Llama-3.1-70B-Instruct") and is_llama31("llama3.1:8b")
    assert not is_llama31("Meta-Llama-3-8B") and not is_llama31("llama-3.10") and not is_llama31("")


# ---------------------------------------------------------------- ZeroEval math rule


def _json(answer: str) -> str:
    return json.dumps({"reasoning": "r", "answer": answer})


@pytest.mark.parametrize(("answer", "gold", "expected"), [
    ("18", "# 18", 1.0),
    ("$18.00", "# 18", 1.0),
    ("1,000", "# 1000", 1.0),
    ("$1,000.50", "1000.5", 1.0),
    ("3/4", "0.75", 1.0),
    ("0.75", "3/4", 1.0),
    ("(1+2)/4", "0.75", 1.0),
    ("18 dollars", "# 18", 1.0),
    ("-5", "# 5", 0.0),
    ("17", "# 18", 0.0),
    ("no idea", "# 18", 0.0),
    ("3\\sqrt{2}", "3", 1.0),  # lenient by design: first number only
    ("\\frac{1}{2}", "\\frac{1}{2}", 1.0),
    ("1/2", "\\frac{1}{2}", 0.0),  # 0.5 vs the gold's first number 1
])
def test_zeroeval_math_rule(answer: str, gold: str, expected: float) -> None:
    assert ZeroEvalMath().score(_json(answer), gold).value == expected


def test_zeroeval_math_no_answer_and_score_fields() -> None:
    assert ZeroEvalMath().score("I cannot solve this.", "# 3") == Score(0.0, None, False)
    assert ZeroEvalMath().score(_json("$5"), "# 5") == Score(1.0, "$5", True, "5.0")
    assert ZeroEvalMath().score(_json("5"), "no number") == Score(0.0, "5", True, "5.0")


def test_sanitize_never_evaluates_code() -> None:
    hostile = "__import__('os').system('echo pwned') / 1"
    assert sanitize_math_answer(hostile) == hostile.replace(",", "")
    assert sanitize_math_answer("(lambda: 1)()/1") == "(lambda: 1)()/1"
    assert sanitize_math_answer("1/0") == "1/0"
    assert sanitize_math_answer("3/4 cup") == "3/4 cup"
    start = time.perf_counter()
    assert sanitize_math_answer("9**9**9**9/1") == "9**9**9**9/1"  # refused, not computed
    assert time.perf_counter() - start < 0.5


def test_safe_arithmetic() -> None:
    assert safe_arithmetic("3/4") == 0.75
    assert safe_arithmetic("-(1+2)**2/3") == -3.0
    assert safe_arithmetic("2**-1") == 0.5
    for bad in ("x/2", "1/0", "2^3/4", "'a'/1", "[1]/2", "True/2", "1j/2", "(", "10**100000/1", "9" * 3000):
        with pytest.raises(ValueError):
            safe_arithmetic(bad)


# ---------------------------------------------------------------- ZeroEval CRUXEval rule


@pytest.mark.parametrize(("answer", "gold", "expected"), [
    ("'abc'", "'abc'", 1.0),
    ("abc", "'abc'", 1.0),
    ('"abc"', "'abc'", 1.0),
    ("[1, 2]", "[1, 2]", 1.0),
    ("[1,2]", "[1, 2]", 0.0),  # exact string comparison
    ("ABC", "'abc'", 0.0),
    ("''", "''", 0.0),  # empty is never correct in the published rule
    ("", "''", 0.0),
])
def test_zeroeval_crux_published_rule(answer: str, gold: str, expected: float) -> None:
    assert ZeroEvalCrux().score(_json(answer), gold).value == expected


def test_zeroeval_crux_newline_fix() -> None:
    out = '{"reasoning": "r", "answer": "a\\nb"}'  # a JSON-escaped newline: the answer holds a newline
    assert extract_answer(out) == "a\nb"
    assert ZeroEvalCrux().score(out, "'a\\nb'").value == 0.0
    assert ZeroEvalCrux(newline_fix=True).score(out, "'a\\nb'").value == 1.0
    assert ZeroEvalCrux(newline_fix=True).score(_json(""), "''").value == 1.0
    assert ZeroEvalCrux(newline_fix=True, empty_matches_empty=False).score(_json(""), "''").value == 0.0
    assert ZeroEvalCrux(newline_fix=True).score(_json(""), "'x'").value == 0.0
    assert ZeroEvalCrux(newline_fix=True).score("no json", "''") == Score(0.0, None, False)


def test_crux_json_values_are_compared_as_python_str() -> None:
    assert ZeroEvalCrux().score('{"answer": true}', "True").value == 1.0
    assert ZeroEvalCrux().score('{"answer": [1, 2]}', "[1, 2]").value == 1.0


# ---------------------------------------------------------------- stricter MATH equivalence


@pytest.mark.parametrize(("prediction", "gold"), [
    ("0.5", "\\frac{1}{2}"),
    ("\\sqrt{2}/2", "\\frac{\\sqrt2}{2}"),
    ("\\dfrac{3}{4}", "\\frac34"),
    ("\\tfrac{1}{3}", "1/3"),
    ("\\left( 1, 2 \\right)", "(1,2)"),
    ("\\left[0, 1\\right)", "[0,1)"),
    ("(-\\infty, 3]", "(-\\infty,3]"),
    ("3\\sqrt{2}", "\\sqrt{18}"),
    ("\\sqrt[3]{8}", "2"),
    ("2\\pi", "\\pi \\cdot 2"),
    ("-\\frac{1}{2}", "-0.5"),
    ("2x+1", "1+2x"),
    ("x^2-1", "(x-1)(x+1)"),
    ("y = 2x + 3", "3 + 2x"),
    ("1, 2, 3", "3, 1, 2"),
    ("\\{1, 2\\}", "\\{2, 1\\}"),
    ("5!", "120"),
    ("10^\\circ", "10"),
    ("50\\%", "50"),
    ("\\$5", "5"),
    ("1,000", "1000"),
    ("1{,}000", "1000"),
    ("10 \\text{ cm}^2", "10"),
    ("\\text{(B)}", "B"),
    ("\\boxed{7}", "7"),
    ("2^{10}", "1024"),
    ("1011_2", "1011_{2}"),
    ("3", "3.0000001"),
])
def test_math_equivalent_accepts(prediction: str, gold: str) -> None:
    assert math_equivalent(prediction, gold)


@pytest.mark.parametrize(("prediction", "gold"), [
    ("3\\sqrt{2}", "3"),
    ("1/3", "0.333"),
    ("(1, 2)", "[1, 2]"),
    ("(-\\infty, 3)", "(-\\infty, 3]"),
    ("x^2+1", "x^2-1"),
    ("2x", "2y"),
    ("12 or 13", "12"),
    ("odd", "dod"),  # words are compared as strings, never as products of letters
    ("1, 2", "1, 2, 3"),
    ("", ""),
])
def test_math_equivalent_rejects(prediction: str, gold: str) -> None:
    assert not math_equivalent(prediction, gold)


def test_latex_value() -> None:
    assert latex_value("\\frac{\\sqrt{2}}{2}") == pytest.approx(2 ** 0.5 / 2)
    assert latex_value("\\frac12") == 0.5
    assert latex_value("x+1") is None and latex_value("blue") is None and latex_value("\\sqrt{-1}") is None


def test_math_equivalence_scorer() -> None:
    scorer = MathEquivalence()
    assert scorer.score(_json("\\dfrac{1}{2}"), "0.5") == Score(1.0, "\\dfrac{1}{2}", True, "0.5")
    assert scorer.score(_json("3\\sqrt{2}"), "3").value == 0.0
    boxed = "Thus the answer is $\\boxed{\\frac{1}{2}}$."
    assert scorer.score(boxed, "0.5") == Score(0.0, None, False)
    assert MathEquivalence(boxed_fallback=True).score(boxed, "0.5") == Score(1.0, "\\frac{1}{2}", True, "0.5")
    assert scorer.score("x" * 100 + "\\boxed{12}", "12", model="Meta-Llama-3.1-8B-Instruct").value == 1.0


# ---------------------------------------------------------------- generic scorers


def test_exact_match() -> None:
    assert ExactMatch().score('{"answer": " Paris. "}', "paris") == Score(1.0, " Paris. ", True, "paris")
    assert ExactMatch().score("Paris", "paris") == Score(1.0, "Paris", False, "paris")  # whole text, no JSON
    assert ExactMatch(case_sensitive=True).score("Paris", "paris").value == 0.0
    assert ExactMatch(extract=False).score('{"answer": "Paris"}', "Paris").value == 0.0
    assert ExactMatch().score("New   York", "new york").value == 1.0


def test_contains() -> None:
    assert Contains().score("The capital is PARIS.", "Paris") == Score(1.0, "Paris", True, "paris")
    assert Contains(case_sensitive=True).score("The capital is PARIS.", "Paris").value == 0.0
    assert Contains().score("anything", "") == Score(0.0, None, False)
    assert Contains().score("New\nYork city", "new york").value == 1.0


def test_regex_scorer() -> None:
    scorer = RegexScorer(r"Answer:\s*(\w+)")
    assert scorer.score("Answer: blue ... Answer: red", "blue") == Score(1.0, "blue", True, "blue")
    last = RegexScorer(r"Answer:\s*(\w+)", last=True)
    assert last.score("Answer: blue ... Answer: red", "red").value == 1.0
    assert RegexScorer(r"\d+").score("it is 42", "42") == Score(1.0, "42", True, "42")
    assert RegexScorer(r"(?P<a>\d+)", group="a").score("x 7", "7").value == 1.0
    assert scorer.score("no match here", "blue") == Score(0.0, None, False)
    with pytest.raises(ConfigError):
        RegexScorer("(unclosed")
    with pytest.raises(ConfigError):
        RegexScorer(r"\d+", group=2)


@pytest.mark.parametrize(("response", "letter"), [
    ('{"reasoning": "...", "answer": "C"}', "C"),
    ('{"reasoning": "...", "answer": "(C) 42"}', "C"),
    ('{"answer": "c. forty-two"}', "C"),
    ("After thinking, the answer is (B).", "B"),
    ("Answer: D", "D"),
    ("**Answer:** A", "A"),
    ("B", "B"),
    ("(a)", "A"),
    ("I think it is about the answer. The answer is C", "C"),
])
def test_multiple_choice_extraction(response: str, letter: str) -> None:
    assert MultipleChoice().letter(response) == letter


def test_multiple_choice_scoring() -> None:
    mc = MultipleChoice()
    assert mc.score('{"answer": "B"}', "(B)") == Score(1.0, "B", True, "B")
    assert mc.score('{"answer": "B"}', "C").value == 0.0
    assert mc.score("Let me think about it.", "B") == Score(0.0, None, False)
    assert mc.score("The answer is E", "A") == Score(0.0, None, False)  # E is not one of A-D
    assert MultipleChoice(10).score("The answer is (J)", "J").value == 1.0
    with pytest.raises(ConfigError):
        mc.score("A", "forty-two")
    with pytest.raises(ConfigError):
        MultipleChoice(1)


def test_passthrough() -> None:
    assert Passthrough().score("True", "") == Score(1.0, "True", True)
    assert Passthrough().score(False, "").value == 0.0  # type: ignore[arg-type]
    assert Passthrough(scale=10).score("7.5", "").value == 0.75
    assert Passthrough(scale=10).score("11", "").value == 1.0
    assert Passthrough().score("n/a", "") == Score(0.0, None, False)
    with pytest.raises(ConfigError):
        Passthrough(scale=0)


def test_score_value_is_validated() -> None:
    with pytest.raises(ConfigError):
        Score(1.5, None, False)


# ---------------------------------------------------------------- batch, tasks, voting


def test_scorers_follow_the_protocol() -> None:
    for scorer in (ExactMatch(), Contains(), RegexScorer("x"), MultipleChoice(), Passthrough(), PassFail(),
                   Numeric(), ZeroEvalMath(), ZeroEvalCrux(), MathEquivalence()):
        assert isinstance(scorer, Scorer)
        assert isinstance(scorer.name, str) and scorer.name
        assert repr(scorer).startswith(type(scorer).__name__)


def test_score_many() -> None:
    boxed = "so $\\boxed{4}$"
    values, answers = score_many(ZeroEvalMath(), [_json("4"), boxed, None, boxed, float("nan")], ["4"] * 5,
                                 ["gpt-4o", "gpt-4o", "gpt-4o", "Meta-Llama-3.1-8B-Instruct", None])
    # a missing response (None, NaN) is missing, never 0; a response without an answer is wrong
    assert values.dtype == np.float64 and np.array_equal(values, [1.0, 0.0, np.nan, 1.0, np.nan], equal_nan=True)
    assert answers == ["4", None, None, "4", None]
    responses = np.array([_json("4"), None], dtype=object)  # numpy / pandas columns work too
    assert np.array_equal(ExactMatch().score_many(responses, np.array(["4", "4"], dtype=object))[0], [1.0, np.nan],
                          equal_nan=True)
    assert ZeroEvalMath().score_many([boxed], ["4"], "Llama-3.1-70B")[0].tolist() == [1.0]
    assert ZeroEvalMath().score_many([], [])[0].shape == (0,)
    with pytest.raises(ConfigError):
        score_many(ExactMatch(), ["a"], ["a", "b"])
    with pytest.raises(ConfigError):
        score_many(ExactMatch(), ["a"], ["a"], ["m1", "m2"])


def test_scorers_are_named_by_the_data_set_not_guessed_from_task_names(caplog) -> None:
    """A user's task called "math" or "gsm8k" is scored by exact match unless a scorer is named."""
    user = TaskScorers()
    for task in ("math", "gsm8k", "mmlu", "crux", "anything"):
        assert isinstance(user.for_task(task), ExactMatch)
    # response "5", reference "5": exact match says 1 (ZeroEval's MATH rule said 0: no JSON answer)
    assert user.for_task("math").score("5", "5").value == 1.0
    assert ZEROEVAL.for_task("math-l5").score("5", "5").value == 0.0
    named = TaskScorers({"math": "numeric", "quiz": "multiple-choice-5"})
    assert isinstance(named.for_task("math"), Numeric) and named.for_task("quiz").n_choices == 5  # type: ignore
    assert isinstance(TaskScorers("numeric").for_task("anything"), Numeric)  # one scorer for every task
    with caplog.at_level("INFO", logger="routerlab.scoring"):
        named.for_task("trivia")
        named.for_task("trivia")
        named.check(["math", "trivia"], "my.csv")
    logged = [r.getMessage() for r in caplog.records]
    assert sum("'trivia' has no scorer named" in m for m in logged) == 1  # once per task
    assert any("'quiz'" in m and "my.csv has no such task" in m for m in logged)


def test_get_scorer_names_and_errors() -> None:
    for name in ("exact-match", "contains", "numeric", "multiple-choice", "passthrough", "pass-fail",
                 "zeroeval-math", "zeroeval-crux", "math-equivalence", "Multiple_Choice-10"):
        assert isinstance(get_scorer(name), Scorer)
    scorer = Numeric(digits=6)
    assert get_scorer(scorer) is scorer
    with pytest.raises(ConfigError, match="unknown scorer 'exactish'.*numeric"):
        get_scorer("exactish")
    with pytest.raises(ConfigError, match="not a scorer"):
        get_scorer(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(("scorer", "same", "different"), [
    (ZeroEvalMath(), [_json("$1,000"), _json("1000.00"), _json("1,000")], [_json("1001")]),
    (ZeroEvalMath(), [_json("3/4"), _json("0.75")], [_json("3/5")]),
    (ZeroEvalCrux(), [_json("'abc'"), _json('"abc"'), _json("abc")], [_json("abd")]),
    (MathEquivalence(), [_json("\\frac{1}{2}"), _json("0.5"), _json("1/2")], [_json("\\frac{1}{3}")]),
    (MultipleChoice(), ["The answer is (b).", _json("B. four"), "b"], ["The answer is C"]),
    (Numeric(), ["so she makes $18.", "#### 18", "The answer is 18.0", _json("18")], ["17 apples"]),
    (ExactMatch(), ["  Paris. ", "paris", _json("PARIS")], ["Lyon"]),
    (PassFail(), ["True", "1", "pass"], ["False"]),
])
def test_each_scorer_exposes_its_normalised_answer(scorer, same, different) -> None:
    keys = {scorer.answer(text) for text in same}
    assert len(keys) == 1 and None not in keys, keys
    assert all(scorer.answer(text) not in keys for text in different)
    # the normalised answer is the one score() records, and a recorded prediction normalises the same way
    assert scorer.score(same[0], "x" if not isinstance(scorer, MultipleChoice) else "A").normalized in keys
    raw = scorer.extract(same[0])
    assert raw is not None and scorer.normalize(raw) in keys


def test_plain_text_has_answers_for_the_generic_scorers() -> None:
    """ZeroEval's rules read JSON only; plain-text data needs a scorer that reads plain text."""
    plain = ["The answer is B", "Answer: 42", "Paris"]
    assert [ZeroEvalMath().answer(t) for t in plain] == [None, None, None]
    assert [MultipleChoice().answer(t) for t in plain] == ["B", None, None]
    assert [Numeric().answer(t) for t in plain] == [None, "42.0", None]
    assert [ExactMatch().answer(t) for t in plain] == ["the answer is b", "answer: 42", "paris"]
    assert Passthrough().answer("7") is None  # a grade is not an answer
    assert PassFail().answer_from_score(1.0) == "pass" and PassFail().answer_from_score(float("nan")) is None


def test_numeric_scorer() -> None:
    s = Numeric()
    assert s.score("Janet makes 9 * 2 = 18 dollars.\n#### 18", "Janet ... #### 18").value == 1.0
    assert s.score("x = \\boxed{\\frac{3}{4}}", "0.75").value == 1.0
    assert s.score("It costs $1,234.50 in total.", "1234.5").value == 1.0
    assert s.score("between 3 and 4, the answer is 4", "3").value == 0.0
    assert s.score("50%", "50").value == 1.0
    assert s.score("one hundred", "100") == Score(0.0, None, False)
    assert s.score("100", "no number in the gold").value == 0.0


def test_voting_agrees_with_scoring() -> None:
    """Two answers that normalise equal must score the same against any gold."""
    answers = ["$1,000", "1000", "1,000.0", "3/4", "0.75", "18 apples", "18"]
    for scorer in (ZeroEvalMath(), Numeric()):
        for gold in ("# 1000", "# 0.75", "# 18"):
            by_key: dict[object, set[float]] = {}
            for answer in answers:
                key = scorer.answer(_json(answer))
                by_key.setdefault(key, set()).add(scorer.score(_json(answer), gold).value)
            assert all(len(values) == 1 for values in by_key.values())


# ---------------------------------------------------------------- docstring examples


@pytest.mark.parametrize("module", ["routerlab.scoring", "routerlab.scoring._base", "routerlab.scoring.arith",
                                    "routerlab.scoring.extract", "routerlab.scoring.zeroeval",
                                    "routerlab.scoring.mathequiv", "routerlab.scoring.tasks",
                                    "routerlab.scoring.numeric"])
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
