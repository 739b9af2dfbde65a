"""Issue 16, item 10: Results.log_to_mlflow logs parameters, metrics with CIs, the frontier plot and the
routing table to an MLflow run; checked by reading the run back from a local file-store tracking URI."""

from __future__ import annotations

import json

import pytest

from routerlab.harness.experiment import Experiment
from routerlab.routers import CascadeRouter, FixedRouter

mlflow = pytest.importorskip("mlflow")


def test_log_to_mlflow_round_trip(gsm_small, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind an opt-in
    uri = (tmp_path / "mlruns").as_uri()
    strategies = {"mini": FixedRouter("gpt-4o-mini"), "big": FixedRouter("gpt-4o"),
                  "cascade": CascadeRouter(["gpt-4o-mini", "gpt-4o"])}
    res = Experiment(gsm_small, strategies, seed=3).run(progress=False)
    run_id = res.log_to_mlflow(run_name="face-test", experiment="routerlab-tests", tracking_uri=uri)

    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.run_name == "face-test" and run.info.status == "FINISHED"
    s = res.summary()
    m = run.data.metrics
    for name in strategies:
        for col in ("quality", "quality_lo", "quality_hi", "cost_per_1k"):
            assert m[f"{name}.{col}"] == pytest.approx(float(s.loc[name, col]))
        assert m[f"{name}.quality_lo"] <= m[f"{name}.quality"] <= m[f"{name}.quality_hi"]
    p = run.data.params
    assert p["run.dataset"] == "zeroeval" and p["run.seed"] == "3"
    assert p["mini.class"] == "FixedRouter" and p["mini.model"] == "gpt-4o-mini"
    assert any(k.startswith("cascade.") for k in p)
    rec = res.recommend()
    assert run.data.tags["routerlab.recommended"] == rec.strategy
    files = {a.path for a in client.list_artifacts(run_id)}
    assert {"frontier.png", "summary.csv", "summary.md", "routing_table.json", "recommendation.txt"} <= files
    local = client.download_artifacts(run_id, "routing_table.json", str(tmp_path))
    doc = json.loads(open(local).read())
    assert doc["format"] == "routerlab.routing_table" and rec.strategy in json.dumps(doc["provenance"])
    png = client.download_artifacts(run_id, "frontier.png", str(tmp_path))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_logs_into_the_active_run(gsm_small, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    mlflow.set_experiment("routerlab-active-run")
    res = Experiment(gsm_small, models=["gpt-4o-mini"]).run(progress=False)
    with mlflow.start_run() as outer:
        assert res.log_to_mlflow() == outer.info.run_id
        assert mlflow.active_run() is not None  # not ended under the caller's feet
