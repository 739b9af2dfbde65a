"""Recorded cost wins; models the catalog does not know replay; the Dataset carries its catalog."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from routerlab import datasets
from routerlab.catalog import CAPABILITIES, Catalog
from routerlab.errors import UnknownModelError
from routerlab.harness import Experiment
from routerlab.providers.replay import ReplayCaller
from routerlab.routers import CapabilityRouter, CascadeRouter, FixedRouter, LearnedRouter, OracleRouter

from fakes import TinyEmbedder


def _long(n: int = 40) -> pd.DataFrame:
    """n prompts x 3 models: gpt-4o (priced by the catalog), acme-1 and acme-2 (unknown to it).
    acme-1 records its cost on every row; gpt-4o on every other row (the rest are priced)."""
    rows = []
    rng = np.random.default_rng(1)
    for i in range(n):
        for m, skill in (("gpt-4o", 0.9), ("acme-1", 0.6), ("acme-2", 0.3)):
            right = rng.random() < skill
            rows.append({"prompt_id": f"p{i}", "task": "qa" if i % 2 else "math", "prompt": f"question {i}?",
                         "reference": str(i), "model": m, "response": str(i) if right else "no",
                         "input_tokens": 10, "output_tokens": 2,
                         "cost": 0.002 if m == "acme-1" else (0.05 if m == "gpt-4o" and i % 2 == 0 else None)})
    return pd.DataFrame(rows)


def test_each_row_says_where_its_cost_came_from():
    ds = datasets.load(_long())
    df = ds.outcomes.df.set_index(["prompt_id", "model"])
    assert df.loc[("p0", "gpt-4o"), "cost"] == 0.05 and df.loc[("p0", "gpt-4o"), "cost_source"] == "recorded"
    listed = Catalog.default()["gpt-4o"].cost(10, 2)
    assert df.loc[("p1", "gpt-4o"), "cost"] == listed and df.loc[("p1", "gpt-4o"), "cost_source"] == "catalog"
    assert df.loc[("p1", "acme-1"), "cost"] == 0.002 and df.loc[("p1", "acme-1"), "cost_source"] == "recorded"
    assert np.isnan(df.loc[("p1", "acme-2"), "cost"]) and df.loc[("p1", "acme-2"), "cost_source"] == "unknown"
    no_tokens = datasets.load(_long().drop(columns=["input_tokens", "output_tokens"]))
    src = no_tokens.outcomes.df.set_index(["prompt_id", "model"]).loc[("p1", "gpt-4o"), "cost_source"]
    assert src == "catalog, estimated tokens"


def test_replay_serves_recorded_cost_quality_and_tokens_for_any_model():
    ds = datasets.load(_long())
    caller = ReplayCaller(ds)
    for pid, model, cost in (("p0", "gpt-4o", 0.05), ("p3", "acme-1", 0.002)):
        c = caller.complete_sync(ds.request(pid), model)
        assert c.cost == cost and (c.input_tokens, c.output_tokens) == (10, 2)
    res = Experiment(ds, models=["gpt-4o", "acme-1", "acme-2"]).run(progress=False)
    summary = res.summary()
    assert (res.df["error_type"] == "").all()
    truth = ds.summary()["quality"]
    for m in ("gpt-4o", "acme-1", "acme-2"):
        assert summary.loc[m, "quality"] == pytest.approx(truth[m])
    assert summary.loc["acme-1", "cost"] == pytest.approx(0.002 * 40)
    assert np.isnan(summary.loc["acme-2", "cost"])  # unknown, never a silent 0
    assert res.df.loc[res.df["strategy"] == "acme-2", "latency"].isna().all()  # no profile: missing, not simulated
    assert res.df.loc[res.df["strategy"] == "gpt-4o", "simulated_latency"].all()


def test_features_that_need_catalog_fields_name_the_model_and_the_field():
    ds = datasets.load(_long())
    with pytest.raises(UnknownModelError) as err:
        ReplayCaller(ds, simulate_latency=True).complete_sync(ds.request("p0"), "acme-2")
    assert err.value.model in ("acme-1", "acme-2") and err.value.field == "latency"
    with pytest.raises(UnknownModelError) as err:
        OracleRouter(ds).route(ds.request("p0"))
    assert err.value.model == "acme-2" and err.value.field == "price" and "'price'" in str(err.value)
    assert OracleRouter(ds, candidates=["gpt-4o", "acme-1"]).route(ds.request("p0")).model in ("gpt-4o", "acme-1")
    with pytest.raises(UnknownModelError) as err:
        CapabilityRouter(ds.catalog, candidates=["gpt-4o", "acme-1"]).route(ds.request("p0"))
    assert err.value.model == "acme-1" and err.value.field == "capabilities"
    from routerlab import export

    res = Experiment(ds, models=["acme-1"]).run(progress=False)
    with pytest.raises(UnknownModelError) as err:
        export.document_from_results(res, "acme-1", catalog=ds.catalog)
    assert err.value.model == "acme-1" and "exporting a routing table" in str(err.value)


def _catalog_file(tmp_path, names):
    entry = {"provider": "openai-compatible", "context": "32k",
             "price": {"input": 1.0, "output": 2.0, "as_of": "2026-01-01", "source": "test"},
             "capabilities": {c: 5 for c in CAPABILITIES},
             "latency": {"ttft_p50": 0.2, "ttft_sigma": 0.1, "tps_p50": 100, "tps_sigma": 0.1}}
    f = tmp_path / "cat.yaml"
    f.write_text(yaml.safe_dump({"models": {n: entry for n in names}}))
    return Catalog.default().merge(Catalog.from_file(f))


def test_the_dataset_carries_its_catalog(tmp_path):
    cat = _catalog_file(tmp_path, ["acme-2"])
    ds = datasets.load(_long(), catalog=cat)  # passed once
    assert ds.catalog is cat
    df = ds.outcomes.df.set_index(["prompt_id", "model"])
    assert df.loc[("p1", "acme-2"), "cost"] == pytest.approx((10 * 1.0 + 2 * 2.0) / 1e6)
    assert ReplayCaller(ds).catalog is cat
    assert ReplayCaller(ds, simulate_latency=None).complete_sync(ds.request("p1"), "acme-2").simulated_latency
    assert OracleRouter(ds, candidates=["acme-2", "gpt-4o"]).route(ds.request("p1")).model in ("acme-2", "gpt-4o")
    train, test = ds.split(0.5, seed=0)
    assert train.catalog is cat and test.catalog is cat and train.scorers is ds.scorers
    learned = LearnedRouter(TinyEmbedder(), k=4, lam=0.0, candidates=["gpt-4o", "acme-2"]).fit(train)
    assert set(learned.models_) == {"acme-2", "gpt-4o"}
    cascade = CascadeRouter(candidates=["gpt-4o", "acme-1", "acme-2"], budget=1.0).fit(train)
    assert cascade.plan_ is not None
    # another catalog re-prices list-price rows only; recorded costs stay as recorded
    other = ds.with_catalog(Catalog.default())
    o = other.outcomes.df.set_index(["prompt_id", "model"])
    assert np.isnan(o.loc[("p1", "acme-2"), "cost"]) and o.loc[("p0", "gpt-4o"), "cost"] == 0.05


def test_recorded_latency_is_used_as_recorded():
    df = _long(4).assign(latency=1.25)
    ds = datasets.load(df)
    c = ReplayCaller(ds).complete_sync(ds.request("p0"), "gpt-4o")
    assert c.latency == 1.25 and not c.simulated_latency
    res = Experiment(ds, {"g": FixedRouter("gpt-4o")}).run(progress=False)
    assert (res.df["latency"] == 1.25).all() and not res.df["simulated_latency"].any()


def test_several_samples_replay_by_sample():
    df = _long(6)
    again = df.assign(sample=1, response="changed")
    ds = datasets.load(pd.concat([df.assign(sample=0), again]))
    assert ds.outcomes.n_samples == 2
    caller = ReplayCaller(ds)
    assert caller.complete_sync(ds.request("p0", sample=1), "acme-1").text == "changed"
    assert caller.complete_sync(ds.request("p0", sample=0), "acme-1").text != "changed"
    res = Experiment(ds, {"a": FixedRouter("acme-1")}, samples=3).run(progress=False)
    third = res.df[res.df["sample"] == 2]
    assert (third["error_type"] == "MissingOutcomeError").all() and "2 recorded" in third["error"].iloc[0]
    assert (res.df.loc[res.df["sample"] == 1, "answer"].isin(["changed", None])).all()
