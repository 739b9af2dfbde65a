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

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..catalog import Catalog
from ..errors import ConfigError

__all__ = ["builtin_strategies", "frontier_models", "GROUPS", "expand_groups"]

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
                       evaluation: Any = None, groups: Sequence[str] = ("default",)) -> dict[str, object]:
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
    """
    unknown = [g for g in groups if g not in GROUPS and g != "all"]
    if unknown:
        raise ConfigError(f"unknown strategy group(s) {unknown}; groups: {sorted(GROUPS)} or 'all'")
    chosen = expand_groups(list(groups))[0]
    catalog = catalog or getattr(train, "catalog", None) or Catalog.default()
    out: dict[str, object] = {}
    if "default" in chosen:
        out.update(_default_group(train, catalog, seed, evaluation))
    if train is not None and "learners" in chosen:
        out.update(_learners(train, catalog))
    return out


def _default_group(train: Any, catalog: Catalog, seed: int, evaluation: Any) -> dict[str, object]:
    from .ensemble import BestOfN, Consensus
    from .judge import LLMJudge, SimulatedJudge
    from .baselines import OracleRouter, RandomRouter
    from .capability import CapabilityRouter
    from .cascade import Agreement, CascadeRouter, JudgeVerdict
    from .task import TaskRouter

    def judge() -> LLMJudge:
        # one judge per strategy (equal settings): set_params(judge__...) on one must not change another
        return LLMJudge(JUDGE_MODEL, caller=SimulatedJudge(error_rate=JUDGE_ERROR_RATE, seed=seed, catalog=catalog),
                        seed=seed)

    out: dict[str, object] = {}
    if train is None:
        models = catalog.names
        out["random"] = RandomRouter(models, seed=seed)
        out["capability"] = CapabilityRouter(catalog, preferred={"reasoning": 2, "coding": 1}, cost_weight=0.4)
        trio = ["gpt-4o-mini", "gemini-1.5-flash", "llama-3.1-70b"]
        out["cascade-agreement"] = CascadeRouter([tuple(trio[1:]), "gpt-4o-mini", "gpt-4o"], Agreement())
        out["cascade-judge"] = CascadeRouter(["gemini-1.5-flash", "gpt-4o-mini", "gpt-4o"], JudgeVerdict(judge()))
        out["consensus"] = Consensus(trio)
        out["best-of-n"] = BestOfN(trio[:2], judge())
        return out

    models = train.models
    table = frontier_models(train, catalog)
    best = table["quality"].idxmax()
    source = evaluation if evaluation is not None else (train.info.get("source") or train.name.split("[")[0])
    out["oracle"] = OracleRouter(source, catalog=catalog, candidates=models)
    out["random"] = RandomRouter(models, seed=seed)
    out["capability"] = CapabilityRouter(catalog, candidates=models, preferred={"reasoning": 2, "coding": 1},
                                         cost_weight=0.4)
    out["task"] = TaskRouter(task_field="task", catalog=catalog).fit(train)
    out["cascade-agreement"] = CascadeRouter(budget=0.2, catalog=catalog, name="cascade-agreement").fit(train)
    frontier = table[table["frontier"] & (table["quality"] >= 0.7 * table.loc[best, "quality"])].index.tolist()
    ladder = (frontier[:2] + [best]) if len(frontier) > 2 else frontier
    out["cascade-judge"] = CascadeRouter(list(dict.fromkeys(ladder)), JudgeVerdict(judge()), name="cascade-judge")
    affordable = table[(table["cost"] <= 0.2 * table.loc[best, "cost"]) & (table.index != best)]
    voters = affordable.sort_values(["quality", "cost"], ascending=[False, True]).index[:3].tolist()
    if len(voters) >= 2:
        out["consensus"] = Consensus(voters)
        out["best-of-n"] = BestOfN(voters[:2], judge())
    return out


def _learners(train: Any, catalog: Catalog) -> dict[str, object]:
    """The ``learners`` group, fitted on ``train`` (features fitted once and shared)."""
    from .frugal import FrugalCascade
    from .learned import LearnedRouter
    from .learners import CalibratedCapabilityRouter, ClassifierRouter, ClusterRouter, MFRouter

    routers = {"learned": LearnedRouter, "mf": MFRouter, "cluster": ClusterRouter, "classifier": ClassifierRouter,
               "capability-fit": CalibratedCapabilityRouter}
    out: dict[str, object] = {name: cls(catalog=catalog).fit(train) for name, cls in routers.items()}
    out["cascade-frugal"] = FrugalCascade(catalog=catalog).fit(train)
    return out
