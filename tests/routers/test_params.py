"""One params mechanism: get_params(deep)/set_params(a__b)/clone/repr/validate for every router,
strategy, signal and judge, the conformance check, and the experiment's config hash reading it."""

from __future__ import annotations

import inspect
from dataclasses import KW_ONLY, dataclass

import numpy as np
import pandas as pd
import pytest

from routerlab._aio import run_sync
from routerlab.catalog import Catalog
from routerlab.errors import ConfigError
from routerlab.harness.experiment import Experiment
from routerlab.providers.replay import ReplayCaller
from routerlab.routers import (Agreement, BaseRouter, BestOfN, CalibratedCapabilityRouter, CapabilityRouter,
                               CascadeRouter, ClassifierRouter, ClusterRouter, Consensus, ContextWindowRouter,
                               FixedRouter, FrugalCascade, JudgeVerdict, LearnedAcceptance, LearnedRouter, LLMJudge,
                               MFRouter, OracleRouter, Params, RandomRouter, RouterStrategy, RoutingTable,
                               SimulatedJudge, TaskRouter, check_params, check_router, clone)
from routerlab.routers import (base, baselines, capability, cascade, context, ensemble, frugal, judge, learned,
                               learners, task, utility)
from routerlab.types import Decision, Request

from fakes import ScriptedCaller, TinyEmbedder

Q = Request.from_prompt("What is 6 x 3?", prompt_id="q", task="gsm")


def judge_cascade(model: str = "gpt-4o-mini", error_rate: float = 0.2) -> CascadeRouter:
    return CascadeRouter(["gemma-2-2b", "gpt-4o"],
                         JudgeVerdict(LLMJudge(model, caller=SimulatedJudge(error_rate=error_rate, seed=3))))


def everything() -> list[Params]:
    """One configured instance of every Params class routerlab ships."""
    j = LLMJudge("gpt-4o-mini", caller=SimulatedJudge(error_rate=0.1), max_tokens=256)
    return [
        FixedRouter("gpt-4o"), RandomRouter(["gpt-4o", "gemma-2-2b"], weights=[1, 3], seed=2),
        OracleRouter("zeroeval", threshold=0.6), CapabilityRouter(preferred={"coding": 1}, cost_weight=0.5),
        TaskRouter(RoutingTable(default="gpt-4o", routes={"math": "gpt-4o-mini"}), task_field="task"),
        ContextWindowRouter(FixedRouter("gemma-2-2b"), max_output_tokens=512, fallbacks=["gemini-1.5-flash"]),
        LearnedRouter(TinyEmbedder(), k=8, lam=0.3), RouterStrategy(FixedRouter("gpt-4o")),
        CascadeRouter([("gemma-2-2b", "llama-3.1-8b"), "gpt-4o"], Agreement(min_votes=2), budget=0.3),
        CascadeRouter(["gemma-2-2b", "gpt-4o"], JudgeVerdict(j), name="cj"), Agreement(3), JudgeVerdict(j),
        Consensus(["a", "b", "c"], weights={"a": 2.0}, fallback="d"), BestOfN(["a"], j, n=3), j,
        SimulatedJudge(error_rate=0.3, garble_rate=0.1, seed=5),
        MFRouter(dim=4, lam=0.1, seed=1), ClusterRouter(n_clusters=3, search={}),
        ClassifierRouter(estimator="gbm", C=0.5, name="clf"), CalibratedCapabilityRouter(C=0.3, task_field=None),
        FrugalCascade(["gemma-2-2b", "gpt-4o"], score="correct", threshold=0.7, thresholds=[0.5, 0.7]),
        LearnedAcceptance(FrugalCascade(budget=0.3), 0.4),
    ]


def params_equal(a, b) -> bool:
    """Same class and the same parameters, nested objects compared the same way."""
    if isinstance(a, Params) or isinstance(b, Params):
        return type(a) is type(b) and all(params_equal(x, y) for x, y in
                                          zip(a.get_params(deep=False).values(), b.get_params(deep=False).values()))
    return a is b or a == b


# --- the mechanism -------------------------------------------------------------------------------
def test_every_strategy_ensemble_signal_and_judge_inherits_it_and_none_hand_writes_it():
    modules = [base, baselines, capability, cascade, context, ensemble, frugal, judge, learned, learners, task, utility]
    classes = {c for m in modules for _, c in inspect.getmembers(m, inspect.isclass)
               if c.__module__ == m.__name__ and issubclass(c, Params)}
    assert {type(x) for x in everything()} <= classes
    for cls in classes:
        for method in ("get_params", "set_params", "__repr__", "_param_names"):
            assert method not in vars(cls), f"{cls.__name__} hand-writes {method}"


