"""A routing table exported from results is what the table itself does, not what the strategy did.

Before: exporting the oracle gave a table routing every task to the cheapest model and recorded the
oracle's quality (0.916 where the table scores 0.306); a cascade's or a random router's table recorded the
strategy's numbers with no word that the table routes differently. Now the oracle is refused, and a table
that reproduces less than every decision records its own quality and cost (from the routed models' own
answers), keeps the strategy's beside them, and warns.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from routerlab.errors import ConfigError
from routerlab.harness.experiment import Experiment
from routerlab.harness.tables import document_from_results
from routerlab.routers import FixedRouter, OracleRouter, RandomRouter, RoutingTable, TaskRouter

MODELS = ["gpt-4o", "gpt-4o-mini", "llama-3.1-8b"]


@pytest.fixture(scope="module")
def results(zeroeval):
    ids = np.concatenate([zeroeval.prompts.loc[zeroeval.prompts["task"] == t, "prompt_id"].to_numpy()[:40]
                          for t in ("gsm", "crux", "math-l5")])
    ds = zeroeval.filter(prompt_ids=ids)
    table = RoutingTable(default="gpt-4o", routes={"gsm": "gpt-4o-mini", "crux": "gpt-4o", "math-l5": "gpt-4o"})
    strategies = {m: FixedRouter(m) for m in MODELS} | {
        "task": TaskRouter(table, task_field="task"), "random": RandomRouter(MODELS, seed=1), "oracle": OracleRouter(ds)}
    return Experiment(ds, strategies).run(progress=False)


def _quality_by_hand(results, routes):
    df = results.df
    alone = df[df["strategy"].isin(MODELS)].set_index(["prompt_id", "final_model"])["score"]
    mine = df[df["strategy"] == "random"]
    return float(np.mean([alone[(p, routes[t])] for p, t in zip(mine["prompt_id"], mine["task"])]))


def test_the_oracle_is_refused_it_reads_the_answers(results):
    with pytest.raises(ConfigError, match="reads the recorded answers"):
        document_from_results(results, "oracle", detection="labels")


def test_a_table_that_differs_from_its_strategy_records_its_own_numbers_and_warns(results):
    with pytest.warns(UserWarning, match=r"reproduces \d+\.\d% of its decisions"):
        doc = document_from_results(results, "random", detection="labels")
    prov = doc["provenance"]
    routed = results.df[results.df["strategy"] == "random"]
    agreement = (routed["final_model"] == routed["task"].map(doc["routes"]).fillna(doc["default"])).mean()
    assert prov["agreement_with_strategy"] == pytest.approx(agreement, abs=1e-4) and agreement < 0.9
    assert prov["metrics"]["quality"] == pytest.approx(_quality_by_hand(results, doc["routes"]))
    assert prov["metrics"]["measured_share"] == 1.0
    assert prov["strategy_metrics"]["quality"] == pytest.approx(routed["score"].mean())
    assert prov["metrics"]["quality"] != pytest.approx(prov["strategy_metrics"]["quality"])
    assert set(prov["per_task"]) == {"gsm", "crux", "math-l5"} and "strategy_per_task" in prov


def test_a_table_that_is_its_strategy_keeps_the_strategys_numbers_silently(results):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = document_from_results(results, "task", detection="labels")
    prov = doc["provenance"]
    assert prov["agreement_with_strategy"] == 1.0 and "strategy_metrics" not in prov
    task_rows = results.df[results.df["strategy"] == "task"]
    assert prov["metrics"]["quality"] == pytest.approx(task_rows["score"].mean())


def test_without_the_routed_models_own_answers_the_quality_is_unknown_not_invented(results):
    only = results.select(["random", "task"])  # no fixed strategies: the models answered alone only where chosen
    with pytest.warns(UserWarning, match="unknown"):
        doc = document_from_results(only, "random", detection="labels")
    m = doc["provenance"]["metrics"]
    assert m["quality"] is None and m["cost"] is None and 0 < m["measured_share"] < 1  # a biased subset: not used
