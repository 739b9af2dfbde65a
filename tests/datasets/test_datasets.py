from __future__ import annotations

import json

import pandas as pd
import pytest

from routerlab import datasets
from routerlab.errors import DatasetError, MissingOutcomeError


def test_bundled_zeroeval_shape(zeroeval):
    assert len(zeroeval) == 2840
    assert zeroeval.tasks == ["crux", "gsm", "math-l5"]
    assert len(zeroeval.models) == 9
    assert len(zeroeval.outcomes) == 2840 * 9
    df = zeroeval.outcomes.df
    assert (df["input_tokens"] > 0).all() and (df["output_tokens"] >= 0).all()
    assert df["score"].between(0, 1).all()


def test_bundled_routellm_loads_recorded_scores():
    ds = datasets.load("routellm")
    assert set(ds.tasks) == {"gsm8k", "mmlu", "mt-bench"}
    assert ds.models == ["gpt-4-1106-preview", "mixtral-8x7b"]
    gsm = ds.outcomes.df[ds.outcomes.df["prompt_id"].str.startswith("gsm8k")]
    acc = gsm.groupby("model")["score"].mean()
    assert acc["gpt-4-1106-preview"] > acc["mixtral-8x7b"]


def test_split_is_seeded_and_stratified(zeroeval):
    a_train, a_test = zeroeval.split(0.5, seed=3)
    b_train, b_test = zeroeval.split(0.5, seed=3)
    assert a_test.prompts["prompt_id"].tolist() == b_test.prompts["prompt_id"].tolist()
    assert set(a_train.prompts["prompt_id"]).isdisjoint(a_test.prompts["prompt_id"])
    per_task = a_test.prompts.groupby("task").size() / zeroeval.prompts.groupby("task").size()
    assert per_task.between(0.49, 0.51).all()
    _, c_test = zeroeval.split(0.5, seed=4)
    assert c_test.prompts["prompt_id"].tolist() != a_test.prompts["prompt_id"].tolist()


def test_missing_outcome_error_is_clear(zeroeval):
    with pytest.raises(MissingOutcomeError, match="recorded models"):
        zeroeval.outcomes.record("gsm8k-main-test-#0", "gpt-5")


def _long_rows():
    return [
        {"prompt_id": "p1", "task": "qa", "prompt": "2+2?", "reference": "4", "model": "gpt-4o", "response": "4"},
        {"prompt_id": "p1", "task": "qa", "prompt": "2+2?", "reference": "4", "model": "gpt-4o-mini", "response": "5"},
        {"prompt_id": "p2", "task": "qa", "prompt": "3+3?", "reference": "6", "model": "gpt-4o", "response": "6"},
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_user_long_form_files(tmp_path, fmt):
    df = pd.DataFrame(_long_rows())
    path = tmp_path / f"runs.{fmt}"
    if fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in _long_rows()))
    elif fmt == "csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path)
    ds = datasets.load(path)
    assert len(ds) == 2 and ds.models == ["gpt-4o", "gpt-4o-mini"]
    scores = ds.outcomes.df.set_index(["prompt_id", "model"])["score"]
    assert scores[("p1", "gpt-4o")] == 1.0 and scores[("p1", "gpt-4o-mini")] == 0.0
    assert (ds.outcomes.df["input_tokens"] > 0).all()  # counted with cl100k when absent


def test_user_wide_form_routerbench_style(tmp_path):
    path = tmp_path / "wide.csv"
    pd.DataFrame({"prompt": ["a?", "b?"], "gpt-4o": [True, False], "llama-3.1-8b": [False, False],
                  "gpt-4o_response": ["A", "B"]}).to_csv(path, index=False)
    ds = datasets.load(path)
    assert ds.outcomes.matrix("score").loc["wide-#0", "gpt-4o"] == 1.0
    assert ds.outcomes.response("wide-#1", "gpt-4o") == "B"


def test_malformed_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(r) for r in _long_rows()]
    lines.insert(2, '{"prompt_id": "p9", "model": ')
    path.write_text("\n".join(lines))
    with pytest.raises(DatasetError) as err:
        datasets.load(path)
    assert str(path) in str(err.value) and "line 3" in str(err.value)
    assert err.value.line == 3


def test_missing_field_names_line_and_field(tmp_path):
    rows = _long_rows()
    rows[2]["prompt"] = ""
    path = tmp_path / "missing.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DatasetError) as err:
        datasets.load(path)
    assert err.value.field == "prompt" and err.value.line == 3 and str(path) in str(err.value)


def test_models_the_catalog_does_not_know_load_in_both_forms(tmp_path):
    path = tmp_path / "wide.csv"
    pd.DataFrame({"prompt": ["a?"], "gpt-4o": [True], "my-secret-model": [False]}).to_csv(path, index=False)
    ds = datasets.load(path)
    assert ds.models == ["gpt-4o", "my-secret-model"]
    rows = _long_rows()
    rows[1]["model"] = "gpt-9"
    path = tmp_path / "long.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert datasets.load(path).models == ["gpt-4o", "gpt-9"]


def test_bad_number_names_field(tmp_path):
    rows = _long_rows()
    for r in rows:
        r["output_tokens"] = 5
    rows[0]["output_tokens"] = "many"
    path = tmp_path / "n.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DatasetError) as err:
        datasets.load(path)
    assert err.value.field == "output_tokens" and err.value.line == 1


def test_unknown_bundled_name_lists_bundled():
    with pytest.raises(DatasetError, match="zeroeval"):
        datasets.load("no-such-set")
