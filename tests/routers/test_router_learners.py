"""The learned router families: decisions against hand computations on a small fixture, the
scikit-learn contract, one decision in every path (route, route_many, the vectorised curve), and
honest evaluation (nothing is fitted on test prompts)."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pandas as pd
import pytest

from routerlab.catalog import Catalog
from routerlab.datasets import Dataset, Outcomes
from routerlab.embeddings import HashingEmbedder
from routerlab.errors import ConfigError, NotFittedError
from routerlab.routers import (CalibratedCapabilityRouter, ClassifierRouter, ClusterRouter, FrugalCascade,
                               LearnedRouter, MFRouter, UtilityRouter, check_params, check_router)
from routerlab.types import Request

from fakes import TinyEmbedder

CHEAP, DEAR = "gpt-4o-mini", "gpt-4o"
FAMILIES = [LearnedRouter, MFRouter, ClusterRouter, ClassifierRouter, CalibratedCapabilityRouter]


def topics_dataset(n_per_topic: int = 12) -> Dataset:
    """Two kinds of prompt: on 'apples' prompts both models are right; on 'quantum' prompts only the
    dear one is. Token counts are equal, so the dear model always costs more (catalog prices)."""
    rows, outs = [], []
    for topic, cheap_right in (("apples", 1.0), ("quantum", 0.0)):
        for i in range(n_per_topic):
            pid = f"{topic}-{i}"
            words = (f"{topic} " * 3 + f"question number {i} about {topic}").strip()
            rows.append({"prompt_id": pid, "task": topic, "prompt": words, "reference": "x"})
            for model, score in ((CHEAP, cheap_right), (DEAR, 1.0)):
                outs.append({"prompt_id": pid, "model": model, "response": "r", "input_tokens": 100,
                             "output_tokens": 100, "score": score})
    return Dataset("topics", pd.DataFrame(rows), Outcomes(pd.DataFrame(outs)))


def _fit(cls, data, **kw):
    extra = {"n_clusters": 2, "prior": 0.0} if cls is ClusterRouter else {}
    extra.update({"k": 4, "prior": 0.0} if cls is LearnedRouter else {})
    return cls(TinyEmbedder(), lam=0.5, search={}, **{**extra, **kw}).fit(data)


@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
def test_each_family_sends_easy_prompts_to_the_cheap_model_and_hard_ones_to_the_dear(cls):
    data = topics_dataset()
    r = _fit(cls, data)
    easy = Request.from_prompt("apples apples apples question about apples", task="apples")
    hard = Request.from_prompt("quantum quantum quantum question about quantum", task="quantum")
    assert r.route(easy).model == CHEAP and r.route(hard).model == DEAR
    p, c = r.predict([easy, hard])
    assert p.loc[0, CHEAP] > p.loc[1, CHEAP] and (c[DEAR] > c[CHEAP]).all()
    # λ large enough: the cheap model everywhere; λ = 0 and a tie in quality: the cheaper model wins
    assert set(r.set_params(lam=1e6).route_many([easy, hard])) == {CHEAP}


def test_knn_prediction_is_the_similarity_weighted_mean_by_hand():
    data = topics_dataset(4)
    r = LearnedRouter(TinyEmbedder(), k=3, prior=1.0, lam=0.0, search={}, task_field=None).fit(data)
    query = "apples question about quantum"
    emb = TinyEmbedder()
    train = emb.embed(data.prompts["prompt"].tolist())
    sims = np.round(train @ emb.embed([query])[0], 6)
    top = np.argsort(-sims, kind="stable")[:3]
    w = np.maximum(sims[top], 0)
    cheap = data.outcomes.matrix()[CHEAP].loc[data.prompts["prompt_id"]].to_numpy()
    expected = (w @ cheap[top] + 1.0 * cheap.mean()) / (w.sum() + 1.0)
    p, _ = r.predict([query])
    assert p.loc[0, CHEAP] == pytest.approx(expected, abs=1e-6)


def test_cluster_table_is_the_per_cluster_mean_and_capabilities_are_fitted():
    data = topics_dataset()
    r = _fit(ClusterRouter, data)
    table = r.cluster_table_
    assert sorted(table[CHEAP].round(6).tolist()) == [0.0, 1.0] and (table[DEAR] == 1.0).all()
    assert table["prompts"].sum() == len(data)
    caps = _fit(CalibratedCapabilityRouter, data).capabilities_
    assert list(caps.columns) == ["overall", "apples", "quantum"]
    assert caps.loc[DEAR, "overall"] > caps.loc[CHEAP, "overall"]
    assert caps.loc[CHEAP, "apples"] > caps.loc[CHEAP, "quantum"]


@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
def test_contract_and_every_path_decides_the_same(cls, small_split):
    train, test = small_split
    r = cls(HashingEmbedder(dim=64), lam="auto")
    assert not any(k.endswith("_") for k in vars(r))  # __init__ stores parameters only
    with pytest.raises(NotFittedError):
        r.route(Request.from_prompt("hi"))
    assert r.fit(train) is r and r.lam_ in r.lambdas and r.cv_curve_ is not None
    assert check_router(r, test.filter(prompt_ids=test.prompts["prompt_id"][::15])) == []
    with pytest.raises(NotFittedError):
        cls(**r.get_params()).route_many(test)
    # the curve in one vectorised pass equals routing at each λ
    lams = [0.0, r.lam_, 5.0]
    sweep = r.sweep(test, lambdas=lams)
    scores = test.outcomes.matrix().loc[sweep.prompt_ids]
    for i, lam in enumerate(lams):
        picks = r.set_params(lam=lam).fit(train).route_many(test.filter(prompt_ids=sweep.prompt_ids))
        got = scores.to_numpy()[np.arange(len(picks)), [list(scores.columns).index(m) for m in picks]]
        assert got.mean() == pytest.approx(sweep.points["quality"][i])
        assert (sweep.models[sweep.picks[i]] == picks).all()


def test_whole_curve_trades_quality_for_cost(small_split):
    train, test = small_split
    r = ClassifierRouter(HashingEmbedder(dim=64)).fit(train)
    pts = r.cost_quality_curve(test)
    assert len(pts) == len(r.lambdas) and list(pts.columns[:3]) == ["lam", "quality", "cost"]
    assert pts["cost"].iloc[0] > pts["cost"].iloc[-1] and pts["quality"].iloc[0] > pts["quality"].iloc[-1]
    assert pts["models_used"].iloc[-1] == 1  # λ = 1000: only the cheapest model


def test_cross_validation_chooses_hyper_parameters_on_train_only(small_split):
    train, _ = small_split
    r = LearnedRouter(HashingEmbedder(dim=64), search={"k": [2, 64]}).fit(train)
    assert r.best_params_["k"] in (2, 64) and r.state_["k"] == r.best_params_["k"]
    assert r.k == 32  # the constructor's value is left as given (scikit-learn's contract)


def test_bad_parameters_name_the_parameter(small_split):
    train, _ = small_split
    with pytest.raises(ConfigError, match="lam"):
        MFRouter(lam=-1).fit(train)
    with pytest.raises(ConfigError, match="search names 'bogus'"):
        ClusterRouter(search={"bogus": [1]}).fit(train)
    with pytest.raises(ConfigError, match="estimator"):
        ClassifierRouter(estimator="svm").fit(train)
    with pytest.raises(ConfigError, match="at least 2 prompts"):
        LearnedRouter(candidates=["gpt-4o", "no-such-model"]).fit(train.filter(prompt_ids=train.prompts["prompt_id"][:1]))


def _poisoned(ds: Dataset, test_ids) -> Dataset:
    """``ds`` with every test prompt's outcomes inverted (score 1 - s, tokens x 50)."""
    df = ds.outcomes.df.copy()
    hit = df["prompt_id"].isin(set(test_ids))
    df.loc[hit, "score"] = 1.0 - df.loc[hit, "score"]
    df.loc[hit, ["input_tokens", "output_tokens"]] *= 50
    return Dataset(ds.name, ds.prompts, Outcomes(df), dict(ds.info))


