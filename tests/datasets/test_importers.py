"""Importers on files in each tool's documented shape: RouterBench's wide tables, LLMRouterBench /
OpenRouterBench result files, lm-eval sample logs, RouteLLM's eval files; auto-detection.

The real-tool runs (inspect-ai, lm-eval against ``routerlab serve``) are in test_real_tools.py."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from routerlab import datasets
from routerlab.errors import DatasetError
from routerlab.providers.replay import ReplayCaller

SHARED = next((p / "shared" / "datasets" for p in Path(__file__).resolve().parents
               if (p / "shared" / "datasets" / "routellm_evals").is_dir()), None)

# ---------------------------------------------------------------- RouterBench's wide form

MODELS = ["gpt-4-1106-preview", "claude-v2", "meta/llama-2-70b-chat"]


def routerbench_table() -> pd.DataFrame:
    """Four prompts in RouterBench's layout (routerbench_0shot.pkl): ``sample_id``, ``prompt``,
    ``eval_name``, per model ``<model>``, ``<model>|model_response``, ``<model>|total_cost``, and
    ``oracle_model_to_route_to``; one correctness cell left empty, as in the real file."""
    t = {"sample_id": ["arc-challenge.dev.0", "arc-challenge.dev.1", "mbpp.dev.3", "winogrande.dev.7"],
         "prompt": ["Which gas ...? A) O2 B) CO2", "Rocks are ...? A) hot B) cold", "Write a function f(x)", "The trophy ..."],
         "eval_name": ["arc-challenge", "arc-challenge", "mbpp", "winogrande"]}
    scores = {"gpt-4-1106-preview": [1.0, 1.0, 1.0, 1.0], "claude-v2": [1.0, 0.0, np.nan, 1.0],
              "meta/llama-2-70b-chat": [0.0, 0.0, 1.0, 0.0]}
    answers = {"gpt-4-1106-preview": ["The answer is B", "B", "def f(x): return x", "1"],
               "claude-v2": ["B) CO2", "The answer is A", "def f(x): pass", "1"],
               "meta/llama-2-70b-chat": ["I think A", "A.", "def f(x): return x", "2"]}
    for m in MODELS:
        t[m] = scores[m]
        t[f"{m}|model_response"] = answers[m]
        t[f"{m}|total_cost"] = [0.001 * (1 + MODELS.index(m))] * 4
    t["oracle_model_to_route_to"] = ["meta/llama-2-70b-chat", "gpt-4-1106-preview", "meta/llama-2-70b-chat", "claude-v2"]
    return pd.DataFrame(t)


@pytest.mark.parametrize("suffix", [".pkl", ".csv", ".parquet"])
def test_routerbench_wide_table(tmp_path, suffix):
    path = tmp_path / f"routerbench_0shot{suffix}"
    df = routerbench_table()
    if suffix == ".pkl":
        df.to_pickle(path)
    elif suffix == ".csv":
        df.to_csv(path)  # with pandas' unnamed index column, as the published CSV has
    else:
        df.to_parquet(path)
    ds = datasets.load(path)
    # models are the columns with companions: never the index column, sample_id or the oracle column
    assert sorted(ds.models) == sorted(MODELS)
    assert ds.prompts["prompt_id"].tolist() == df["sample_id"].tolist()  # ids kept as written
    assert ds.tasks == ["arc-challenge", "mbpp", "winogrande"]
    assert "oracle_model_to_route_to" in ds.prompts.columns  # kept as prompt metadata, not dropped
    out = ds.outcomes.df.set_index(["prompt_id", "model"])
    # recorded cost as recorded, for models the catalog knows and does not know alike
    assert (ds.outcomes.df["cost_source"] == "recorded").all()
    assert out.loc[("mbpp.dev.3", "claude-v2"), "cost"] == pytest.approx(0.002)
    # the empty correctness cell is missing, never 0, and counted
    assert np.isnan(out.loc[("mbpp.dev.3", "claude-v2"), "score"])
    assert ds.info["missing_scores"] == 1 and ds.summary().loc["claude-v2", "missing"] == 1
    assert ds.summary().loc["claude-v2", "quality"] == pytest.approx(2 / 3)
    assert out.loc[("arc-challenge.dev.1", "gpt-4-1106-preview"), "response"] == "B"


def test_routerbench_replay_uses_recorded_cost_for_unknown_models(tmp_path):
    path = tmp_path / "rb.pkl"
    routerbench_table().to_pickle(path)
    ds = datasets.load(path)
    caller = ReplayCaller(ds)
    c = caller.complete_sync(ds.request("arc-challenge.dev.0"), "claude-v2")
    assert c.cost == pytest.approx(0.002) and c.output_tokens > 0  # tokens counted with cl100k: none recorded
    assert np.isnan(c.latency) and not c.simulated_latency  # claude-v2 has no catalog latency profile
    known = caller.complete_sync(ds.request("arc-challenge.dev.0"), "gpt-4-1106-preview")
    assert known.cost == pytest.approx(0.001)  # recorded, not the list price x tokens
    assert known.simulated_latency and known.latency > 0
    from routerlab.harness import Experiment

    # answers of recorded-score outcomes are read when first needed, by the data set's scorer
    assert not ds.outcomes.df["answer_read"].any()
    assert c.answer == "b) co2"  # exact match (no scorer named): the normalised text
    res = Experiment(ds, models=["claude-v2"]).run(progress=False)
    assert res.df["answer"].notna().all()
    assert ds.answers().notna().all() and ds.outcomes.df["answer_read"].all()  # all read, and kept
    row = res.summary().loc["claude-v2"]
    assert row["missing"] == 1 and row["quality"] == pytest.approx(2 / 3)  # missing is excluded, never 0
    assert row["cost"] == pytest.approx(4 * 0.002)


def test_wide_table_with_models_named_and_plain_score_columns(tmp_path):
    path = tmp_path / "plain.csv"
    pd.DataFrame({"prompt": ["a?", "b?"], "acme": [True, False], "other": [0, 1], "source": ["x", "y"],
                  "notes": ["free text", "more"]}).to_csv(path, index=False)
    ds = datasets.load(path)  # no companion columns: the score-like columns are the models
    assert ds.models == ["acme", "other"] and "source" in ds.prompts.columns and "notes" in ds.prompts.columns
    assert datasets.load(path, models=["acme"]).models == ["acme"]
    with pytest.raises(DatasetError, match="no score column for model 'nope'"):
        datasets.load(path, models=["nope"])
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"prompt": ["a?"], "m": [1.0], "m|total_cost": ["-1"]}).to_csv(bad, index=False)
    with pytest.raises(DatasetError) as err:
        datasets.load(bad)
    assert err.value.field == "m|total_cost" and err.value.line == 2  # named as the file names it


# ---------------------------------------------------------------- LLMRouterBench / OpenRouterBench

def _bench_file(root: Path, model: str, stamp: str, records: list[dict], *, demo: bool = False,
                dataset: str = "aime", split: str = "test") -> Path:
    d = root / "results" / "bench" / dataset / split / model
    d.mkdir(parents=True, exist_ok=True)
    f = d / f"{stamp}.json"
    f.write_text(json.dumps({"dataset_name": dataset, "split": split, "model_name": model, "demo": demo,
                             "records": records}))
    return f


def _record(i: int, pred: str, score: float | None, cost: float) -> dict:
    return {"index": i, "origin_query": f"Q{i}?", "prompt": f"Solve: Q{i}?", "prediction": pred,
            "ground_truth": "42", "score": score, "prompt_tokens": 20 + i, "completion_tokens": 7,
            "cost": cost, "raw_output": f"Reasoning... the answer is {pred}"}


def test_llmrouterbench_result_files(tmp_path):
    _bench_file(tmp_path, "gpt-5", "20250101_100000", [_record(0, "41", 0.0, 0.5), _record(1, "42", 1.0, 0.5)])
    newer = [_record(0, "42", 1.0, 0.25), _record(1, "42", None, 0.25)]
    _bench_file(tmp_path, "gpt-5", "20250301_100000", newer)
    _bench_file(tmp_path, "qwen3-8b", "20250101_100000", [_record(0, "42", 1.0, 0.0), _record(1, "7", 0.0, 0.0)])
    _bench_file(tmp_path, "demo-model", "20250101_100000", [_record(0, "1", 0.0, 0.0)], demo=True)
    ds = datasets.load(tmp_path / "results")
    assert ds.info["format"] == "llmrouterbench" and ds.models == ["gpt-5", "qwen3-8b"]
    assert len(ds.info["superseded_files"]) == 1 and len(ds.info["demo_files_skipped"]) == 1
    out = ds.outcomes.df.set_index(["prompt_id", "model"])
    assert out.loc[("aime/test/0", "gpt-5"), "score"] == 1.0  # the latest file wins
    assert np.isnan(out.loc[("aime/test/1", "gpt-5"), "score"])  # null score: missing, not 0
    assert out.loc[("aime/test/0", "gpt-5"), "cost"] == 0.25 and out.loc[("aime/test/1", "qwen3-8b"), "cost"] == 0.0
    assert out.loc[("aime/test/1", "gpt-5"), "input_tokens"] == 21
    assert out.loc[("aime/test/1", "qwen3-8b"), "normalized"] == "7"  # the tool's prediction, normalised
    assert ds.prompts.set_index("prompt_id").loc["aime/test/1", "origin_query"] == "Q1?"


def _three_then_one(tmp_path, old: str = "20240101_000000", new: str = "20240201_000000") -> tuple[Path, Path]:
    """QA's case: an older run of gpt-4o with 3 records, a newer one with 1 (index 0, now correct)."""
    first = _bench_file(tmp_path, "gpt-4o", old, [_record(i, "41", 0.0, 0.5) for i in range(3)])
    second = _bench_file(tmp_path, "gpt-4o", new, [_record(0, "42", 1.0, 0.25)])
    _bench_file(tmp_path, "acme-7b", "20240101_000000", [_record(i, "42", 1.0, 0.0) for i in range(3)])
    return first, second