@pytest.mark.parametrize("obj", everything(), ids=lambda o: type(o).__name__)
def test_every_class_keeps_the_contract(obj):
    assert check_params(obj) == []


@pytest.mark.parametrize("obj", everything(), ids=lambda o: type(o).__name__)
def test_repr_shows_the_non_default_params_and_rebuilds_the_object(obj):
    import routerlab.routers as routers

    text = repr(obj)
    if "..." not in text and "<" not in text:  # long values are cut, objects without a repr are not code
        rebuilt = eval(text, {name: getattr(routers, name) for name in routers.__all__})
        assert params_equal(rebuilt, obj)
    defaults = {k: p.default for k, p in inspect.signature(type(obj)).parameters.items()}
    for key, value in obj.get_params(deep=False).items():
        assert (f"{key}=" in text) == (value is not defaults[key] and value != defaults[key] or
                                       defaults[key] is inspect.Parameter.empty), key


def test_deep_params_of_a_cascade_with_a_judge_round_trip():
    c = judge_cascade()
    deep = c.get_params(deep=True)
    assert deep["signal__judge__model"] == "gpt-4o-mini"
    assert deep["signal__judge__caller__error_rate"] == 0.2
    assert deep["signal__judge"] is c.signal.judge and deep["signal"] is c.signal
    assert set(c.get_params(deep=False)) == {"stages", "signal", "candidates", "finals", "budget", "max_chain",
                                             "catalog", "name"}
    other = judge_cascade(model="gpt-4o", error_rate=0.5)
    assert other.set_params(**{k: v for k, v in deep.items() if "__" in k}) is other
    assert other.signal.judge.model == "gpt-4o-mini" and other.signal.judge.caller.error_rate == 0.2
    assert other.signal is not c.signal  # nested keys change the nested objects in place, not by sharing


def test_set_params_nested_keys_and_errors_that_name_the_path():
    best = BestOfN(["gpt-4o-mini", "llama-3.1-70b"], LLMJudge("gpt-4o-mini"))
    judge_before = best.judge
    best.set_params(judge__model="gpt-4o", judge__seed=7)
    assert best.judge is judge_before and best.judge.model == "gpt-4o" and best.judge.seed == 7
    # a plain key is set first, so the nested key lands on the new object
    new = LLMJudge("claude-3-haiku")
    best.set_params(judge=new, judge__max_tokens=64)
    assert best.judge is new and new.max_tokens == 64
    c = judge_cascade()
    with pytest.raises(ConfigError, match=r"signal__judge__modle=.*LLMJudge has no parameter 'modle'.*model, caller"):
        c.set_params(signal__judge__modle="x")
    with pytest.raises(ConfigError, match=r"CascadeRouter has no parameter 'signl'; its parameters: stages, signal"):
        c.set_params(signl=None)
    with pytest.raises(ConfigError, match=r"budget__x=.*float.*no parameters of its own"):
        c.set_params(budget__x=1)
    # a bad key anywhere changes nothing, not even the keys before it
    before = c.get_params(deep=True)
    with pytest.raises(ConfigError, match="signal__judge__caller__seeed"):
        c.set_params(name="renamed", signal__judge__model="gpt-4o", signal__judge__caller__seeed=1)
    assert c.get_params(deep=True) == before


def test_clone_gives_an_equal_unfitted_copy(small_split):
    train, test = small_split
    catalog = Catalog.default()
    fitted = CascadeRouter(budget=0.25, catalog=catalog, signal=Agreement(2)).fit(train)
    copy = clone(fitted)
    assert type(copy) is CascadeRouter and params_equal(copy, fitted)
    assert hasattr(fitted, "stages_") and not hasattr(copy, "stages_") and not hasattr(copy, "plan_")
    assert copy.signal is not fitted.signal  # nested objects are cloned ...
    assert copy.catalog is catalog  # ... resources are shared (a catalog, a data set, a Gateway)
    assert clone(copy.fit(train)).get_params(deep=False).keys() == fitted.get_params(deep=False).keys()
    assert copy.stages_ == fitted.stages_  # the same parameters fit to the same plan
    task_router = TaskRouter(task_field="task", tolerance=0.01).fit(train)
    fresh = clone(task_router)
    assert not hasattr(fresh, "routing_table_") and fresh.tolerance == 0.01
    assert (fresh.fit(train).route_many(test.prompts) == task_router.route_many(test.prompts)).all()
    # containers are copied, their items cloned
    models = ["a", "b"]
    assert clone(Consensus(models)).models is not models


