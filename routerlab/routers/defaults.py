"""The built-in strategies of ``routerlab run``: every router and strategy, configured and fitted.

Two groups (``routerlab run --strategies default,learners``; a group name expands to its members and
can be mixed with single names):

- ``default`` (what a plain ``routerlab run`` replays; quick to fit): ``oracle``, ``random``,
  ``capability``, ``task``, ``cascade-agreement``, ``cascade-judge``, ``consensus``, ``best-of-n``;
- ``learners`` (the routers that learn from prompt text, and the learned cascade; they import
  scikit-learn and fit TF-IDF features, about 3-5 s together on 1,420 train prompts): ``learned``
  (kNN), ``mf``, ``cluster``, ``classifier``, ``capability-fit``, ``cascade-frugal``.

Example::

    >>> from routerlab import datasets                                           # doctest: +SKIP
    >>> train, test = datasets.load("zeroeval").split(test_size=0.5, seed=0)      # doctest: +SKIP
    >>> sorted(builtin_strategies(train, seed=0))                                # doctest: +SKIP
    ['best-of-n', 'capability', 'cascade-agreement', 'cascade-judge', 'consensus', 'oracle', 'random', 'task']
    >>> sorted(builtin_strategies(train, groups=["learners"]))                   # doctest: +SKIP
    ['capability-fit', 'cascade-frugal', 'classifier', 'cluster', 'learned', 'mf']
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import pandas as pd

from ..catalog import Catalog
from ..errors import ConfigError, RouterlabError, UnknownModelError

__all__ = ["GROUPS", "builtin_strategies", "expand_groups", "frontier_models"]

log = logging.getLogger("routerlab.routers")

#: The strategy groups of ``routerlab run --strategies`` (see the module docstring).
GROUPS: dict[str, tuple[str, ...]] = {
    "default": ("oracle", "random", "capability", "task", "cascade-agreement", "cascade-judge", "consensus",
                "best-of-n"),
    "learners": ("learned", "mf", "cluster", "classifier", "capability-fit", "cascade-frugal"),
}


def expand_groups(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """(groups named, every strategy name they and the single names stand for, in order).

    ``"all"`` is every group. Example::

        >>> expand_groups(["default", "gpt-4o"])[0]
        ['default']
        >>> expand_groups(["all"])[1][-1]
        'cascade-frugal'
    """
    groups, out = [], []
    for n in names:
        members = [g for g in GROUPS] if n == "all" else [n] if n in GROUPS else []
        groups += [g for g in members if g not in groups]
        out += [m for g in members for m in GROUPS[g]] if members else [n]
    return groups, list(dict.fromkeys(out))


#: Judge model and simulated error rate used offline by the judge-based strategies.
JUDGE_MODEL = "gpt-4o-mini"
JUDGE_ERROR_RATE = 0.2


def frontier_models(train: Any, catalog: Catalog) -> pd.DataFrame:
    """Each model's train quality (mean score) and mean cost per prompt (USD), cheaper first, with
    ``frontier`` marking the models on the cost-quality frontier (:func:`routerlab.stats.pareto_mask`:
    no other model is at least as cheap and as good and better on one)."""
    from ..stats.pareto import pareto_mask
    from .baselines import outcome_matrices

    scores, costs = outcome_matrices(train, catalog)
    table = pd.DataFrame({"quality": scores.mean(), "cost": costs.mean()}).sort_values(["cost", "quality"])
    table = table[table["quality"].notna()]  # a model with no score in train has no point to place
    table["frontier"] = pareto_mask(table["cost"].to_numpy(), table["quality"].to_numpy())
    return table


def builtin_strategies(train: Any = None, *, catalog: Catalog | None = None, seed: int = 0,
                       evaluation: Any = None, groups: Sequence[str] = ("default",), explicit: Sequence[str] = (),
                       left_out: dict[str, str] | None = None) -> dict[str, object]:
    """The built-in strategies of ``groups`` (see :data:`GROUPS`; ``"all"`` for every one), fitted on
    ``train`` (a train split with outcomes) where they learn. Nothing is fitted on ``evaluation``.

    Returned (name → Router or Strategy; single models are the harness's):

    - ``oracle``: cheapest correct model per prompt (an upper bound; reads the outcomes of
      ``evaluation`` if given, else of the data set ``train`` was loaded from).
    - ``random``: uniform over the data set's models (seeded, per prompt id).
    - ``capability``: :class:`CapabilityRouter` preferring reasoning (×2) and coding, cost weight 0.4
      (on the bundled models: llama-3.1-70b; 0.3 would pick claude-3.5-sonnet, dearer than gpt-4o).
    - ``task``: :class:`TaskRouter` with its table learnt on ``train``; it routes by the request's
      ``task`` label when there is one (the bundled data sets label every prompt) and by the regex
      patterns otherwise.
    - learners: ``learned`` (:class:`LearnedRouter`, similarity-weighted kNN), ``mf``
      (:class:`MFRouter`), ``cluster`` (:class:`ClusterRouter`), ``classifier``
      (:class:`ClassifierRouter`), ``capability-fit`` (:class:`CalibratedCapabilityRouter`): TF-IDF +
      SVD features, λ and hyper-parameters by 3-fold CV on ``train`` within 20 % of the best single
      model's train cost; ``cascade-frugal``: :class:`FrugalCascade` (learned acceptance, planned and
      thresholded on ``train`` for 20 % of the best single model's train cost).
    - ``cascade-agreement``: an agreement cascade planned per task on ``train`` within 20 % of the
      best single model's train cost.
    - ``cascade-judge``: the train cost/quality frontier's models from 70 % of the best model's
      quality upwards (at most three), each answer graded by a judge (``gpt-4o-mini``; offline a
      :class:`~routerlab.judge.SimulatedJudge` with a 20 % error rate, labelled simulated).
    - ``consensus``: a vote of the three best models costing at most 20 % of the best one.
    - ``best-of-n``: the two best of those, compared by a judge of the same settings (its own object,
      so changing one strategy's judge with ``set_params`` leaves the other's alone).

    Without ``train`` only the strategies that learn nothing are returned (``random`` over the
    catalog, ``capability``, and fixed cascades/ensembles over catalog models).

    Models the catalog does not know: a strategy that needs a catalog field of one of the data's
    models (``capability`` and ``capability-fit`` need ``capabilities``) is left out, logged in one
    warning line naming it, the field and the model; ``left_out`` (a dict, if given) receives
    name → why. A strategy named in ``explicit`` is never left out: its
    :class:`~routerlab.errors.UnknownModelError` is raised, naming the model and the field.
    """
    unknown = [g for g in groups if g not in GROUPS and g != "all"]
    if unknown:
        raise ConfigError(f"unknown strategy group(s) {unknown}; groups: {sorted(GROUPS)} or 'all'")
    chosen = expand_groups(list(groups))[0]
    catalog = catalog or getattr(train, "catalog", None) or Catalog.default()
    built: dict[str, Callable[[], object]] = {}
    if "default" in chosen:
        built.update(_default_group(train, catalog, seed, evaluation))
    if train is not None and "learners" in chosen:
        built.update(_learners(train, catalog))
    out, why = _admit(built, train, set(explicit))
    if left_out is not None:
        left_out.update(why)
    if why:
        log.warning("left out: %s; name them with --strategies after adding the models to a catalog",
                    ", ".join(f"{n} ({w})" for n, w in why.items()))
    return out


def _admit(built: dict[str, Callable[[], object]], train: Any,
           explicit: set[str]) -> tuple[dict[str, object], dict[str, str]]:
    """(strategies, name → why left out): build each, and route one train prompt with the routers, so
    a catalog field a strategy needs for one of the data's models is found before the run."""
    probe = [train.request(str(train.prompts["prompt_id"].iloc[0]))] if train is not None and len(train) else []
    out: dict[str, object] = {}
    why: dict[str, str] = {}
    for name, build in built.items():
        try:
            strategy = build()
            for request in probe if callable(getattr(strategy, "route", None)) else []:
                _probe(strategy, request)
        except UnknownModelError as e:
            if e.field is None or e.model is None:
                raise
            if name in explicit:
                raise UnknownModelError(f"{e} (routerlab run: or leave {name!r} out of --strategies)", model=e.model,
                                        field=e.field) from e
            why[name] = f"needs catalog {e.field} of {e.model}"
            continue
        out[name] = strategy
    return out, why


def _probe(router: Any, request: Any) -> None:
    try:
        router.route(request)
    except UnknownModelError:
        raise
    except RouterlabError:  # the probe looks for catalog gaps only; the run reports anything else
        pass


def _default_group(train: Any, catalog: Catalog, seed: int, evaluation: Any) -> dict[str, Callable[[], object]]:
    """The ``default`` group: name → a function building (and fitting) the strategy."""
    from .baselines import OracleRouter, RandomRouter
    from .capability import CapabilityRouter
    from .cascade import Agreement, CascadeRouter, JudgeVerdict
    from .ensemble import BestOfN, Consensus
    from .judge import LLMJudge, SimulatedJudge
    from .task import TaskRouter

    def judge() -> LLMJudge:
        # one judge per strategy (equal settings): set_params(judge__...) on one must not change another
        return LLMJudge(JUDGE_MODEL, caller=SimulatedJudge(error_rate=JUDGE_ERROR_RATE, seed=seed, catalog=catalog),
                        seed=seed)

    out: dict[str, Callable[[], object]] = {}
    if train is None:
        models = catalog.names
        out["random"] = lambda: RandomRouter(models, seed=seed)
        out["capability"] = lambda: CapabilityRouter(catalog, preferred={"reasoning": 2, "coding": 1},
                                                     cost_weight=0.4)
        trio = ["gpt-4o-mini", "gemini-1.5-flash", "llama-3.1-70b"]
        out["cascade-agreement"] = lambda: CascadeRouter([tuple(trio[1:]), "gpt-4o-mini", "gpt-4o"], Agreement())
        out["cascade-judge"] = lambda: CascadeRouter(["gemini-1.5-flash", "gpt-4o-mini", "gpt-4o"],
                                                     JudgeVerdict(judge()))
        out["consensus"] = lambda: Consensus(trio)
        out["best-of-n"] = lambda: BestOfN(trio[:2], judge())
        return out

    models = train.models
    table = frontier_models(train, catalog)
    best = table["quality"].idxmax()
    source = evaluation if evaluation is not None else (train.info.get("source") or train.name.split("[")[0])
    out["oracle"] = lambda: OracleRouter(source, catalog=catalog, candidates=models)
    out["random"] = lambda: RandomRouter(models, seed=seed)
    out["capability"] = lambda: CapabilityRouter(catalog, candidates=models,
                                                 preferred={"reasoning": 2, "coding": 1}, cost_weight=0.4)
    out["task"] = lambda: TaskRouter(task_field="task", catalog=catalog).fit(train)
    out["cascade-agreement"] = lambda: CascadeRouter(budget=0.2, catalog=catalog,
                                                     name="cascade-agreement").fit(train)
    frontier = table[table["frontier"] & (table["quality"] >= 0.7 * table.loc[best, "quality"])].index.tolist()
    ladder = (frontier[:2] + [best]) if len(frontier) > 2 else frontier
    out["cascade-judge"] = lambda: CascadeRouter(list(dict.fromkeys(ladder)), JudgeVerdict(judge()),
                                                 name="cascade-judge")
    affordable = table[(table["cost"] <= 0.2 * table.loc[best, "cost"]) & (table.index != best)]
    voters = affordable.sort_values(["quality", "cost"], ascending=[False, True]).index[:3].tolist()
    if len(voters) >= 2:
        out["consensus"] = lambda: Consensus(voters)
        out["best-of-n"] = lambda: BestOfN(voters[:2], judge())
    return out


def _learners(train: Any, catalog: Catalog) -> dict[str, Callable[[], object]]:
    """The ``learners`` group: name → a function fitting it on ``train`` (features fitted once and shared)."""
    from .frugal import FrugalCascade
    from .learned import LearnedRouter
    from .learners import CalibratedCapabilityRouter, ClassifierRouter, ClusterRouter, MFRouter

    routers = {"learned": LearnedRouter, "mf": MFRouter, "cluster": ClusterRouter, "classifier": ClassifierRouter,
               "capability-fit": CalibratedCapabilityRouter}
    out: dict[str, Callable[[], object]] = {name: partial(_fitted, cls, catalog, train)
                                            for name, cls in routers.items()}
    out["cascade-frugal"] = lambda: FrugalCascade(catalog=catalog).fit(train)
    return out


def _fitted(cls: Any, catalog: Catalog, train: Any) -> object:
    return cls(catalog=catalog).fit(train)