def test_superseded_result_files_are_said_not_silently_dropped(tmp_path, caplog):
    first, second = _three_then_one(tmp_path)
    with caplog.at_level(logging.WARNING, logger="routerlab.datasets"):
        ds = datasets.load(tmp_path / "results")
    said = [r.getMessage() for r in caplog.records if "superseded" in r.getMessage()]
    assert len(said) == 1 and first.name in said[0] and second.name in said[0], said
    assert "3 records" in said[0] and "2 of them are in no newer file" in said[0] and "merge=True" in said[0]
    assert ds.info["superseded_records"] == {str(first): 3} and ds.info["superseded_files"] == [str(first)]
    out = ds.outcomes.df
    assert sorted(out.loc[out["model"] == "gpt-4o", "prompt_id"]) == ["aime/test/0"]  # LLMRouterBench's rule


def test_merge_keeps_every_index_newest_record_winning(tmp_path, caplog):
    _three_then_one(tmp_path)
    with caplog.at_level(logging.WARNING, logger="routerlab.datasets"):
        ds = datasets.load(tmp_path / "results", merge=True)
    out = ds.outcomes.df.set_index(["prompt_id", "model"])
    gpt = out.xs("gpt-4o", level="model")
    assert sorted(gpt.index) == ["aime/test/0", "aime/test/1", "aime/test/2"]
    assert gpt.loc["aime/test/0", "score"] == 1.0 and gpt.loc["aime/test/0", "cost"] == 0.25  # the newer record
    assert gpt.loc["aime/test/1", "score"] == 0.0 and ds.info["merged"] is True
    assert any("kept (merge=True)" in r.getMessage() for r in caplog.records)


