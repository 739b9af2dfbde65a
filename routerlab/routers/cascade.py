"""CascadeRouter (FrugalGPT): ask cheap models first, accept their answer when a signal says it is
good, escalate to stronger models otherwise. A Strategy: ``await cascade.answer(request, caller)``.

Two acceptance signals ship:

- :class:`Agreement` — accept once ``min_votes`` answers given so far agree, compared as *extracted,
  normalised* answers (:func:`routerlab.scoring.extract_answer` then
  :func:`routerlab.scoring.normalize_answer` for the request's task), so ``"$1,000"`` and ``1000.0``
  agree and two different texts with the same number agree. The answer returned is the earliest
  (cheapest) call holding the agreed answer.
- :class:`JudgeVerdict` — a judge model (:class:`routerlab.routers.judge.LLMJudge`; offline a
  :class:`~routerlab.routers.judge.SimulatedJudge`) grades the stage's answer; ``YES`` accepts, ``NO`` or an
  unparseable reply escalates. The judge's calls are charged.

``stages`` is a list of stages, each a model or a tuple of models called in parallel; the last stage
is always accepted. A mapping ``task -> stages`` (key ``"*"`` for the rest) gives each task its own
cascade; :meth:`CascadeRouter.fit` plans such a mapping from recorded outcomes under a cost budget.
Cost and tokens are the sum over the calls made; latency is the sum over stages of each stage's
slowest call (plus the judge's); ``Answer.info`` says which stage answered and why.

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
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import ConfigError, NotFittedError, RouterlabError
from ..types import Answer, Caller, Completion, Request
from .base import BaseStrategy
from .baselines import outcome_matrices
from .params import Params

__all__ = ["CascadeRouter", "Signal", "Agreement", "JudgeVerdict", "Check", "answer_key"]


def answer_key(text: str, model: str | None, task: str | None) -> Hashable | None:
    """The extracted, normalised answer of ``text`` for ``task`` (None when no answer is found)."""
    from ..scoring import extract_answer, normalize_answer

    return normalize_answer(extract_answer(text, model), task or "default")


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
    """Accept when at least ``min_votes`` (>= 2) of the answers so far agree (extracted + normalised).

    Example::

        >>> Agreement(min_votes=3)
        Agreement(min_votes=3)
    """

    min_votes: int = 2

    name = "agreement"

    def _validate(self) -> None:
        if isinstance(self.min_votes, bool) or not isinstance(self.min_votes, int) or self.min_votes < 2:
            raise ConfigError(f"Agreement min_votes must be an integer >= 2, got {self.min_votes!r}")

    async def check(self, request: Request, calls: list[Completion], stage: list[Completion], caller: Caller) -> Check:
        self.validate()
        votes: dict[Hashable, list[Completion]] = {}
        for c in calls:
            key = answer_key(c.text, c.model, request.task)
            if key is not None:
                votes.setdefault(key, []).append(c)
        if not votes:
            return Check(False, info={"votes": 0})
        key, holders = max(votes.items(), key=lambda kv: len(kv[1]))  # first-seen key wins ties
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
            check = await signal.check(request, calls, got, caller)
            calls += check.extra_calls
            latency += check.latency
            checks.append({"stage": i, **check.info})
            if check.accepted and check.answer is not None:
                answering, accepted_by, stage_no = check.answer, signal.name, i
                break
        assert answering is not None
        others = [c for c in calls if c is not answering]
        info: dict[str, Any] = {"stage": stage_no, "stages": len(stages), "answered_by": answering.model,
                                "accepted_by": accepted_by, "escalations": stage_no, "signal": signal.name,
                                "checks": checks, "failed_calls": len(failures)}
        judged = [c for c in checks if "judge" in c]
        if judged:
            info["judge"] = judged[0]["judge"]
            info["judge_simulated"] = any(c.get("judge_simulated") for c in judged)
        return Answer(answering.text, answering.model, tuple(others + [answering]), latency, info)

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
        """
        self.validate()
        if not isinstance(self._signal(), Agreement):
            raise ConfigError("CascadeRouter.fit plans agreement cascades only; give a judge cascade its stages")
        catalog = self.catalog or Catalog.default()
        scores, costs = outcome_matrices(dataset, catalog, self.candidates)
        keys = _answer_keys(dataset, list(scores.columns))
        prompts = dataset.prompts.set_index("prompt_id")
        full = scores.index[scores.notna().all(axis=1).to_numpy()].intersection(keys.index)
        ids = prompts.index[prompts.index.isin(full)]
        s, c = scores.loc[ids], costs.loc[ids]
        k = _codes(keys.loc[ids, list(scores.columns)])
        task = prompts.loc[ids, "task"].astype(str).to_numpy()
        models = list(s.columns)
        mean_cost = c.mean()
        finals = list(self.finals) if self.finals is not None else list(s.mean().sort_values(ascending=False).index[:3])
        cheap = sorted(models, key=lambda m: (mean_cost[m], m))
        configs: list[tuple[tuple[str, ...], str | None]] = [((), m) for m in models]
        for n in range(2, max(2, self.max_chain) + 1):
            for chain in itertools.combinations(cheap, n):
                configs += [(chain, f) for f in [*finals, *([None] if n >= 3 else [])] if f not in chain]
        groups = {"*": np.ones(len(ids), dtype=bool), **{t: task == t for t in sorted(set(task))}}
        sims = {}
        for g, mask in groups.items():
            cols = ({m: s[m].to_numpy()[mask] for m in models}, {m: c[m].to_numpy()[mask] for m in models},
                    {m: k[m].to_numpy()[mask] for m in models})
            sims[g] = [_simulate(chain, final, *cols) for chain, final in configs]
        best_single_cost = float(c[s.mean().idxmax()].sum())
        budget = self.budget * best_single_cost
        chosen = _best_within_budget(sims, [g for g in groups if g != "*"], budget)
        chosen["*"] = _best_within_budget(sims, ["*"], budget)["*"]
        self.stages_ = {g: _stages_of(*configs[j]) for g, j in chosen.items()}
        self.plan_ = pd.DataFrame([{"task": g, "stages": self.stages_[g], "train_quality": sims[g][j][0] / groups[g].sum(),
                                    "train_cost": sims[g][j][1]} for g, j in chosen.items()])
        return self