def test_clone_refuses_an_init_that_changes_its_parameters():
    class Listing(Params):
        def __init__(self, models=("a",)):
            self.models = list(models)  # changes the value: a clone would not be equal

    with pytest.raises(RuntimeError, match="does not store parameter 'models' unchanged"):
        clone(Listing())


def test_check_params_finds_each_kind_of_break():
    class Changes(Params):
        def __init__(self, models=("a",)):
            self.models = list(models)

    class VarArgs(Params):
        def __init__(self, *models):
            self.models = models

    class Learns(Params):
        def __init__(self, k=1):
            self.k = k
            self.table_ = {}

    @dataclass(eq=False)  # repr=True: the dataclass's repr replaces the parameters' one
    class OwnRepr(Params):
        k: int = 1

    class HandWritten(BaseRouter):  # get_params by hand, missing a parameter
        def __init__(self, model="a", seed=0):
            self.model, self.seed = model, seed

        def get_params(self, deep=True):
            return {"model": self.model}

    assert any("store parameter 'models' unchanged" in f for f in check_params(Changes()))
    assert any("*models" in f for f in check_params(VarArgs()))
    assert any("['table_']" in f for f in check_params(Learns()))
    assert any("repr" in f for f in check_params(OwnRepr()))
    assert any("the __init__ keywords are ['model', 'seed']" in f for f in check_params(HandWritten()))


def test_check_router_checks_the_params_contract():
    @dataclass(eq=False, repr=False)
    class Half(BaseRouter):
        model: str = "gpt-4o"
        _: KW_ONLY
        name: str = "half"

        def __post_init__(self):  # logic in __init__: learned state before fit
            self.models_ = [self.model]

        def route(self, request):
            return Decision(self.model, scores={self.model: 1.0})

        def explain(self, request):
            return pd.DataFrame({"model": [self.model], "score": [1.0], "removed_by": [None], "chosen": [True]})

    failures = check_router(Half(), raise_errors=False)
    assert any("['models_']" in f for f in failures)


def test_validation_happens_at_use_and_set_params_rearms_it():
    c = Consensus(["a", "b"])  # __init__ checks nothing (scikit-learn's contract) ...
    answers = {"a": '{"answer": "1"}', "b": '{"answer": "1"}', "c": '{"answer": "2"}'}
    assert run_sync(c.answer(Q, ScriptedCaller(answers))).model == "a"
    c.set_params(models=["a"])  # ... the next use does, after any change
    with pytest.raises(ConfigError, match="at least two models"):
        run_sync(c.answer(Q, ScriptedCaller(answers)))
    assert Consensus(["a"], min_agreement=7).get_params(deep=False)["min_agreement"] == 7  # stored as given
    with pytest.raises(ConfigError, match="error_rate must be a probability"):
        run_sync(judge_cascade(error_rate=1.5).answer(Q, ScriptedCaller({"gemma-2-2b": "x", "gpt-4o": "y"})))


def test_set_params_recomputes_what_was_derived_from_the_parameters():
    answers = {"a": '{"answer": "1"}', "b": '{"answer": "1"}', "c": '{"answer": "2"}'}
    vote = Consensus(["a", "b", "c"], early_stop=False)
    assert run_sync(vote.answer(Q, ScriptedCaller(answers))).model == "a"
    vote.set_params(weights={"c": 3.0})
    assert run_sync(vote.answer(Q, ScriptedCaller(answers))).model == "c"
    wrapped = ContextWindowRouter(FixedRouter("gemma-2-2b"))
    assert wrapped.name == "fixed+context" and wrapped.get_params()["name"] is None and "name" not in repr(wrapped)
    wrapped.set_params(router=CapabilityRouter())
    assert wrapped.name == "capability+context" == clone(wrapped).name
    assert RouterStrategy(wrapped).name == "capability+context"
    assert RouterStrategy(wrapped, name="mine").name == "mine"


