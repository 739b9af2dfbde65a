"""LearnedRouter (kNN): the scikit-learn contract, agreement of the two paths, λ and the curve."""

from __future__ import annotations

import numpy as np
import pytest

from routerlab.errors import NotFittedError
from routerlab.routers import LearnedRouter, check_router
from routerlab.types import Request

from fakes import TinyEmbedder


def test_contract_params_not_fitted_and_clone(small_split):
    train, test = small_split
    r = LearnedRouter(TinyEmbedder(), k=8, lam=0.2)
    assert not any(k.endswith("_") for k in vars(r))  # __init__ stores params only
    with pytest.raises(NotFittedError):
        r.route(Request.from_prompt("hi"))
    assert r.fit(train) is r
    assert {"state_", "models_", "lam_", "cost_scale_", "best_params_"} <= set(vars(r))
    assert r.get_params()["k"] == 8 and r.set_params(k=4) is r and r.k == 4
    assert check_router(r, test.filter(prompt_ids=test.prompts["prompt_id"][::10])) == []
    clone = LearnedRouter(**r.get_params())
    with pytest.raises(NotFittedError):
        clone.route_many(test)


def test_lambda_trades_quality_for_cost_on_held_out_prompts(small_split):
    train, test = small_split
    r = LearnedRouter(TinyEmbedder(), k=8, lam="auto", search={}).fit(train)
    assert r.lam_ in r.lambdas and len(r.cv_curve_) == len(r.lambdas)
    curve = r.cost_quality_curve(test, lambdas=[0.0, 0.5, 100.0])
    assert list(curve.columns[:3]) == ["lam", "quality", "cost"]
    costs = curve["cost"].to_numpy()
    assert costs[0] > costs[1] > costs[2]               # a larger λ never costs more here
    assert curve["quality"].iloc[0] > curve["quality"].iloc[2]
    # normalised cost: the most expensive model's mean train cost per prompt is 1
    assert r.state_["C"].mean(axis=0).max() == pytest.approx(1.0)
    p, c = r.predict(test.prompts.head(3))
    assert p.shape == (3, len(r.models_)) and ((p >= 0) & (p <= 1)).all().all() and (c > 0).all().all()


def test_knn_takes_the_k_most_similar_ties_to_the_lowest_column():
    from routerlab.routers.learned import _top_k

    sims = np.array([[0.9, 0.5, 0.5, 0.1], [0.2, 0.2, 0.2, 0.2]])
    assert _top_k(sims, 2).tolist() == [[0, 1], [0, 1]]
    assert _top_k(sims, 3).tolist() == [[0, 1, 2], [0, 1, 2]]
