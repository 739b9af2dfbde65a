"""One validation path: every hole of issue 13 is a DatasetError naming the file, the line (or row, or
record) and the field, whatever the input's format; nothing loaded is silently changed."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from routerlab import datasets
from routerlab.errors import DatasetError

LONG = [
    {"prompt_id": "p1", "task": "qa", "prompt": "2+2?", "reference": "4", "model": "gpt-4o", "response": "4",
     "input_tokens": 5, "output_tokens": 1},
    {"prompt_id": "p1", "task": "qa", "prompt": "2+2?", "reference": "4", "model": "acme-1", "response": "5",
     "input_tokens": 5, "output_tokens": 1},
    {"prompt_id": "p2", "task": "qa", "prompt": "3+3?", "reference": "6", "model": "gpt-4o", "response": "6",
     "input_tokens": 5, "output_tokens": 1},
]


def write(rows: list[dict], path: Path) -> Path:
    """``rows`` as the file type of ``path``; the first data row is line 2 of a CSV, line 1 of a JSONL."""
    df = pd.DataFrame(rows)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        df.to_parquet(path)
    elif path.suffix == ".pkl":
        df.to_pickle(path)
    return path


def first_line(path: Path) -> int:
    return 2 if path.suffix == ".csv" else 1


def where(err: DatasetError, path: Path, row: int, field: str) -> None:
    """The error names the file, the row's line (text formats) or row (binary ones) and the field."""
    msg = str(err)
    assert err.path == str(path) and str(path) in msg, msg
    if path.suffix in (".csv", ".jsonl"):
        assert err.line == first_line(path) + row and f"line {err.line}" in msg, msg
    else:
        assert err.row == row + 1 and f"row {err.row}" in msg, msg
    assert err.field == field and repr(field) in msg, msg


FORMATS = [".csv", ".jsonl", ".parquet", ".pkl"]


# ---------------------------------------------------------------- duplicates and conflicting prompts

@pytest.mark.parametrize("suffix", FORMATS)
def test_duplicate_prompt_and_model_names_both_places(tmp_path, suffix):
    rows = LONG + [dict(LONG[1], response="7")]
    path = write(rows, tmp_path / f"long{suffix}")
    with pytest.raises(DatasetError) as err:
        datasets.load(path)
    where(err.value, path, 3, "prompt_id")
    assert "appears twice" in str(err.value)
    other = f"line {first_line(path) + 1}" if suffix in (".csv", ".jsonl") else "row 2"
    assert other in str(err.value)  # the first occurrence too


@pytest.mark.parametrize("suffix", FORMATS)
def test_one_prompt_id_with_two_texts_is_an_error_not_a_silent_merge(tmp_path, suffix):
    rows = [dict(r) for r in LONG]
    rows[2]["prompt_id"] = "p1"  # p1 now names "3+3?" too
    rows[2]["model"] = "acme-2"
    path = write(rows, tmp_path / f"long{suffix}")
    with pytest.raises(DatasetError) as err:
        datasets.load(path)
    where(err.value, path, 2, "prompt")
    assert "'p1'" in str(err.value) and "different prompt" in str(err.value)


def test_outcomes_that_repeat_prompt_text_must_match_the_prompts_file(tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    pd.DataFrame([{"prompt_id": "p1", "prompt": "2+2?"}]).to_csv(d / "prompts.csv", index=False)
    pd.DataFrame([{"prompt_id": "p1", "prompt": "2+3?", "model": "m", "response": "4"}]).to_csv(
        d / "outcomes.csv", index=False)
    with pytest.raises(DatasetError) as err:
        datasets.load(d)
    where(err.value, d / "outcomes.csv", 0, "prompt")


# ---------------------------------------------------------------- empty files

def test_zero_byte_csv(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match="empty") as err:
        datasets.load(path)
    assert err.value.path == str(path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".pkl", ".jsonl"])
def test_header_only_or_zero_rows(tmp_path, suffix):
    path = tmp_path / f"none{suffix}"
    if suffix == ".csv":
        path.write_text("prompt_id,prompt,model,response\n")
    elif suffix == ".jsonl":
        path.write_text("\n\n")
    else:
        empty = pd.DataFrame({c: pd.Series(dtype=str) for c in ("prompt_id", "prompt", "model", "response")})
        empty.to_parquet(path) if suffix == ".parquet" else empty.to_pickle(path)
    with pytest.raises(DatasetError) as err:
        datasets.load(path)
    assert err.value.path == str(path) and ("no rows" in str(err.value) or "empty" in str(err.value))


