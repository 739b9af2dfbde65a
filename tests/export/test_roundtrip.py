"""Issue 16: a routing table exported from the results of a task-labelled strategy routes on its own.

The exported JSON is loaded by the stdlib runtime ``Router`` and every prompt of the data set is replayed
through it *without* its label; its decisions are compared with the experiment's. Before this change the
table had ``"tasks": []`` and every prompt went to the default ("no task matched").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from routerlab import datasets
from routerlab.errors import ConfigError
from routerlab.harness.experiment import Experiment
from routerlab.harness.results import Results
from routerlab.harness.tables import document_from_results
from routerlab.routers import TaskRouter
from routerlab.runtime import Router

ROOT = Path(__file__).resolve().parents[2]


def _task_router(train):
    """The task router fitted on the train half; on the tiny example set (where one model wins every
    task) a hand-made table routing each task elsewhere, so detection matters there too."""
    if train.name.startswith("support_data"):
        from routerlab.routers import RoutingTable

        return TaskRouter(RoutingTable(default="gpt-4o-mini", routes={"gsm": "gpt-4o-mini",
                                                                       "capital": "llama-3.1-8b"}), task_field="task")
    return TaskRouter(task_field="task").fit(train)


def _holdout(ds, seed=0):
    exp = Experiment.holdout(ds, lambda train: {"task": _task_router(train)}, split_seed=seed, models=ds.models[:2])
    return exp.run(progress=False)


def _agreement(doc, results, ds) -> tuple[float, float]:
    """(share of the experiment's prompts the runtime sends where the experiment did, the same over every
    prompt of the data set: routes of its true label, the prompts the table never saw included)."""
    router = Router(json.loads(json.dumps(doc)))  # as loaded from the file
    decided = results.df[results.df["strategy"] == "task"].set_index("prompt_id")["final_model"]
    text = dict(zip(ds.prompts["prompt_id"], ds.prompts["prompt"]))
    seen = np.mean([router.route(text[p]) == m for p, m in decided.items()])
    every = np.mean([router.route(t) == doc["routes"][k] for t, k in zip(ds.prompts["prompt"], ds.prompts["task"])])
    return float(seen), float(every)


@pytest.mark.parametrize("name", ["zeroeval", "routellm", "support_data"])
def test_exported_table_detects_tasks_and_agrees_with_the_experiment(name):
    ds = datasets.load(ROOT / "examples" / "support_data" if name == "support_data" else name)
    if name == "routellm":  # 15k prompts: a stratified quarter keeps the test quick
        ds = ds.filter(prompt_ids=ds.prompts.groupby("task").sample(frac=0.25, random_state=0)["prompt_id"])
    res = _holdout(ds)
    doc = res.routing_table("task", prompts=ds).to_document()
    assert len(set(doc["routes"].values())) > 1, doc["routes"]  # the routes differ: detection is needed
    assert doc["tasks"], "the table must carry task detection"
    assert all(t["patterns"] for t in doc["tasks"])
    seen, every = _agreement(doc, res, ds)
    found = doc["provenance"]["task_detection"]
    assert found["detected_share"] >= 0.9
    assert seen >= 0.95 and every >= 0.95, (seen, every, found)


def test_bundled_results_need_no_prompts_argument(tmp_path):
    """The CLI's path: results of the bundled data set find their prompt texts themselves."""
    ds = datasets.load("zeroeval")
    res = _holdout(ds)
    res.to_parquet(tmp_path / "results.parquet")
    back = Results.load(tmp_path / "results.parquet")
    doc = document_from_results(back, "task")
    seen, every = _agreement(doc, back, ds)
    assert seen >= 0.95 and every >= 0.95
    proc = subprocess.run([sys.executable, "-m", "routerlab.cli", "export", "--results", str(tmp_path / "results.parquet"),
                           "--strategy", "task", "--to", "json", "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    exported = json.loads((tmp_path / "out" / "routing_table.json").read_text())
    assert exported["tasks"] and exported["routes"] == doc["routes"]


def test_refuses_with_a_clear_message_when_tasks_cannot_be_detected():
    ds = datasets.load(ROOT / "examples" / "support_data")
    res = _holdout(ds)
    # results of a user data set: no bundled prompts to learn from
    res.meta["dataset"] = "my_private_set"
    with pytest.raises(ConfigError, match="prompts=") as info:
        res.routing_table("task")
    assert "detection='labels'" in str(info.value)
    # prompts whose text says nothing of the task: nothing can be learnt
    noise = ds.prompts.assign(prompt=[f"request number {i}" for i in range(len(ds.prompts))])
    with pytest.raises(ConfigError, match="cannot be told apart"):
        res.routing_table("task", prompts=noise)
    # an explicit choice to route by label only
    doc = res.routing_table("task", detection="labels").to_document()
    assert doc["tasks"] == [] and "task_detection" not in doc["provenance"]


def test_a_table_with_one_model_needs_no_detection():
    ds = datasets.load(ROOT / "examples" / "support_data")
    res = Experiment(ds, models=["gpt-4o-mini"]).run(progress=False)
    res.meta["dataset"] = "my_private_set"  # would refuse if detection were needed
    doc = res.routing_table("gpt-4o-mini").to_document()
    assert doc["tasks"] == [] and Router(doc).route("anything") == "gpt-4o-mini"
