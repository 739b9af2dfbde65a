"""FrugalCascade: stage features by hand, the replayed strategy equals the vectorised curve, and the
threshold is chosen on the train split for the target cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from routerlab.errors import ConfigError, NotFittedError
from routerlab.harness import Experiment
from routerlab.routers import FrugalCascade
from routerlab.routers.frugal import stage_features


def test_stage_features_by_hand():
    # three answers: the first two agree; the third model is the most trusted but outvoted
    codes = np.array([[4, 4, 7], [-1, 2, 3], [-1, -1, -1]])
    lengths = np.array([[10.0, 20.0, 30.0]] * 3)
    x, pick = stage_features(codes, lengths, np.array([1, -1, 0]), 2, np.array([0, 1, 2]), 3,
                             rank=np.array([2.0, 1.0, 0.0]))
    assert pick.tolist() == [1, 2, 0]           # plurality 4 (trusted holder: column 1); a tie: column 2
    assert x[:, 0].tolist() == [2 / 3, 1 / 3, 0.0]          # votes share
    assert x[:, 1].tolist() == [2 / 3, 2 / 3, 0.0]          # distinct answers share
    assert x[:, 2].tolist() == [1.0, 1.0, 0.0]              # an answer was extracted
    assert x[0, 3] == pytest.approx(np.log1p(20.0) / 10)  # length of the picked response
    assert x[:, 4].tolist() == [1.0, 0.0, 0.0]              # at least two agree
    assert x[0, 5:7].tolist() == [0, 1] and x[1, 5:7].tolist() == [0, 0]  # task one-hot, unknown = zeros
    assert x[0, 7:].tolist() == [0, 1, 0] and x[1, 7:].tolist() == [0, 0, 1]  # the answering model


@pytest.fixture(scope="module")
def fitted(small_split):
    train, _ = small_split
    return FrugalCascade(budget=0.2).fit(train)


def test_replayed_strategy_equals_the_vectorised_curve(fitted, small_split):
    _, test = small_split
    sweep = fitted.sweep(test)
    i = int(np.flatnonzero(np.asarray(fitted.thresholds_) == fitted.threshold_)[0])
    res = Experiment(test, {"frugal": fitted}, seed=0).run(progress=False)
    df = res.df.set_index("prompt_id").loc[sweep.prompt_ids]
    assert df["score"].to_numpy() == pytest.approx(sweep.quality[i])
    assert df["cost"].to_numpy() == pytest.approx(sweep.cost[i])
    assert df["final_model"].nunique() >= 2


def test_threshold_is_chosen_on_train_for_the_target_cost(fitted, small_split):
    from routerlab.catalog import Catalog
    from routerlab.routers.baselines import outcome_matrices

    train, _ = small_split
    scores, costs = outcome_matrices(train, Catalog.default())
    best = scores.mean().idxmax()
    limit = 0.2 * float(costs[best].sum())
    assert fitted.stages_[-1] == (best,)  # the ladder ends with the best model on train
    cv = fitted.cv_curve_
    at = cv[cv["threshold"] == fitted.threshold_].iloc[0]
    assert at["cost"] <= limit
    assert at["quality"] == pytest.approx(cv[cv["cost"] <= limit]["quality"].max())  # the best that fits
    assert (fitted.plans_["cv_quality"][fitted.plans_["cv_cost"] <= limit] <= at["quality"] + 1e-12).all()


def test_correct_score_is_frugalgpts_probability(small_split):
    train, test = small_split
    c = FrugalCascade(stages=[("gemini-1.5-flash", "gpt-4o-mini"), "gpt-4o"], score="correct",
                      threshold=0.5).fit(train)
    assert c.stages_ == [("gemini-1.5-flash", "gpt-4o-mini"), ("gpt-4o",)] and c.threshold_ == 0.5
    pts = c.sweep(test, thresholds=[0.0, 0.5, 1.01]).points
    assert pts["cost"].tolist() == sorted(pts["cost"].tolist())  # a stricter threshold escalates more
    assert pts["top_model"].iloc[0] == "gemini-1.5-flash + gpt-4o-mini" and pts["top_model"].iloc[-1] == "gpt-4o"


def test_errors_name_the_problem(small_split):
    train, test = small_split
    with pytest.raises(ConfigError, match="no-such-model"):
        FrugalCascade(stages=["no-such-model", "gpt-4o"]).fit(train)
    with pytest.raises(ConfigError, match="score"):
        FrugalCascade(score="vibes").fit(train)
    with pytest.raises(NotFittedError):
        FrugalCascade().sweep(test)


def test_recorded_answer_keys_equal_the_live_ones(zeroeval):
    """A response with no extractable answer is no vote in planning either (it was the key 'nan', so two
    unanswered responses 'agreed' in the simulation while the live check saw no answer)."""
    from routerlab.routers.cascade import _answer_keys, answer_key, scorers_for
    from routerlab.types import Completion

    ids = zeroeval.prompts.groupby("task", sort=True).head(60)["prompt_id"]
    small = zeroeval.filter(prompt_ids=ids)
    models = ["gemini-1.5-flash", "gpt-4o-mini", "llama-3.1-8b"]
    scorers = scorers_for(None, None, small)
    keys = _answer_keys(small, models, scorers)
    tasks = small.prompts.set_index("prompt_id")["task"]
    live = {(pid, m): answer_key(Completion(text=small.outcomes.response(pid, m), model=m), tasks[pid], scorers)
            for pid in keys.index for m in models}
    assert any(v is None for v in live.values())  # the case exists in the fixture
    assert all(keys.loc[pid, m] == v or (v is None and pd.isna(keys.loc[pid, m])) for (pid, m), v in live.items())
