"""One results-row schema: every path that writes or reads rows gives the same columns, dtypes and values."""

from __future__ import annotations

import doctest
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ConstantRouter, TwoStepStrategy

from routerlab.errors import ConfigError
from routerlab.harness import schema
from routerlab.harness.experiment import Experiment
from routerlab.harness.results import Results
from routerlab.harness.store import MemoryStore, ResultStore

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DTYPES = {c.name: c.dtype for c in schema.COLUMNS}


def _dtypes(df: pd.DataFrame) -> dict[str, str]:
    return {c: str(t) for c, t in df.dtypes.items()}


def test_the_doc_shows_the_schema_the_code_uses():
    doc = (ROOT / "docs" / "results-schema.md").read_text(encoding="utf-8")
    assert schema.markdown_table() in doc
    rows = [line.split(" | ")[0].strip("| ") for line in doc.splitlines()
            if line.startswith("| ") and not line.startswith("| column")]
    assert rows == schema.RESULT_COLUMNS


def test_schema_examples_run():
    assert doctest.testmod(schema).failed == 0


def _mixed_strategies():
    # a prompt-only router (vectorised path), a per-prompt strategy, and one that always fails
    return {"mini": ConstantRouter("gpt-4o-mini"), "two": TwoStepStrategy("gpt-4o-mini", "gpt-4o"),
            "ghost": ConstantRouter("gpt-4-1106-preview")}


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_every_store_reads_rows_back_in_the_schema(tmp_path, gsm_small, store_kind):
    store = MemoryStore() if store_kind == "memory" else ResultStore(tmp_path / "r.sqlite")
    exp = Experiment(gsm_small, _mixed_strategies(), store=store)
    assert _dtypes(store.rows()) == SCHEMA_DTYPES  # an empty store too: the schema's empty frame
    exp.run(progress=False)
    for name in exp.strategies:
        rows = store.rows(exp.config_hash(name), [name])
        assert list(rows.columns) == schema.RESULT_COLUMNS
        assert _dtypes(rows) == SCHEMA_DTYPES, name
        assert len(rows) == len(gsm_small)


def test_memory_and_sqlite_stores_hold_the_same_rows(tmp_path, gsm_small):
    mem = Experiment(gsm_small, _mixed_strategies()).run(progress=False)
    disk = Experiment(gsm_small, _mixed_strategies(), store=tmp_path / "r.sqlite").run(progress=False)
    pd.testing.assert_frame_equal(mem.df, disk.df, check_exact=True)
    ghost = mem.df[mem.df["strategy"] == "ghost"]
    # a unit that got no answer carries the schema's fill values, whichever path wrote it
    for col, fill in schema.FILL.items():
        if col in ("error_type", "error"):
            assert (ghost[col] != "").all()
        elif isinstance(fill, float) and math.isnan(fill):
            assert ghost[col].isna().all(), col
        else:
            assert ghost[col].map(lambda v, f=fill: v == f or (v is None and f is None)).all(), col


def test_an_experiment_with_nothing_stored_has_the_schema_empty_frame(gsm_small):
    exp = Experiment(gsm_small, {"mini": ConstantRouter("gpt-4o-mini")})
    res = exp.results()
    assert len(res) == 0 and _dtypes(res.df) == SCHEMA_DTYPES
    assert res.summary().empty


def test_records_round_trip_through_json_exactly():
    rows = [schema.make_row({"strategy": "s", "prompt_id": f"p{i}", "task": "gsm", "sample": i, "split": "test"},
                            models_called="a|b", final_model="b", answer=None if i else "42", score=float(i % 2),
                            input_tokens=10 + i, output_tokens=3, cost=1e-5 * (i + 1), latency=0.5 + i,
                            ttft=math.nan, simulated_latency=True, cached=bool(i))
            for i in range(3)]
    frame = schema.normalise(pd.DataFrame.from_records(rows))
    back = schema.from_records(json.loads(json.dumps(schema.to_records(rows))))
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back.loc[1, "answer"] is None and back.loc[0, "answer"] == "42"


def test_rows_with_a_wrong_column_are_refused_with_its_name():
    keys = {"strategy": "s", "prompt_id": "p", "task": "t", "sample": 0, "split": "all"}
    with pytest.raises(ConfigError, match="unknown columns \\['latency_ms'\\]"):
        schema.make_row(keys, latency_ms=3.0)
    with pytest.raises(ConfigError, match="missing columns \\['split'\\]"):
        schema.to_records([{k: v for k, v in schema.make_row(keys).items() if k != "split"}])
    with pytest.raises(ConfigError, match="missing columns \\['cost'\\].*results-schema"):
        Results(pd.DataFrame([schema.make_row(keys)]).drop(columns=["cost"]))


def test_csv_keeps_empty_text_empty_and_missing_numbers_missing(tmp_path):
    keys = {"strategy": "s", "prompt_id": "p", "task": "t", "sample": 0, "split": "all"}
    res = Results(pd.DataFrame([schema.make_row(keys, error_type="Timeout", error="slow", cost=0.25),
                                schema.make_row({**keys, "sample": 1}, answer="", score=1.0, latency=2.0)]))
    back = Results.load(res.to_csv(tmp_path / "r.csv"))
    assert _dtypes(back.df) == SCHEMA_DTYPES
    assert back.df.loc[0, "answer"] is None and back.df.loc[0, "final_model"] == ""
    assert np.isnan(back.df.loc[0, "score"]) and back.df.loc[0, "cost"] == 0.25