def test_result_file_order_reads_both_timestamp_spellings_and_mtime(tmp_path):
    """A hyphenated stamp used to fall back to the modification time: a copied tree could read the old run."""
    first, second = _three_then_one(tmp_path, old="20240101-000000", new="20240201-000000")
    os.utime(first, (2_000_000_000, 2_000_000_000))  # the older run copied last
    os.utime(second, (1_000_000_000, 1_000_000_000))
    ds = datasets.load(tmp_path / "results")
    assert ds.info["superseded_files"] == [str(first)]
    unnamed = _bench_file(tmp_path, "gpt-4o", "rerun", [_record(1, "42", 1.0, 0.1)])
    os.utime(unnamed, (2_100_000_000, 2_100_000_000))  # no stamp in the name, written after both
    ds = datasets.load(tmp_path / "results")
    out = ds.outcomes.df
    assert sorted(out.loc[out["model"] == "gpt-4o", "prompt_id"]) == ["aime/test/1"]
    assert set(ds.info["superseded_files"]) == {str(first), str(second)}


def test_an_index_twice_in_one_file_is_reported_even_when_merging(tmp_path):
    f = _bench_file(tmp_path, "m", "20250101_100000", [_record(0, "1", 1.0, 0.0), _record(0, "2", 0.0, 0.0)])
    with pytest.raises(DatasetError, match="appears twice") as err:
        datasets.load(tmp_path / "results", merge=True)
    assert err.value.path == str(f)