def test_poisoning_the_test_outcomes_changes_nothing_that_was_fitted(zeroeval):
    from routerlab.routers import FrugalCascade

    ids = zeroeval.prompts.groupby("task", sort=True).head(80)["prompt_id"]
    small = zeroeval.filter(prompt_ids=ids)
    train, test = small.split(test_size=0.5, seed=0)
    poisoned_train, poisoned_test = _poisoned(small, test.prompts["prompt_id"]).split(test_size=0.5, seed=0)
    assert (poisoned_test.outcomes.df["score"].to_numpy() != test.outcomes.df["score"].to_numpy()).any()
    for make in (lambda: LearnedRouter(), lambda: ClusterRouter(), lambda: CalibratedCapabilityRouter(),
                 lambda: MFRouter(), lambda: ClassifierRouter()):
        a, b = make().fit(train), make().fit(poisoned_train)
        assert (a.lam_, a.best_params_) == (b.lam_, b.best_params_)
        assert (a.route_many(test) == b.route_many(test)).all()
    a, b = FrugalCascade().fit(train), FrugalCascade().fit(poisoned_train)
    assert (a.stages_, a.threshold_) == (b.stages_, b.threshold_)
    assert a.cv_curve_.equals(b.cv_curve_)


def test_features_are_fitted_once_and_shared_across_routers(small_split):
    from routerlab import embeddings

    train, _ = small_split
    embeddings.clear_feature_cache()
    a = LearnedRouter(search={}, lam=0.1).fit(train)
    b = ClassifierRouter(search={}, lam=0.1).fit(train)
    assert a.featurizer_ is b.featurizer_ and len(embeddings._FITTED) == 1
    assert len(embeddings._FEATURES) == 1  # the train features: computed with the fit, then reused