def test_empty_directory_table(tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    (d / "prompts.csv").write_text("prompt_id,prompt\n")
    with pytest.raises(DatasetError, match="no rows") as err:
        datasets.load(d)
    assert err.value.path == str(d / "prompts.csv")


# ---------------------------------------------------------------- numbers

@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("field, value, says", [
    ("output_tokens", -3, "whole number of tokens"),
    ("output_tokens", 2.5, "whole number of tokens"),
    ("input_tokens", 1e30, "whole number of tokens"),
    ("output_tokens", "many", "must be a number"),
    ("score", 1.5, "score in [0, 1]"),
    ("score", -0.1, "score in [0, 1]"),
    ("cost", -0.01, "USD per call, >= 0"),
    ("cost", float("inf"), "USD per call"),
    ("latency", -1, "seconds, >= 0"),
    ("sample", 1.5, "whole number"),
])
def test_bad_numbers_name_line_and_field(tmp_path, suffix, field, value, says):
    rows = [dict(r) for r in LONG]
    for r in rows:
        r.setdefault(field, 0)
    rows[1][field] = value
    if suffix == ".parquet" and isinstance(value, str):
        pytest.skip("Parquet cannot hold a string in an integer column")
    if suffix == ".jsonl" and value == float("inf"):
        pytest.skip("JSON has no infinity")
    path = write(rows, tmp_path / f"n{suffix}")
    with pytest.raises(DatasetError) as err:
        datasets.load(path)
    where(err.value, path, 1, field)
    assert says in str(err.value)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".pkl", "frame"])
@pytest.mark.parametrize("field", ["input_tokens", "output_tokens", "cached_tokens", "cost", "latency", "sample"])
@pytest.mark.parametrize("every_row", [True, False])
def test_booleans_are_not_counts_or_amounts(tmp_path, suffix, field, every_row):
    """``"input_tokens": true`` loaded as 1 token (QA, issue 13): a boolean in any numeric field but the
    score is an error naming the line and the field, whether the whole column is boolean or one cell."""
    rows = [dict(r, **{field: True if every_row else 1}) for r in LONG]
    rows[1][field] = True
    bad = 0 if every_row else 1
    if suffix == ".parquet" and not every_row:
        pytest.skip("Parquet cannot hold a boolean in an integer column")
    if suffix == "frame":
        with pytest.raises(DatasetError) as err:
            datasets.load(pd.DataFrame(rows))
        assert err.value.field == field and f"row {bad + 1}" in str(err.value)
    else:
        path = write(rows, tmp_path / f"b{suffix}")
        with pytest.raises(DatasetError) as err:
            datasets.load(path)
        where(err.value, path, bad, field)
    assert "got True (a boolean)" in str(err.value)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_boolean_scores_stay_correctness(tmp_path, suffix):
    rows = [dict(r, score=r["model"] == "gpt-4o") for r in LONG]
    ds = datasets.load(write(rows, tmp_path / f"s{suffix}"))
    assert sorted(ds.outcomes.df["score"].tolist()) == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("suffix", FORMATS)
def test_messages_show_values_plainly(tmp_path, suffix):
    """QA saw ``sample np.int64(0)``: loader messages show values as written, never a numpy repr."""
    rows = [dict(r, sample=0, prompt_id=str(k)) for k, r in enumerate(LONG)]
    rows[2] = dict(rows[1])
    path = write(rows, tmp_path / f"d{suffix}")
    with pytest.raises(DatasetError) as err:
        datasets.load(path)
    msg = str(err.value)
    assert "(prompt_id '1', model 'acme-1', sample 0)" in msg and "np." not in msg


def test_whole_numbers_written_as_floats_are_whole(tmp_path):
    rows = [dict(r, output_tokens=float(r["output_tokens"])) for r in LONG]
    ds = datasets.load(write(rows, tmp_path / "f.jsonl"))
    assert ds.outcomes.df["output_tokens"].tolist() == [1, 1, 1]


# ---------------------------------------------------------------- text and encodings

def test_invalid_utf8_names_the_line(tmp_path):
    for suffix in (".csv", ".jsonl"):
        path = write(LONG, tmp_path / f"u{suffix}")
        path.write_bytes(path.read_bytes().replace(b"3+3", b"3\xff3"))  # in the third data row
        with pytest.raises(DatasetError, match="not valid UTF-8") as err:
            datasets.load(path)
        assert err.value.line == first_line(path) + 2 and err.value.path == str(path)


def test_lone_surrogate_names_line_and_field(tmp_path):
    path = tmp_path / "s.jsonl"
    lines = [json.dumps(r) for r in LONG]
    lines[1] = lines[1].replace('"5"', '"\\ud800"')  # a valid JSON escape, but not a character
    path.write_text("\n".join(lines))
    with pytest.raises(DatasetError, match="surrogate") as err:
        datasets.load(path)
    assert err.value.line == 2 and err.value.field == "response"


def test_lone_surrogate_in_a_dataframe_names_the_row():
    df = pd.DataFrame(LONG)
    df["response"] = pd.Series(["4", "x\ud800", "6"], dtype=object)
    with pytest.raises(DatasetError, match="surrogate") as err:
        datasets.load(df, name="mine")
    assert err.value.row == 2 and err.value.field == "response" and "mine" in str(err.value)