def test_one_index_with_two_prompts_across_result_files_is_an_error(tmp_path):
    _bench_file(tmp_path, "a", "20250101_100000", [_record(0, "1", 1.0, 0.0)])
    other = _record(0, "1", 1.0, 0.0) | {"prompt": "Solve: something else?"}
    f = _bench_file(tmp_path, "b", "20250101_100000", [other])
    with pytest.raises(DatasetError, match="different prompt") as err:
        datasets.load(tmp_path / "results")
    assert err.value.path == str(f) and err.value.field == "prompt" and "record 0" in str(err.value)


def test_llmrouterbench_bad_record_names_file_and_record(tmp_path):
    f = _bench_file(tmp_path, "m", "20250101_100000", [_record(0, "1", 2.0, 0.0)])
    with pytest.raises(DatasetError) as err:
        datasets.load(tmp_path / "results")
    assert err.value.path == str(f) and err.value.record == "record 0 (index 0)" and err.value.field == "score"


# ---------------------------------------------------------------- lm-evaluation-harness

def _lm_eval_line(doc_id: int, question: str, answer: str, response: str, extracted: str, filt: str,
                  em: float) -> dict:
    # the shape lm-eval 0.4 writes with --log_samples and --apply_chat_template (see test_real_tools)
    return {"doc_id": doc_id, "doc": {"question": question, "answer": answer}, "target": answer,
            "arguments": {"gen_args_0": {"arg_0": [json.dumps([{"role": "user", "content": question}])],
                                         "arg_1": {"until": ["\n\n"]}}},
            "resps": [[response]], "filtered_resps": [extracted], "filter": filt, "metrics": ["exact_match"],
            "doc_hash": "x", "prompt_hash": "y", "target_hash": "z", "exact_match": em}


def test_lm_eval_samples_in_documented_shape(tmp_path):
    d = tmp_path / "out" / "acme-small"
    d.mkdir(parents=True)
    (d / "results_2025-01-01T00-00-00.000000.json").write_text(json.dumps({"model_name": "acme-small"}))
    lines = [_lm_eval_line(0, "2+3?", "5", "It is 5", "5", "strict-match", 1.0),
             _lm_eval_line(1, "7*6?", "42", "maybe 48", "48", "strict-match", 0.0),
             _lm_eval_line(0, "2+3?", "5", "It is 5", "5", "flexible-extract", 1.0),
             _lm_eval_line(1, "7*6?", "42", "maybe 48", "[invalid]", "flexible-extract", 0.0)]
    f = d / "samples_arith_2025-01-01T00-00-00.000000.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    ds = datasets.load(tmp_path / "out")
    assert ds.models == ["acme-small"] and ds.tasks == ["arith"] and len(ds.outcomes) == 2
    assert ds.info["files"][0]["filter"] == "strict-match" and ds.info["files"][0]["other_filters"] == ["flexible-extract"]
    assert ds.outcomes.df["prediction"].tolist() == ["5", "48"]
    assert ds.prompts["prompt"].tolist() == ["2+3?", "7*6?"]
    flex = datasets.load(f, filter="flexible-extract", model="renamed")
    assert flex.models == ["renamed"] and flex.outcomes.df["prediction"].tolist() == ["5", "[invalid]"]
    with pytest.raises(DatasetError, match="no filter 'nope'"):
        datasets.load(f, filter="nope")
    with pytest.raises(DatasetError, match="no metric field 'acc'"):
        datasets.load(f, metric="acc")


