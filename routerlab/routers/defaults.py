"""The built-in strategies of ``routerlab run``: every router and strategy, configured and fitted.

Example::

    >>> from routerlab import datasets                                           # doctest: +SKIP
    >>> train, test = datasets.load("zeroeval").split(test_size=0.5, seed=0)      # doctest: +SKIP
    >>> sorted(builtin_strategies(train, seed=0))                                # doctest: +SKIP
    ['best-of-n', 'capability', 'cascade-agreement', 'cascade-judge', 'consensus', 'learned', 'oracle',
     'random', 'task']
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..catalog import Catalog

__all__ = ["builtin_strategies", "frontier_models"]

#: Judge model and simulated error rate used offline by the judge-based strategies.
JUDGE_MODEL = "gpt-4o-mini"
JUDGE_ERROR_RATE = 0.2


def frontier_models(train: Any, catalog: Catalog) -> pd.DataFrame:
    """Each model's train quality and mean cost per prompt, with ``frontier`` marking the models no
    other model beats on both (cheaper first)."""
    from .baselines import outcome_matrices

    scores, costs = outcome_matrices(train, catalog)
    table = pd.DataFrame({"quality": scores.mean(), "cost": costs.mean()}).sort_values(["cost", "quality"])
    table["frontier"] = table["quality"] > table["quality"].cummax().shift(fill_value=-1.0)
    return table


def builtin_strategies(train: Any = None, *, catalog: Catalog | None = None, seed: int = 0,
                       evaluation: Any = None) -> dict[str, object]:
    """Every built-in strategy, fitted on ``train`` (a train split with outcomes) where it learns.

    Returned (name → Router or Strategy; single models are the harness's):

    - ``oracle``: cheapest correct model per prompt (an upper bound; reads the outcomes of
      ``evaluation`` if given, else of the data set ``train`` was loaded from).
    - ``random``: uniform over the data set's models (seeded, per prompt id).
    - ``capability``: :class:`CapabilityRouter` preferring reasoning (×2) and coding, cost weight 0.4
      (on the bundled models: llama-3.1-70b; 0.3 would pick claude-3.5-sonnet, dearer than gpt-4o).
    - ``task``: :class:`TaskRouter` with its table learnt on ``train``; it routes by the request's
      ``task`` label when there is one (the bundled data sets label every prompt) and by the regex
      patterns otherwise.
    - ``learned``: :class:`LearnedRouter` (kNN, k=32, hashing embeddings), λ chosen on ``train``.
    - ``cascade-agreement``: an agreement cascade planned per task on ``train`` within 20 % of the
      best single model's train cost.
    - ``cascade-judge``: the train cost/quality frontier's models from 70 % of the best model's
      quality upwards (at most three), each answer graded by a judge (``gpt-4o-mini``; offline a
      :class:`~routerlab.judge.SimulatedJudge` with a 20 % error rate, labelled simulated).
    - ``consensus``: a vote of the three best models costing at most 20 % of the best one.
    - ``best-of-n``: the two best of those, compared by the same judge.

    Without ``train`` only the strategies that learn nothing are returned (``random`` over the
    catalog, ``capability``, and fixed cascades/ensembles over catalog models).
    """
    from .ensemble import BestOfN, Consensus
    from .judge import LLMJudge, SimulatedJudge
    from .baselines import OracleRouter, RandomRouter
    from .capability import CapabilityRouter
    from .cascade import Agreement, CascadeRouter, JudgeVerdict
    from .learned import LearnedRouter
    from .task import TaskRouter

    catalog = catalog or getattr(train, "catalog", None) or Catalog.default()
    judge = LLMJudge(JUDGE_MODEL, caller=SimulatedJudge(error_rate=JUDGE_ERROR_RATE, seed=seed, catalog=catalog),
                     seed=seed)
    out: dict[str, object] = {}
    if train is None:
        models = catalog.names
        out["random"] = RandomRouter(models, seed=seed)
        out["capability"] = CapabilityRouter(catalog, preferred={"reasoning": 2, "coding": 1}, cost_weight=0.4)
        trio = ["gpt-4o-mini", "gemini-1.5-flash", "llama-3.1-70b"]
        out["cascade-agreement"] = CascadeRouter([tuple(trio[1:]), "gpt-4o-mini", "gpt-4o"], Agreement())
        out["cascade-judge"] = CascadeRouter(["gemini-1.5-flash", "gpt-4o-mini", "gpt-4o"], JudgeVerdict(judge))
        out["consensus"] = Consensus(trio)
        out["best-of-n"] = BestOfN(trio[:2], judge)
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
    out["learned"] = LearnedRouter(k=32, lam="auto", catalog=catalog).fit(train)
    out["cascade-agreement"] = CascadeRouter(budget=0.2, catalog=catalog, name="cascade-agreement").fit(train)
    frontier = table[table["frontier"] & (table["quality"] >= 0.7 * table.loc[best, "quality"])].index.tolist()
    ladder = (frontier[:2] + [best]) if len(frontier) > 2 else frontier
    out["cascade-judge"] = CascadeRouter(list(dict.fromkeys(ladder)), JudgeVerdict(judge), name="cascade-judge")
    affordable = table[(table["cost"] <= 0.2 * table.loc[best, "cost"]) & (table.index != best)]
    voters = affordable.sort_values(["quality", "cost"], ascending=[False, True]).index[:3].tolist()
    if len(voters) >= 2:
        out["consensus"] = Consensus(voters)
        out["best-of-n"] = BestOfN(voters[:2], judge)
    return out