def test_oracle_set_params_data_uses_the_new_data(small_split):
    train, test = small_split
    oracle = OracleRouter(train)
    pid = train.prompts["prompt_id"].iloc[0]
    oracle.route(train.request(pid))  # builds the prompt-id index of the train data
    oracle.set_params(data=test)
    for pid in test.prompts["prompt_id"].iloc[:20]:
        assert oracle.route(test.request(pid)).model == OracleRouter(test).route(test.request(pid)).model


# --- the experiment's config hash ----------------------------------------------------------------
def test_config_hash_changes_with_a_nested_param_and_only_then(gsm_small):
    def hash_of(strategy):
        return Experiment(gsm_small, {"s": strategy}).config_hash("s")

    base_hash = hash_of(judge_cascade())
    assert hash_of(judge_cascade()) == base_hash  # an equal configuration
    assert hash_of(clone(judge_cascade())) == base_hash
    assert hash_of(judge_cascade().set_params(signal__judge__seed=0)) == base_hash  # the default, set again
    changed = [
        judge_cascade().set_params(signal__judge__model="gpt-4o"),
        judge_cascade().set_params(signal__judge__caller__error_rate=0.3),
        judge_cascade().set_params(signal__judge__caller__seed=4),
        judge_cascade().set_params(signal__judge__max_tokens=100),
        judge_cascade().set_params(stages=["gemma-2-2b", "gpt-4o-mini"]),
    ]
    hashes = [hash_of(s) for s in changed]
    assert base_hash not in hashes and len(set(hashes)) == len(hashes)
    best = BestOfN(["gpt-4o-mini", "llama-3.1-70b"], LLMJudge("gpt-4o-mini", caller=SimulatedJudge()))
    assert hash_of(best) != hash_of(clone(best).set_params(judge__caller__garble_rate=0.1))
    wrapped = ContextWindowRouter(ContextWindowRouter(FixedRouter("gemma-2-2b")))
    assert hash_of(wrapped) != hash_of(clone(wrapped).set_params(router__router__model="gpt-4o"))


def test_config_hash_sees_a_routing_table_and_a_catalog_in_full(gsm_small):
    """Configuration that is data (a dataclass) counts however deep: a route, a price."""
    import yaml
    from importlib import resources

    def hash_of(strategy):
        return Experiment(gsm_small, {"s": strategy}).config_hash("s")

    table = RoutingTable(default="gpt-4o", routes={"math": "gpt-4o-mini"})
    assert hash_of(TaskRouter(table)) == hash_of(TaskRouter(table.with_()))
    assert hash_of(TaskRouter(table)) != hash_of(TaskRouter(table.with_(routes={"math": "gpt-4o"})))
    raw = yaml.safe_load(resources.files("routerlab").joinpath("data/catalog.yaml").read_text(encoding="utf-8"))
    same, dearer = Catalog.from_dict(raw), Catalog.from_dict(raw)  # both "<memory>": only the content differs
    assert hash_of(CapabilityRouter(same)) == hash_of(CapabilityRouter(dearer))
    raw["models"]["gpt-4o-mini"]["price"]["input"] *= 10
    dearer = Catalog.from_dict(raw)
    assert hash_of(CapabilityRouter(same)) != hash_of(CapabilityRouter(dearer))


def test_a_bad_strategy_fails_when_the_experiment_is_built(gsm_small):
    with pytest.raises(ConfigError, match="strategy 'vote': Consensus needs at least two models"):
        Experiment(gsm_small, {"ok": FixedRouter("gpt-4o"), "vote": Consensus(["gpt-4o"])})


def test_a_judge_shared_by_two_strategies_runs_as_before(gsm_small):
    """The builtin strategies share one judge: bound copies per data set stay separate objects."""
    sim = SimulatedJudge(error_rate=0.0)
    j = LLMJudge("gpt-4o-mini", caller=sim)
    caller = ReplayCaller(gsm_small)
    bound = sim.bind(caller)
    assert bound is sim.bind(caller) and bound is not sim and bound.references is gsm_small
    assert sim.references is None and params_equal(clone(bound).set_params(references=None), sim)
    res = Experiment(gsm_small, {"cj": CascadeRouter(["gemma-2-2b", "gpt-4o"], JudgeVerdict(j)),
                                 "bo": BestOfN(["gemma-2-2b", "gpt-4o"], j)}).run(progress=False)
    assert not res.df["error"].astype(bool).any()
    assert np.isfinite(res.df["score"]).all()
