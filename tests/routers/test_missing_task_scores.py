"""Per-task picks when a model has no score for a whole task (issue 13, QA's RouterBench-shaped table).

Every place that picks a best model per task from a score table must skip a model with no scores for that
task, and a task where no model has a score takes the overall choice and says so.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from routerlab import datasets
from routerlab.providers.replay import ReplayCaller
from routerlab.routers import CascadeRouter, OracleRouter, RoutingTable
from routerlab.routers.defaults import builtin_strategies, frontier_models

HEADER = ("sample_id,prompt,eval_name,oracle_target,modelA,modelA|model_response,modelA|total_cost,"
          "modelB,modelB|model_response,modelB|total_cost\n")
# QA's file: modelA has no outcome on s2, modelB none for the whole task mbpp
QA_ROWS = "s1,Q1,arc,A,1,A,0.001,0,B,0.01\ns2,Q2,arc,B,,,,1,B,0.02\ns3,Q3,mbpp,,0,foo,0.002,,,\n"


@pytest.fixture
def qa_wide(tmp_path: Path) -> Path:
    path = tmp_path / "wide.csv"
    path.write_text(HEADER + QA_ROWS + "s4,Q4,x,,,foo,0.002,,bar,0.01\n")  # task x: responses, no score
    return path


def _big(path: Path, seed: int = 3) -> Path:
    """Three tasks x 24 prompts; modelC has no outcome on task 'code', modelB none on half of 'qa'."""
    rng = np.random.default_rng(seed)
    models = {"modelA": (0.45, 0.001), "modelB": (0.65, 0.01), "modelC": (0.9, 0.04)}
    rows = []
    for task in ("arc", "code", "qa"):
        for i in range(24):
            row = {"sample_id": f"{task}-{i}", "prompt": f"{task} question {i}", "eval_name": task, "oracle_target": "A"}
            for m, (p, c) in models.items():
                absent = (m == "modelC" and task == "code") or (m == "modelB" and task == "qa" and i % 2)
                ok = rng.random() < p
                row |= {m: "" if absent else int(ok), f"{m}|model_response": "" if absent else ("A" if ok else "B"),
                        f"{m}|total_cost": "" if absent else c}
            rows.append(row)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_cascade_plans_a_task_without_the_model_that_has_no_scores_there(tmp_path: Path) -> None:
    ds = datasets.load(_big(tmp_path / "big.csv"))
    c = CascadeRouter(budget=1.0, catalog=ds.catalog).fit(ds)
    assert set(c.stages_) == {"arc", "code", "qa", "*"}  # before: 'code' had no plan (no prompt scored by all)
    assert all("modelC" not in stage for stage in c.stages_for("code"))
    plan = c.plan_.set_index("task")
    assert plan.loc["code", "left_out"] == ["modelC"]
    assert plan.loc["arc", "left_out"] == []
    assert 0 <= plan.loc["code", "train_quality"] <= 1


def test_cascade_fits_a_train_split_where_no_prompt_has_every_model(qa_wide: Path) -> None:
    ds = datasets.load(qa_wide)
    train = ds.filter(prompt_ids=["s2", "s3", "s4"])  # the split that crashed: all-NaN idxmax
    c = CascadeRouter(catalog=ds.catalog).fit(train)
    assert c.stages_for("arc") == [("modelB",)]
    assert c.stages_for("mbpp") == [("modelA",)]
    assert "x" not in c.stages_ and "x" in c.skipped_
    answer = c.answer_sync(ds.request("s4"), ReplayCaller(ds))
    assert "overall plan" in answer.info["reason"] and "'x'" in answer.info["reason"]
    assert "reason" not in c.answer_sync(ds.request("s2"), ReplayCaller(ds)).info


def test_oracle_prompt_without_any_score_takes_the_best_model_overall(qa_wide: Path) -> None:
    ds = datasets.load(qa_wide)
    oracle = OracleRouter(ds, catalog=ds.catalog)
    d = oracle.route(ds.request("s4"))
    # modelA: mean 0.5 over s1, s3; modelB: 0.5 over s1, s2; tie -> cheaper (modelA)
    assert d.model == "modelA" and "no model has a recorded score" in d.reason
    assert list(oracle.route_many(ds.requests())) == ["modelA", "modelB", "modelA", "modelA"]
    assert oracle.route(ds.request("s3")).reason == "oracle: no model was correct: the cheapest model"


def test_learned_task_table_and_frontier_skip_models_without_scores(tmp_path: Path) -> None:
    ds = datasets.load(_big(tmp_path / "big.csv"))
    table = RoutingTable.learn(ds, min_prompts=5)
    stats = table.evidence()
    assert set(stats.loc[stats["task"] == "code", "model"]) == {"modelA", "modelB"}
    assert table.routes["code"] in {"modelA", "modelB"}
    train = ds.filter(tasks=["code"])
    front = frontier_models(train, ds.catalog)
    assert "modelC" not in front.index and front["quality"].notna().all()


def test_default_strategies_fit_on_a_split_missing_a_model_per_task(qa_wide: Path) -> None:
    ds = datasets.load(qa_wide)
    train = ds.filter(prompt_ids=["s2", "s3", "s4"])
    built = builtin_strategies(train, catalog=ds.catalog, evaluation=ds, groups=("default",))
    assert {"oracle", "task", "cascade-agreement"} <= set(built)


def test_cli_run_on_the_qa_wide_table(qa_wide: Path, tmp_path: Path) -> None:
    qa = tmp_path / "qa.csv"
    qa.write_text(HEADER + QA_ROWS)
    done = subprocess.run([sys.executable, "-m", "routerlab.cli", "run", "--no-progress", "--dataset", str(qa), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Encountered all NA" not in done.stderr


@pytest.mark.parametrize("name", ["LearnedRouter", "MFRouter", "ClassifierRouter"])
def test_learned_routers_skip_a_model_with_no_scores_for_the_task(tmp_path: Path, name: str) -> None:
    """modelC has no outcome on task 'code': a learned router must not send 'code' prompts to it (before,
    it routed them by similarity to other tasks, where modelC is the best, and the replay had no answer)."""
    import routerlab.routers as routers

    ds = datasets.load(_big(tmp_path / "big.csv"))
    router = getattr(routers, name)(catalog=ds.catalog, lam=0.0).fit(ds)  # lam 0: the best predicted score
    code = ds.filter(tasks=["code"]).requests()
    picks = list(router.route_many(code))
    assert "modelC" not in picks
    assert picks == [router.route(r).model for r in code]  # one rule, batch or one at a time
    assert "skipped modelC: no train score for task 'code'" in router.route(code[0]).reason
    others = list(router.route_many(ds.filter(tasks=["arc"]).requests()))
    assert "modelC" in others  # elsewhere it is still a candidate (the best model there)
    assert "skipped" not in router.route(ds.filter(tasks=["arc"]).requests()[0]).reason