def _answer_keys(dataset: Any, models: list[str]) -> pd.DataFrame:
    """prompt × model table of extracted, normalised answers (as the Agreement signal computes them)."""
    from ..scoring import normalize_answer

    df = dataset.outcomes.df
    df = df[df["model"].isin(models)].merge(dataset.prompts[["prompt_id", "task"]], on="prompt_id")
    if "answer" in df.columns:  # scored data sets carry the extracted answer already: normalise only
        # no extracted answer is stored as a missing value (NaN), never a key: as answer_key gives None
        keys = [normalize_answer(a if isinstance(a, str) else None, task or "default")
                for a, task in zip(df["answer"], df["task"])]
    else:
        keys = [answer_key(t, m, task) for t, m, task in zip(df["response"], df["model"], df["task"])]
    return pd.DataFrame({"prompt_id": df["prompt_id"].to_numpy(), "model": df["model"].to_numpy(),
                         "key": pd.Series(keys, dtype=object).to_numpy()}).pivot(
        index="prompt_id", columns="model", values="key")


def _codes(k: pd.DataFrame) -> pd.DataFrame:
    """Answer keys as integers shared across models (-1: no answer), so agreement is an == test."""
    flat = pd.Series(k.to_numpy(dtype=object).ravel(), dtype=object)
    codes, _ = pd.factorize(flat.map(lambda v: None if v is None else (type(v).__name__, v)), use_na_sentinel=True)
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
    """The (cost, quality, payload) points no other point beats on both (cheaper first)."""
    out: list[tuple[float, float, Any]] = []
    for cost, quality, payload in sorted(points, key=lambda p: (p[0], -p[1])):
        if not out or quality > out[-1][1]:
            out.append((cost, quality, payload))
    return out


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