def test_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    path = tmp_path / "bom.csv"
    pd.DataFrame(LONG).to_csv(path, index=False, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    ds = datasets.load(path)
    assert ds.prompts["prompt_id"].tolist() == ["p1", "p2"]


def test_ids_are_kept_as_written(tmp_path):
    rows = [dict(r, prompt_id=i) for r, i in zip(LONG, ["007", "007", "08"])]
    ds = datasets.load(write(rows, tmp_path / "ids.csv"))
    assert ds.prompts["prompt_id"].tolist() == ["007", "08"]  # never renumbered or read as 7


def test_gzipped_files_read_the_same(tmp_path):
    plain = write(LONG, tmp_path / "a.jsonl")
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = datasets.load(plain), datasets.load(packed)
    pd.testing.assert_frame_equal(a.outcomes.df.drop(columns="cost_source"), b.outcomes.df.drop(columns="cost_source"))


# ---------------------------------------------------------------- directories and DataFrames

def _canonical_directory(d: Path, **bad) -> None:
    """A directory whose files already have the expected column types (as the build script writes them)."""
    d.mkdir()
    pd.DataFrame({"prompt_id": ["p1", "p2"], "task": ["qa", "qa"], "prompt": ["a", "b"],
                  "reference": ["1", "2"]}).to_parquet(d / "prompts.parquet")
    out = pd.DataFrame({"prompt_id": ["p1", "p2"], "model": ["gpt-4o", "gpt-4o"], "response": ["1", "3"],
                        "input_tokens": np.array([3, 4], dtype=np.int64),
                        "output_tokens": np.array([1, 1], dtype=np.int64), "score": [np.nan, np.nan]})
    for col, value in bad.items():
        out.loc[1, col] = value
    out.to_parquet(d / "outcomes.parquet")


def test_a_directory_in_canonical_form_is_validated_too(tmp_path):
    _canonical_directory(tmp_path / "ok")
    assert datasets.load(tmp_path / "ok").outcomes.df["score"].tolist() == [1.0, 0.0]
    _canonical_directory(tmp_path / "neg", output_tokens=-5)
    with pytest.raises(DatasetError) as err:
        datasets.load(tmp_path / "neg")
    assert err.value.path == str(tmp_path / "neg" / "outcomes.parquet") and err.value.row == 2
    assert err.value.field == "output_tokens"
    _canonical_directory(tmp_path / "dup", prompt_id="p1")
    with pytest.raises(DatasetError, match="appears twice") as err:
        datasets.load(tmp_path / "dup")
    assert err.value.row == 2


def test_dataframes_go_through_the_same_checks():
    df = pd.DataFrame(LONG)
    assert datasets.load(df).models == ["acme-1", "gpt-4o"]
    bad = df.assign(output_tokens=[1, -1, 1])
    with pytest.raises(DatasetError) as err:
        datasets.load(bad, name="runs")
    assert err.value.row == 2 and err.value.field == "output_tokens" and "runs" in str(err.value)
    prompts = df.drop_duplicates("prompt_id")[["prompt_id", "task", "prompt", "reference"]]
    ds = datasets.from_frames(prompts, df[["prompt_id", "model", "response"]], name="mine")
    assert len(ds) == 2
    with pytest.raises(DatasetError) as err:
        datasets.from_frames(prompts, df.assign(prompt_id=["p1", "p1", "p9"])[["prompt_id", "model", "response"]])
    assert err.value.row == 3 and err.value.field == "prompt_id" and "'p9'" in str(err.value)


def test_required_columns_and_cells(tmp_path):
    path = write([{k: v for k, v in r.items() if k != "model"} | {"modell": "x"} for r in LONG],
                 tmp_path / "c.jsonl")
    with pytest.raises(DatasetError, match="no model columns|missing column 'model'"):
        datasets.load(path, format="long")
    rows = [dict(r) for r in LONG]
    rows[2]["model"] = " "
    with pytest.raises(DatasetError) as err:
        datasets.load(write(rows, tmp_path / "blank.csv"))
    assert err.value.line == 4 and err.value.field == "model"


def test_unknown_format_and_unreadable_things(tmp_path):
    with pytest.raises(DatasetError, match="unknown format"):
        datasets.load(write(LONG, tmp_path / "a.csv"), format="excel")
    with pytest.raises(DatasetError, match="unsupported file type"):
        datasets.load(write(LONG, tmp_path / "a.csv").rename(tmp_path / "a.xlsx"))
    bad = tmp_path / "b.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(DatasetError, match="Parquet") as err:
        datasets.load(bad)
    assert err.value.path == str(bad)
    with pytest.raises(DatasetError, match="no bundled data set or file"):
        datasets.load(tmp_path / "nothing-here.csv")


def test_options_that_do_not_apply_are_errors(tmp_path):
    path = write(LONG, tmp_path / "a.csv")
    with pytest.raises(DatasetError, match="unexpected options \\['metric'\\]"):
        datasets.load(path, metric="acc")
    with pytest.raises(DatasetError, match="models= names the model columns of a wide table"):
        datasets.load(tmp_path, format="directory", models=["x"])
    with pytest.raises(DatasetError, match="for a DataFrame"):
        datasets.load(pd.DataFrame(LONG), filter="strict-match")