# ---------------------------------------------------------------- RouteLLM's eval files

def test_routellm_files_in_their_shape(tmp_path):
    (tmp_path / "gsm8k").mkdir()
    pd.DataFrame({"prompt": ["Eggs?", "Bolts?"], "mistralai/Mixtral-8x7B-Instruct-v0.1": [True, False],
                  "gpt-4-1106-preview": [True, True],
                  "mistralai/Mixtral-8x7B-Instruct-v0.1_response": ["#### 18", "#### 4"],
                  "gpt-4-1106-preview_response": ["18", "3"]}).to_csv(tmp_path / "gsm8k" / "gsm8k_responses.csv",
                                                                      index=False)
    (tmp_path / "mmlu" / "responses").mkdir(parents=True)
    pd.DataFrame({"prompt": ["Q A B C D"], "mistralai/Mixtral-8x7B-Instruct-v0.1": [False],
                  "gpt-4-1106-preview": [True]}).to_csv(tmp_path / "mmlu" / "responses" / "mmlu_anatomy.csv",
                                                        index=False)
    (tmp_path / "mt_bench").mkdir()
    (tmp_path / "mt_bench" / "question.jsonl").write_text(json.dumps(
        {"question_id": 81, "category": "writing", "turns": ["Write a poem", "Again"]}) + "\n")
    judge = "[The Start of Assistant's Answer]\nRoses are red\n[The End of Assistant's Answer]"
    (tmp_path / "mt_bench" / "judgements.jsonl").write_text("".join(json.dumps(j) + "\n" for j in (
        {"question_id": 81, "model": "gpt-4-1106-preview", "score": 9, "turn": 1, "user_prompt": judge},
        {"question_id": 81, "model": "gpt-4-1106-preview", "score": 3, "turn": 2, "user_prompt": judge})))
    ds = datasets.load(tmp_path)
    assert ds.info["format"] == "routellm"
    assert set(ds.prompts["prompt_id"]) == {"gsm8k-#0", "gsm8k-#1", "mmlu-anatomy-#0", "mtbench-#81"}
    assert ds.models == ["gpt-4-1106-preview", "mixtral-8x7b"]  # as the catalog spells Mixtral
    out = ds.outcomes.df.set_index(["prompt_id", "model"])
    assert out.loc[("mtbench-#81", "gpt-4-1106-preview"), "score"] == 0.9  # turn 1 only, grade / 10
    assert out.loc[("mtbench-#81", "gpt-4-1106-preview"), "response"] == "Roses are red"
    assert out.loc[("gsm8k-#1", "mixtral-8x7b"), "score"] == 0.0


@pytest.mark.skipif(SHARED is None, reason="RouteLLM's raw eval files live in ../shared beside the checkout")
def test_routellm_importer_reproduces_the_bundled_set():
    assert SHARED is not None
    mine = datasets.load(SHARED / "routellm_evals")
    bundled = datasets.load("routellm")
    merged = bundled.outcomes.df.merge(mine.outcomes.df, on=["prompt_id", "model"], suffixes=("_b", "_i"))
    assert len(merged) == len(bundled.outcomes) == len(mine.outcomes) == 30882
    assert (merged["score_b"] == merged["score_i"]).all()


# ---------------------------------------------------------------- detection

def test_detection_and_ambiguity(tmp_path):
    _bench_file(tmp_path / "both", "m", "20250101_100000", [_record(0, "1", 1.0, 0.0)])
    pd.DataFrame({"prompt_id": ["p"], "prompt": ["x"]}).to_csv(tmp_path / "both" / "prompts.csv", index=False)
    with pytest.raises(DatasetError, match="several formats.*directory.*llmrouterbench"):
        datasets.load(tmp_path / "both")
    assert datasets.load(tmp_path / "both", format="openrouterbench").models == ["m"]
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "readme.txt").write_text("hi")
    with pytest.raises(DatasetError, match="cannot tell what this directory holds"):
        datasets.load(tmp_path / "nothing")