def test_default_featuriser_is_tfidf_with_svd(small_split):
    train, _ = small_split
    r = LearnedRouter(search={}, lam=0.1).fit(train)
    f = r.featurizer_
    assert type(f).__name__ == "TfidfFeaturizer" and f.svd == 128 and f.dim <= 128
    x = f.transform(["What is 2+2?"])
    assert x.shape == (1, f.dim) and np.linalg.norm(x) == pytest.approx(1.0, abs=1e-5)
    assert Catalog.default() is not None


def test_lambda_rule_by_hand():
    """Within the budget, the best quality at least one standard error above the single models' hull."""
    r = LearnedRouter(budget=1.0)
    r.single_points_ = pd.DataFrame({"quality": [0.5, 0.8], "cost": [1.0, 10.0]}, index=["cheap", "dear"])
    r.n_train_ = 100
    curve = pd.DataFrame({"lam": [0.0, 1.0, 2.0, 3.0], "quality": [0.9, 0.81, 0.70, 0.66], "cost": [12, 9, 5, 2.0]})
    # λ=0 costs 12 > 10; λ=1: hull(9) = 0.7667, gain 0.043 > se 0.039
    assert r._pick_lambda(curve) == 1.0
    curve.loc[1, "quality"] = 0.79  # gain 0.023 < se 0.041: λ=2 (gain 0.067 > se 0.046) instead
    assert r._pick_lambda(curve) == 2.0
    curve["quality"] = [0.9, 0.70, 0.60, 0.52]  # nothing above the hull: the best quality within the budget
    assert r._pick_lambda(curve) == 1.0
    curve.loc[3, "quality"] = 0.55  # 0.017 above the hull at cost 2, under one standard error (0.050)
    assert r._pick_lambda(curve) == 3.0
    curve["cost"] = [40.0, 30.0, 20.0, 11.0]  # nothing within the budget: the cheapest point
    assert r._pick_lambda(curve) == 3.0


def test_export_reduces_any_family_to_its_per_task_table(small_split):
    from routerlab.routers import FrugalCascade
    from routerlab.routers.document import document_from_router

    train, test = small_split
    r = ClassifierRouter(HashingEmbedder(dim=64), lam=0.5, search={}).fit(train)
    doc = document_from_router(r, data=test)
    assert doc["learned"]["exportable"] is False and doc["learned"]["thresholds"]["lam"] == 0.5
    assert "ClassifierRouter over prompt features" in doc["learned"]["note"]
    picks = r.route_many(test)
    top = {t: max(set(picks[test.prompts["task"] == t]), key=list(picks[test.prompts["task"] == t]).count)
           for t in test.tasks}
    assert doc["routes"] == top
    with pytest.raises(ConfigError, match="not exportable"):
        document_from_router(FrugalCascade(stages=["gpt-4o-mini", "gpt-4o"]).fit(train))


def test_feature_cache_is_bounded_by_count_and_bytes(monkeypatch):
    from routerlab import embeddings

    embeddings.clear_feature_cache()
    monkeypatch.setattr(embeddings, "_MAX_FEATURE_BYTES", 3 * 64 * 4 * 10)  # three 10-text matrices
    e = HashingEmbedder(dim=64)
    for i in range(5):
        embeddings.features(e, [f"text {i} {j}" for j in range(10)])
    assert len(embeddings._FEATURES) == 3  # the oldest two evicted
    big = embeddings.features(e, [f"long {j}" for j in range(100)])  # alone over the bound: still kept
    assert len(embeddings._FEATURES) == 1 and big.shape == (100, 64) and not big.flags.writeable
    embeddings.clear_feature_cache()


