"""CascadeRouter (FrugalGPT): ask cheap models first, accept their answer when a signal says it is
good, escalate to stronger models otherwise. A Strategy: ``await cascade.answer(request, caller)``.

Two acceptance signals ship:

- :class:`Agreement` — accept once ``min_votes`` answers given so far agree, compared as the
  *normalised* answers the task's scorer reads (``scorer.answer(text)``: a choice letter, a number, a
  normalised string, pass/fail; or the answer a replayed outcome recorded, such as a tool's
  prediction), so ``"$1,000"`` and ``1000.0`` agree under a numeric scorer. The scorers are the
  signal's own (``Agreement(scorers=...)``), else those of the data set the cascade was fitted on,
  else those of the replayed data set, else exact match. The answer returned is the earliest
  (cheapest) call holding the agreed answer.
- :class:`JudgeVerdict` — a judge model (:class:`routerlab.routers.judge.LLMJudge`; offline a
  :class:`~routerlab.routers.judge.SimulatedJudge`) grades the stage's answer; ``YES`` accepts, ``NO`` or an
  unparseable reply escalates. The judge's calls are charged.

``stages`` is a list of stages, each a model or a tuple of models called in parallel; the last stage
is always accepted. A mapping ``task -> stages`` (key ``"*"`` for the rest) gives each task its own
cascade; :meth:`CascadeRouter.fit` plans such a mapping from recorded outcomes under a cost budget.
Cost and tokens are the sum over the calls made (judge calls included); latency is the sum over
stages of each stage's slowest call (plus the judge's); ``Answer.calls`` are in call order;
``Answer.info`` says which stage answered and why.

Example::

    >>> from routerlab.routers import CascadeRouter, Agreement
    >>> c = CascadeRouter([("gemini-1.5-flash", "llama-3.1-70b"), "gpt-4o"], Agreement(min_votes=2))
    >>> c.stages_for("gsm")
    [('gemini-1.5-flash', 'llama-3.1-70b'), ('gpt-4o',)]
    >>> ans = c.answer_sync(dataset.request("gsm8k-main-test-#0"), ReplayCaller(dataset))   # doctest: +SKIP
    >>> ans.info["stage"], ans.info["accepted_by"]                                          # doctest: +SKIP
    (0, 'agreement')
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import ConfigError, DatasetError, MissingOutcomeError, NotFittedError, RouterlabError
from ..scoring import TaskScorers
from ..stats.pareto import pareto_front
from ..types import Answer, Caller, Completion, Request
from .base import BaseStrategy
from .baselines import outcome_matrices
from .params import Params

__all__ = ["CascadeRouter", "Signal", "Agreement", "JudgeVerdict", "Check", "answer_key", "scorers_for"]

log = logging.getLogger("routerlab.routers")


def scorers_for(own: Any, caller: Any, fitted: Any = None) -> TaskScorers:
    """The scorers that read answers for a strategy: its own (a TaskScorers, a mapping, one scorer,
    or a Dataset), else those of the data set it was fitted on, else those of the data set the caller
    replays, else exact match for every task (each such task logged once)."""
    for source in (own, fitted, getattr(caller, "dataset", None)):
        if source is None:
            continue
        found = getattr(source, "scorers", source)
        return found if isinstance(found, TaskScorers) else TaskScorers(found)
    return _DEFAULT_SCORERS


_DEFAULT_SCORERS = TaskScorers()


def answer_key(completion: Completion, task: str | None, scorers: TaskScorers) -> str | None:
    """The normalised answer of one call: the one its replayed outcome recorded, else what the task's
    scorer reads from the text (None when it reads none). A scorer that exposes no answers at all
    raises ConfigError: a strategy that compares answers cannot run on it."""
    if completion.answer is not None:
        return completion.answer
    scorer = scorers.for_task(task)
    read = getattr(scorer, "answer", None)
    if read is None:
        raise ConfigError(f"the scorer of task {task!r} ({scorer!r}) exposes no normalised answer: agreement "
                          "and consensus compare answers, so give that task a routerlab scorer (scorers={...}) "
                          "or a scorer with answer(response, *, model=None)")
    return read(completion.text, model=completion.model)


@dataclass
class Check:
    """What an acceptance signal decided after a stage."""

    accepted: bool
    answer: Completion | None = None
    extra_calls: list[Completion] = field(default_factory=list)
    latency: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


class Signal(Params):
    """What decides, after a cascade stage, whether to accept its answer or escalate.

    Subclasses set ``name`` (the ``accepted_by`` label) and implement :meth:`check`.
    """

    name = "signal"

    async def check(self, request: Request, calls: list[Completion], stage: list[Completion],
                    caller: Caller) -> Check:  # pragma: no cover - abstract
        """Accept or escalate after a stage.

        ``calls``: every completion so far, in call order; ``stage``: the ones of the stage just
        finished; ``caller``: the strategy's caller (for signals that call a model themselves).
        Returns a :class:`Check` (the accepted completion, any extra calls made, their latency in
        seconds, and what to record in ``Answer.info["checks"]``).
        """
        raise NotImplementedError


@dataclass(eq=False, repr=False)
class Agreement(Signal):
    """Accept when at least ``min_votes`` (>= 2) of the answers so far agree (normalised by the task's scorer).

    ``scorers``: the scorers that read the answers (a mapping task -> scorer or name, one scorer, or
    a Dataset); default: see :func:`scorers_for`.

    Example::

        >>> Agreement(min_votes=3)
        Agreement(min_votes=3)
    """

    min_votes: int = 2
    _: KW_ONLY
    scorers: Any = None

    name = "agreement"

    def _validate(self) -> None:
        if isinstance(self.min_votes, bool) or not isinstance(self.min_votes, int) or self.min_votes < 2:
            raise ConfigError(f"Agreement min_votes must be an integer >= 2, got {self.min_votes!r}")

    async def check(self, request: Request, calls: list[Completion], stage: list[Completion], caller: Caller, *,
                    scorers: TaskScorers | None = None) -> Check:
        self.validate()
        table = scorers if scorers is not None else scorers_for(self.scorers, caller)
        votes: dict[str, list[Completion]] = {}
        for c in calls:
            found = answer_key(c, request.task, table)
            if found is not None:
                votes.setdefault(found, []).append(c)
        if not votes:
            return Check(False, info={"votes": 0, "answers_found": 0})
        _, holders = max(votes.items(), key=lambda kv: len(kv[1]))  # first-seen key wins ties
        if len(holders) >= self.min_votes:
            return Check(True, holders[0], info={"votes": len(holders)})
        return Check(False, info={"votes": len(holders)})


@dataclass(eq=False, repr=False)
class JudgeVerdict(Signal):
    """Accept a stage's answer when a judge grades it correct (``YES``); escalate on ``NO`` or missing.

    ``judge``: an :class:`~routerlab.routers.judge.LLMJudge` (offline, with a
    :class:`~routerlab.routers.judge.SimulatedJudge` as its caller).

    Example::

        >>> from routerlab.routers.judge import LLMJudge, SimulatedJudge
        >>> JudgeVerdict(LLMJudge("gpt-4o-mini", caller=SimulatedJudge(error_rate=0.1)))
        JudgeVerdict(judge=LLMJudge(model='gpt-4o-mini', caller=SimulatedJudge(error_rate=0.1)))
    """

    judge: Any

    name = "judge"

    def _validate(self) -> None:
        if not callable(getattr(self.judge, "grade", None)):
            raise ConfigError(f"JudgeVerdict judge={self.judge!r} has no grade(request, answer, caller) method: "
                              "give it an LLMJudge")

    async def check(self, request: Request, calls: list[Completion], stage: list[Completion], caller: Caller) -> Check:
        self.validate()
        if not stage:
            return Check(False, info={"verdict": None})
        candidate = stage[0]
        result = await self.judge.grade(request, candidate.text, caller, model=candidate.model)
        info = {"verdict": result.verdict, "judge": self.judge.label, "judge_simulated": result.simulated}
        return Check(result.verdict == "YES", candidate if result.verdict == "YES" else None,
                     [result.completion], result.completion.latency, info)


def _as_stages(stages: Sequence[Any], where: str) -> list[tuple[str, ...]]:
    if isinstance(stages, str) or not isinstance(stages, Sequence) or not stages:
        raise ConfigError(f"CascadeRouter {where} must be a non-empty list of stages (a model or a tuple of models)")
    out = []
    for i, s in enumerate(stages):
        group = (s,) if isinstance(s, str) else tuple(s)
        if not group or not all(isinstance(m, str) and m for m in group):
            raise ConfigError(f"CascadeRouter {where}[{i}] must be a model name or a tuple of model names, got {s!r}")
        out.append(group)
    return out


@dataclass(eq=False, repr=False)
class CascadeRouter(BaseStrategy):
    """Cheap → strong, stopping at the first stage whose answer the ``signal`` accepts (a Strategy).

    Parameters
    ----------
    stages: a list of stages (model or tuple of models called in parallel), or a mapping task →
        list of stages (``"*"``: every other task). ``None``: plan them with :meth:`fit`.
    signal: a :class:`Signal`: :class:`Agreement` (``None``: ``Agreement()``) or :class:`JudgeVerdict`.
    candidates, finals, budget, max_chain, catalog: planning options for :meth:`fit`.

    Learned attributes (after :meth:`fit`): ``stages_`` (task → stages) and ``plan_`` (their train
    quality and cost).
    """

    stages: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None
    signal: Signal | None = None
    _: KW_ONLY
    candidates: Sequence[str] | None = None
    finals: Sequence[str] | None = None
    budget: float = 0.2
    max_chain: int = 3
    catalog: Catalog | None = None
    name: str = "cascade"

    def _signal(self) -> Signal:
        return self.signal if self.signal is not None else Agreement()

    def _validate(self) -> None:
        if self.stages is not None:
            self._plan(self.stages)
        if self.signal is not None and not callable(getattr(self.signal, "check", None)):
            raise ConfigError(f"CascadeRouter signal={self.signal!r} is not a Signal: use Agreement() or "
                              "JudgeVerdict(judge)")

    @staticmethod
    def _plan(stages: Sequence[Any] | Mapping[str, Sequence[Any]]) -> dict[str, list[tuple[str, ...]]]:
        if isinstance(stages, Mapping):
            if not stages:
                raise ConfigError("CascadeRouter stages mapping is empty")
            return {str(t): _as_stages(s, f"stages[{t!r}]") for t, s in stages.items()}
        return {"*": _as_stages(stages, "stages")}

    def stages_for(self, task: str | None) -> list[tuple[str, ...]]:
        """The stages a request of ``task`` goes through."""
        plan = getattr(self, "stages_", None)
        if plan is None:
            if self.stages is None:
                raise NotFittedError("CascadeRouter has no stages: pass stages=[...] or call fit(train_dataset)")
            plan = getattr(self, "_cache_plan", None)
            if plan is None:
                plan = self._cache_plan = self._plan(self.stages)
        if task is not None and task in plan:
            return plan[task]
        if "*" in plan:
            return plan["*"]
        raise ConfigError(f"CascadeRouter has no stages for task {task!r} and no '*' entry; tasks: {sorted(plan)}")

    # -- answering -------------------------------------------------------------------------------
    async def answer(self, request: Request, caller: Caller) -> Answer:
        self.validate()
        signal = self._signal()
        stages = self.stages_for(request.task)
        extra: dict[str, Any] = {}
        if isinstance(signal, Agreement):
            extra["scorers"] = scorers_for(signal.scorers, caller, getattr(self, "scorers_", None))
        calls: list[Completion] = []
        checks: list[dict[str, Any]] = []
        latency = 0.0
        answering: Completion | None = None
        accepted_by = "final"
        stage_no = len(stages) - 1
        failures: list[BaseException] = []
        for i, group in enumerate(stages):
            results = await asyncio.gather(*(caller.complete(request, m) for m in group), return_exceptions=True)
            got = []
            for r in results:
                if isinstance(r, Completion):
                    got.append(r)
                elif isinstance(r, RouterlabError):
                    failures.append(r)
                else:
                    raise r
            latency += max((c.latency for c in got), default=0.0)
            calls += got
            if i == len(stages) - 1:
                if not got:
                    raise failures[-1]
                answering = got[0]
                break
            check = await signal.check(request, calls, got, caller, **extra)
            calls += check.extra_calls
            latency += check.latency
            checks.append({"stage": i, **check.info})
            if check.accepted and check.answer is not None:
                answering, accepted_by, stage_no = check.answer, signal.name, i
                break
        assert answering is not None
        info: dict[str, Any] = {"stage": stage_no, "stages": len(stages), "answered_by": answering.model,
                                "accepted_by": accepted_by, "escalations": stage_no, "signal": signal.name,
                                "checks": checks, "failed_calls": len(failures)}
        if request.task in getattr(self, "skipped_", {}):
            info["reason"] = f"task {request.task!r}: {self.skipped_[request.task]}, so the overall plan ('*')"
        judged = [c for c in checks if "judge" in c]
        if judged:
            info["judge"] = judged[0]["judge"]
            info["judge_simulated"] = any(c.get("judge_simulated") for c in judged)
        return Answer(answering.text, answering.model, tuple(calls), latency, info)  # calls in call order

    # -- planning ----------------------------------------------------------------------------------
    def fit(self, dataset: Any) -> CascadeRouter:
        """Plan an agreement cascade per task from ``dataset``'s recorded outcomes (a train split).

        For each task (and ``"*"``, all prompts pooled) every plan of the form "the ``k`` (2 ≤ k ≤
        ``max_chain``) chosen cheap models in order of price, the first two in parallel, then one at
        a time, accepting as soon as two answers agree, else a final model from ``finals`` (default:
        the three best on the train split)" and every single model is replayed on the recorded
        answers. Plans are then chosen per task to maximise train quality with the total train cost
        at most ``budget`` × the cost of the best single model (exactly, by merging the tasks'
        Pareto fronts). Sets ``stages_`` and ``plan_`` (the chosen plans' train figures).

        Missing outcomes: a model with no score for a task is left out of that task's plans (``plan_``'s
        ``left_out``), and plans are compared on the prompts every remaining model has a score for. A
        task where no model has a score gets no plan of its own: it takes the ``"*"`` plan, and its
        answers say so in ``info["reason"]`` (``skipped_``: task → why). Raises MissingOutcomeError when
        no prompt has a score at all.
        """
        self.validate()
        signal = self._signal()
        if not isinstance(signal, Agreement):
            raise ConfigError("CascadeRouter.fit plans agreement cascades only; give a judge cascade its stages")
        scores, costs = outcome_matrices(dataset, self.catalog, self.candidates)
        self.scorers_ = scorers_for(signal.scorers, None, dataset)
        keys = _answer_keys(dataset, list(scores.columns), self.scorers_)
        prompts = dataset.prompts.set_index("prompt_id")
        ids = prompts.index[prompts.index.isin(scores.index)]
        s, c = scores.loc[ids], costs.loc[ids]
        k = _codes(keys.reindex(index=ids, columns=list(scores.columns)))
        task = prompts.loc[ids, "task"].astype(str).to_numpy()
        overall = s.mean()
        ranked = overall.dropna().sort_values(ascending=False).index
        finals = list(self.finals) if self.finals is not None else list(ranked[:3])
        best = str(overall.idxmax()) if overall.notna().any() else None
        cheap = sorted(s.columns, key=lambda m: (c[m].mean(), m))
        plans: dict[str, _GroupPlan] = {}
        self.skipped_ = {}
        for g, mask in {"*": np.ones(len(ids), dtype=bool), **{t: task == t for t in sorted(set(task))}}.items():
            plan = _GroupPlan.build(s[mask], c[mask], k[mask], (finals, cheap, self.max_chain), best)
            if plan is None:  # no model has a score here: the task takes the overall plan
                self.skipped_[g] = "no model has a recorded score for this task in the train data"
                continue
            plans[g] = plan
            if plan.left_out:
                log.info("%s: task %r planned without %s (no score on every planned prompt)", self.name, g,
                         plan.left_out)
        if "*" not in plans:
            raise MissingOutcomeError("CascadeRouter.fit: no prompt of the train data has a recorded score")
        sims = {g: p.sims for g, p in plans.items()}
        tasks = [g for g in plans if g != "*"]
        chosen = _best_within_budget(sims, tasks, self.budget * sum(plans[g].best_cost for g in tasks))
        chosen["*"] = _best_within_budget(sims, ["*"], self.budget * plans["*"].best_cost)["*"]
        self.stages_ = {g: _stages_of(*plans[g].configs[j]) for g, j in chosen.items()}
        self.plan_ = pd.DataFrame([{"task": g, "stages": self.stages_[g], "train_quality": sims[g][j][0] / plans[g].n,
                                    "train_cost": sims[g][j][1], "left_out": plans[g].left_out}
                                   for g, j in chosen.items()])
        if all(len(st) == 1 for st in self.stages_.values()):
            log.warning("%s: within the budget no agreement cascade beat a single model on any task; the plan "
                        "(plan_) calls one model per task", self.name)
        return self


@dataclass
class _GroupPlan:
    """The candidate plans of one task (or ``"*"``) and their train figures.

    Only the models with a score on the same prompts can be compared: the models with the fewest scores
    leave the task's plans (``left_out``) until some prompts have a score (and cost) from every model
    left; the plans are replayed on those ``n`` prompts.
    """

    configs: list[tuple[tuple[str, ...], str | None]]
    sims: list[tuple[float, float]]
    n: int
    best_cost: float  # the train cost of the best single model (its budget unit)
    left_out: list[str]

    @classmethod
    def build(cls, s: pd.DataFrame, c: pd.DataFrame, k: pd.DataFrame,
              options: tuple[list[str], list[str], int], best: str | None) -> _GroupPlan | None:
        """``options``: (finals, models cheaper first, max_chain); ``best``: the best single model overall.
        None when no model has a score here."""
        finals, cheap, max_chain = options
        known = s.notna() & c.notna()
        models = [m for m in s.columns if known[m].any()]
        rows = known[models].all(axis=1).to_numpy()
        while models and not rows.any():
            models.remove(min(models, key=lambda m: (int(known[m].sum()), m)))
            rows = known[models].all(axis=1).to_numpy()
        if not models:
            return None
        configs: list[tuple[tuple[str, ...], str | None]] = [((), m) for m in models]
        ends = [f for f in finals if f in models]
        for n in range(2, max(2, max_chain) + 1):
            for chain in itertools.combinations([m for m in cheap if m in models], n):
                configs += [(chain, f) for f in [*ends, *([None] if n >= 3 else [])] if f not in chain]
        sc, cc, kc = ({m: x[m].to_numpy()[rows] for m in models} for x in (s, c, k))
        single = best if best in models else max(models, key=lambda m: (sc[m].mean(), -cc[m].sum()))
        return cls(configs, [_simulate(chain, final, sc, cc, kc) for chain, final in configs], int(rows.sum()),
                   float(cc[single].sum()), [m for m in s.columns if m not in models])


def _answer_keys(dataset: Any, models: list[str], scorers: TaskScorers) -> pd.DataFrame:
    """prompt × model table of normalised answers (as the Agreement signal reads them in a replay).

    Raises DatasetError when a task has no answer at all for the candidates: agreement would then
    never accept, and the plan would silently be one model per task.
    """
    full = dataset.outcomes.df
    wanted = np.flatnonzero((full["model"].isin(models) & (full["sample"] == 0)).to_numpy())
    if hasattr(dataset, "answers") and "normalized" in full.columns:  # read by the data set's scorers, once
        normalized = dataset.answers(wanted).to_numpy(dtype=object)
    df = full.iloc[wanted].merge(dataset.prompts[["prompt_id", "task"]], on="prompt_id")
    if "normalized" in full.columns:
        keys = np.array([k if isinstance(k, str) else None for k in normalized], dtype=object)
    else:
        keys = np.array([answer_key(Completion(text=t if isinstance(t, str) else "", model=m), task, scorers)
                         for t, m, task in zip(df["response"], df["model"], df["task"])], dtype=object)
    found = pd.Series([k is not None for k in keys], index=df.index).groupby(df["task"].to_numpy()).sum()
    empty = sorted(str(t) for t, n in found.items() if n == 0)
    if empty:
        raise DatasetError(
            f"agreement needs answers, but the outcomes of {models} hold none for task(s) {empty} (scorer: "
            f"{scorers.for_task(empty[0])!r}): name a scorer that reads these responses (load(..., scorers="
            f"{{{empty[0]!r}: 'numeric'}}), 'multiple-choice', ...), or import a prediction column",
            field="normalized")
    return pd.DataFrame({"prompt_id": df["prompt_id"].to_numpy(), "model": df["model"].to_numpy(),
                         "key": keys}).pivot(index="prompt_id", columns="model", values="key")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _codes(k: pd.DataFrame) -> pd.DataFrame:
    """Answer keys as integers shared across models (-1: no answer), so agreement is an == test."""
    flat = pd.Series(k.to_numpy(dtype=object).ravel(), dtype=object)
    # a prompt without an answer (None, or the NaN a pivot turns it into) is no vote, never a shared key
    codes, _ = pd.factorize(flat.map(lambda v: None if _missing(v) else (type(v).__name__, v)), use_na_sentinel=True)
    return pd.DataFrame(codes.reshape(k.shape), index=k.index, columns=k.columns)


def _simulate(chain: tuple[str, ...], final: str | None, s: Mapping[str, np.ndarray], c: Mapping[str, np.ndarray],
              k: Mapping[str, np.ndarray]) -> tuple[float, float]:
    """(total quality, total cost) of one plan on recorded outcomes, exactly as :meth:`answer` runs it.

    ``s``, ``c``, ``k``: model → scores, costs and integer answer codes (see :func:`_codes`) per prompt.
    """
    if not chain:
        assert final is not None, "a plan with no stages needs a final model"
        return float(s[final].sum()), float(c[final].sum())
    order = list(chain) if final is not None else list(chain[:-1])
    last = final if final is not None else chain[-1]
    n = len(s[last])
    done = np.zeros(n, dtype=bool)
    quality = np.zeros(n)
    cost = np.zeros(n)
    for i, m in enumerate(order):
        cost += np.where(done, 0.0, c[m])
        # the new answer against each earlier one, earliest first: the earliest holder answers
        new = k[m]
        for prev in order[:i]:
            agree = ~done & (new >= 0) & (new == k[prev])
            quality = np.where(agree, s[prev], quality)
            done |= agree
    cost += np.where(done, 0.0, c[last])
    quality = np.where(done, quality, s[last])
    return float(quality.sum()), float(cost.sum())


def _pareto(points: list[tuple[float, float, Any]]) -> list[tuple[float, float, Any]]:
    """The (cost, quality, payload) points on the cost-quality frontier (:func:`routerlab.stats.pareto_front`),
    cheaper first; of identical (cost, quality) points the first given."""
    if not points:
        return []
    front = pareto_front([p[0] for p in points], [p[1] for p in points])
    return [points[i] for i in front]


def _best_within_budget(sims: Mapping[str, list[tuple[float, float]]], groups: list[str],
                        budget: float) -> dict[str, int]:
    """One plan per group maximising the summed quality with the summed cost within ``budget``.

    Exact: groups are merged one at a time keeping only the Pareto-optimal combinations.
    """
    front: list[tuple[float, float, dict[str, int]]] = [(0.0, 0.0, {})]
    for g in groups:
        options = _pareto([(cst, q, j) for j, (q, cst) in enumerate(sims[g])])
        merged = [(c0 + c1, q0 + q1, {**picks, g: j}) for c0, q0, picks in front for c1, q1, j in options
                  if c0 + c1 <= budget]
        if not merged:  # nothing fits: the cheapest plan of every group
            return {h: int(np.argmin([cst for _, cst in sims[h]])) for h in groups}
        front = _pareto(merged)
    return front[-1][2]


def _stages_of(chain: tuple[str, ...], final: str | None) -> list[tuple[str, ...]]:
    if not chain:
        return [(final,)] if final else []
    if final is None:  # the last chain model is the final stage
        chain, final = chain[:-1], chain[-1]
    return [tuple(chain[:2])] + [(m,) for m in chain[2:]] + [(final,)]