# --- the params mechanism (issue 11): every learned family is declared like every other router -------
FITTED_FAMILIES = FAMILIES + [FrugalCascade]


@pytest.mark.parametrize("cls", FITTED_FAMILIES, ids=lambda c: c.__name__)
def test_each_family_declares_its_parameters_as_dataclass_fields(cls):
    """The common parameters once on UtilityRouter, the family's own keyword-only after them, ``name`` a
    plain default: __init__ is the dataclass's and stores what it is given, nothing else."""
    sig = inspect.signature(cls)
    positional = [p.name for p in sig.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == (["featurizer"] if cls is not FrugalCascade else ["stages"])
    # the dataclass's generated __init__ (compiled from "<string>"), not one written by hand in a module
    assert dataclasses.is_dataclass(cls) and cls.__init__.__code__.co_filename == "<string>"
    assert sig.parameters["name"].default == cls().name and isinstance(cls().name, str) and cls().name
    if cls is not FrugalCascade:
        common = [f.name for f in dataclasses.fields(UtilityRouter)]
        assert list(sig.parameters)[:len(common)] == common
    built = cls(lam=-1, search={"bogus": [1]}) if cls is not FrugalCascade else cls(budget=-1, cv=0)
    assert not [k for k in vars(built) if k.endswith("_") or not k.startswith("_")
                if k not in sig.parameters]  # nothing learned or derived before fit
    assert check_params(built) == []  # even with bad values: checks wait for the first use


@pytest.mark.parametrize("cls, bad, message", [
    (LearnedRouter, {"k": 0}, "k must be a positive integer"),
    (LearnedRouter, {"search": {"k": [4, -1]}}, "k must be a positive integer, got -1"),
    (MFRouter, {"lam": -1}, "lam must be a number >= 0"),
    (MFRouter, {"lam": True}, "lam must be a number"),
    (ClusterRouter, {"search": {"bogus": [1]}}, "search names 'bogus'"),
    (ClusterRouter, {"search": {"n_clusters": [0]}}, "n_clusters must be a positive integer"),
    (ClassifierRouter, {"estimator": "svm"}, "estimator"),
    (CalibratedCapabilityRouter, {"C": 0}, "C must be a number > 0"),
    (LearnedRouter, {"budget": 0}, "budget must be a number > 0"),
    (MFRouter, {"cv": 1}, "cv must be an integer >= 2"),
    (FrugalCascade, {"score": "vibes"}, "score must be 'gain' or 'correct'"),
    (FrugalCascade, {"C": -1}, "C must be a number > 0"),
    (FrugalCascade, {"stages": "gpt-4o"}, "non-empty list of stages"),
])
def test_validate_checks_a_family_before_fit_and_set_params_rearms_it(cls, bad, message):
    from routerlab.harness import Experiment

    with pytest.raises(ConfigError, match=message):
        cls(**bad).validate()
    ok = cls().validate()
    with pytest.raises(ConfigError, match=message):
        ok.set_params(**bad).validate()
    with pytest.raises(ConfigError, match=message):  # the experiment checks every strategy it is given
        Experiment(topics_dataset(2), {"s": cls(**bad)})


def test_the_learned_acceptance_is_a_signal_with_the_params_of_its_cascade(small_split):
    from routerlab.routers import CascadeRouter, LearnedAcceptance, Signal, clone

    train, test = small_split
    frugal = FrugalCascade(stages=["gpt-4o-mini", "gpt-4o"], threshold=0.5).fit(train)
    cascade = frugal._cascade()
    signal = cascade.signal
    assert isinstance(signal, LearnedAcceptance) and isinstance(signal, Signal) and isinstance(cascade, CascadeRouter)
    assert signal.threshold == frugal.threshold_ and signal.cascade is frugal
    assert check_params(signal) == [] and check_params(cascade) == []
    deep = cascade.get_params(deep=True)
    assert deep["signal__threshold"] == 0.5 and deep["signal__cascade__stages"] == ["gpt-4o-mini", "gpt-4o"]
    request = test.request(test.prompts["prompt_id"].iloc[0])
    from routerlab.providers.replay import ReplayCaller

    assert cascade.answer_sync(request, ReplayCaller(test)).model in ("gpt-4o-mini", "gpt-4o")
    with pytest.raises(NotFittedError):  # a clone holds an unfitted copy of the cascade
        clone(cascade).answer_sync(request, ReplayCaller(test))
    assert check_params(frugal) == [] and hasattr(frugal, "acceptors_")  # fitted: learned state kept
