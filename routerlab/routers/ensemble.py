"""Ensembles: several models answer; a vote (Consensus) or a judge (BestOfN) picks the answer.

**Consensus** calls its models in parallel and votes over their *normalised* answers (what the
task's scorer reads, :func:`routerlab.routers.cascade.answer_key`; under a numeric scorer ``"$18"``
and ``"18.0"`` are one vote), optionally weighted per model. The winner
needs at least ``min_agreement`` of the total weight, else the ``fallback`` model's answer is used
(without one: the plurality answer, flagged ``consensus=False``). Calls are taken in the order they
finish (their reported latency, so a replay behaves as a live run would) and the vote stops as soon as
the outcome cannot change: the remaining calls are cancelled and not charged. Cost is summed over the
calls that counted; latency is the slowest call awaited.

**BestOfN** asks ``n`` models (or one model ``n`` times, with sample indices), then a judge compares
candidates pairwise, each pair in both orders (A/B then B/A); a candidate replaces the incumbent only
when both orders prefer it, so disagreement between orders is a tie and an unparseable verdict is
recorded as missing (the incumbent stays: never a win for whichever came first in the prompt). The
judge's calls are charged. See :mod:`routerlab.routers.judge` for the injection-safe prompt.

Example::

    >>> from routerlab.routers.ensemble import Consensus, BestOfN
    >>> from routerlab.routers.judge import LLMJudge, SimulatedJudge
    >>> vote = Consensus(["gpt-4o-mini", "gemini-1.5-flash", "llama-3.1-70b"], min_agreement=0.5)
    >>> best = BestOfN(["gpt-4o-mini", "llama-3.1-70b"], LLMJudge("gpt-4o-mini", caller=SimulatedJudge()))
    >>> vote.name, best.name
    ('consensus', 'best-of-n')
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

from ..errors import ConfigError, RouterlabError
from ..types import Answer, Caller, Completion, Request
from .base import BaseStrategy
from .cascade import answer_key, scorers_for

__all__ = ["Consensus", "BestOfN"]


@dataclass(eq=False, repr=False)
class Consensus(BaseStrategy):
    """Parallel calls, a weighted vote over normalised answers, early stop once decided (a Strategy).

    Parameters
    ----------
    models: the voters, in preference order (ties go to the answer whose first voter comes first).
    weights: model → vote weight (default 1 each).
    min_agreement: share of the total weight the winner needs for a consensus (in (0, 1]).
    fallback: model whose answer is used when no answer reaches ``min_agreement`` (one of ``models``,
        or another model, then called after the vote); ``None``: the plurality answer.
    early_stop: stop (and cancel the rest) once the outcome is decided.
    scorers: the scorers that read the answers (a mapping task -> scorer or name, one scorer, or a
        Dataset); default: those of the data set the caller replays, else exact match.
    """

    models: Sequence[str]
    _: KW_ONLY
    weights: Mapping[str, float] | None = None
    min_agreement: float = 0.5
    fallback: str | None = None
    early_stop: bool = True
    name: str = "consensus"
    scorers: Any = None

    def _validate(self) -> None:
        models = self.models
        if isinstance(models, str) or len(models) < 2:
            raise ConfigError(f"Consensus needs at least two models, got {models!r}")
        if len(set(models)) != len(models):
            raise ConfigError(f"Consensus models must be distinct, got {list(models)}")
        if not 0 < self.min_agreement <= 1:
            raise ConfigError(f"Consensus min_agreement must be in (0, 1], got {self.min_agreement}")
        w = {m: float((self.weights or {}).get(m, 1.0)) for m in models}
        if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
            raise ConfigError(f"Consensus weights must be >= 0 with a positive total, got {self.weights}")
        unknown = set(self.weights or {}) - set(models)
        if unknown:
            raise ConfigError(f"Consensus weights name models that do not vote: {sorted(unknown)}")

    @property
    def _w(self) -> dict[str, float]:
        """model -> vote weight (computed once per parameter set)."""
        w = self.__dict__.get("_cache_w")
        if w is None:
            w = self._cache_w = {m: float((self.weights or {}).get(m, 1.0)) for m in self.models}
        return w

    @property
    def _order(self) -> dict[str, int]:
        """model -> its position in ``models`` (preference order)."""
        order = self.__dict__.get("_cache_order")
        if order is None:
            order = self._cache_order = {m: i for i, m in enumerate(self.models)}
        return order

    # -- the vote ----------------------------------------------------------------------------------
    def _tally(self, got: list[tuple[Completion, Hashable | None]]) -> list[tuple[Hashable, float, int]]:
        """(answer, weight, first voter's position) per answer, best first."""
        order = self._order
        votes: dict[Hashable, list[float]] = {}
        for c, key in got:
            if key is None:
                continue
            w, first = votes.setdefault(key, [0.0, float(len(self.models))])
            votes[key] = [w + self._w[c.model], min(first, order[c.model])]
        return sorted(((k, v[0], int(v[1])) for k, v in votes.items()), key=lambda t: (-t[1], t[2]))

    def _decided(self, got: list[tuple[Completion, Hashable | None]], remaining: float) -> bool:
        """True when no outcome of the remaining calls can change the result."""
        if remaining <= 0:
            return True
        total = sum(self._w.values())
        need = self.min_agreement * total
        tally = self._tally(got)
        lead = tally[0][1] if tally else 0.0
        second = tally[1][1] if len(tally) > 1 else 0.0
        if tally and lead >= need and lead > second + remaining:
            return True  # the leader wins whatever comes
        if lead + remaining < need:  # no consensus is possible any more
            if self.fallback is not None:
                return any(c.model == self.fallback for c, _ in got) or self.fallback not in self._w
            return bool(tally) and lead > second + remaining  # the plurality winner is fixed
        return False

    async def answer(self, request: Request, caller: Caller) -> Answer:
        self.validate()
        tasks = {asyncio.ensure_future(caller.complete(request, m)): m for m in self.models}
        total = sum(self._w.values())
        arrived: list[Completion] = []
        keys: dict[int, Hashable | None] = {}
        failed: list[str] = []
        failures: list[BaseException] = []
        pending = set(tasks)
        scorers = scorers_for(self.scorers, caller)
        try:
            while True:
                # answers are taken in the order they finished: by reported latency (in a replay they all
                # arrive at once, so this is what makes the early stop behave as it would live)
                arrived.sort(key=lambda c: (c.latency, self._order[c.model]))
                left = total - sum(self._w[m] for m in failed)
                counted: list[tuple[Completion, Hashable | None]] = []
                decided = False
                for c in arrived:
                    if id(c) not in keys:
                        keys[id(c)] = answer_key(c, request.task, scorers)
                    counted.append((c, keys[id(c)]))
                    left -= self._w[c.model]
                    if self.early_stop and self._decided(counted, left):
                        decided = True
                        break
                if decided or not pending:
                    break
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    exc = t.exception()
                    if exc is None:
                        arrived.append(t.result())
                    elif isinstance(exc, RouterlabError):
                        failed.append(tasks[t])
                        failures.append(exc)
                    else:
                        raise exc
        finally:
            for t in pending:
                t.cancel()
        if not counted:
            raise failures[0] if failures else ConfigError("Consensus got no answer")
        return await self._result(request, caller, counted, arrived, failures)

    async def _result(self, request: Request, caller: Caller, counted: list[tuple[Completion, Hashable | None]],
                      arrived: list[Completion], failures: list[BaseException]) -> Answer:
        tally = self._tally(counted)
        total = sum(self._w.values())
        latency = max(c.latency for c, _ in counted)
        calls = [c for c, _ in counted]
        # calls that came back but were not needed (live: they finished in the same instant) are charged too
        calls += [c for c in arrived if c not in calls and not c.simulated_latency]
        info: dict[str, Any] = {"votes": {str(k): w for k, w, _ in tally}, "total_weight": total,
                                "calls_counted": len(counted), "not_needed": len(self.models) - len(counted) - len(failures),
                                "failed_calls": len(failures)}
        winner = tally[0] if tally else None
        if winner is not None and winner[1] >= self.min_agreement * total:
            answering = next(c for c, k in counted if k == winner[0])
            info.update(consensus=True, agreement=winner[1] / total, answered_by=answering.model)
        elif self.fallback is not None:
            found = next((c for c in calls if c.model == self.fallback), None)
            if found is None:
                found = await caller.complete(request, self.fallback)
                latency += found.latency
                calls.append(found)
            answering = found
            info.update(consensus=False, agreement=(winner[1] / total if winner else 0.0), answered_by=answering.model,
                        fallback=True)
        else:
            answering = next(c for c, k in counted if k == winner[0]) if winner else calls[0]
            info.update(consensus=False, agreement=(winner[1] / total if winner else 0.0), answered_by=answering.model)
        others = [c for c in calls if c is not answering]
        return Answer(answering.text, answering.model, tuple(others + [answering]), latency, info)


@dataclass(eq=False, repr=False)
class BestOfN(BaseStrategy):
    """``n`` candidates, then a pairwise judge in both orders keeps the best (a Strategy).

    Parameters
    ----------
    models: the candidates' models, in preference order (the first is the first incumbent). With one
        model and ``n > 1`` it is sampled ``n`` times (sample indices 0..n-1; set a temperature).
    judge: an :class:`~routerlab.routers.judge.LLMJudge` (offline: with a
        :class:`~routerlab.routers.judge.SimulatedJudge` as its caller).
    n: candidates when ``models`` has one model.
    """

    models: Sequence[str]
    judge: Any
    _: KW_ONLY
    n: int | None = None
    name: str = "best-of-n"

    def _validate(self) -> None:
        models, n = self.models, self.n
        if isinstance(models, str) or not models:
            raise ConfigError(f"BestOfN needs a list of at least one model, got {models!r}")
        if n is not None and len(models) > 1 and n != len(models):
            raise ConfigError(f"BestOfN n={n} but {len(models)} models: give one model to sample n times, or omit n")
        if (n or len(models)) < 2:
            raise ConfigError("BestOfN needs at least two candidates")
        if not callable(getattr(self.judge, "compare", None)):
            raise ConfigError(f"BestOfN judge={self.judge!r} has no compare(request, first, second, caller) method: "
                              "give it an LLMJudge")

    async def answer(self, request: Request, caller: Caller) -> Answer:
        self.validate()
        if len(self.models) == 1:
            reqs = [(request.with_(sample=request.sample * (self.n or 1) + i), self.models[0]) for i in range(self.n or 1)]
        else:
            reqs = [(request, m) for m in self.models]
        results = await asyncio.gather(*(caller.complete(r, m) for r, m in reqs), return_exceptions=True)
        cands: list[Completion] = []
        failures = 0
        for r in results:
            if isinstance(r, Completion):
                cands.append(r)
            elif isinstance(r, RouterlabError):
                failures += 1
            else:
                raise r
        if not cands:
            raise next(r for r in results if isinstance(r, BaseException))
        latency = max(c.latency for c in cands)
        judge_calls: list[Completion] = []
        rounds = []
        best = 0
        for j in range(1, len(cands)):
            a, b = cands[best], cands[j]
            ab, ba = await asyncio.gather(
                self.judge.compare(request, a.text, b.text, caller, models=(a.model, b.model)),
                self.judge.compare(request, b.text, a.text, caller, models=(b.model, a.model)))
            judge_calls += [ab.completion, ba.completion]
            latency += max(ab.completion.latency, ba.completion.latency)
            # in the second order the challenger is A: map both verdicts to "incumbent"/"challenger"
            first = {"A": "incumbent", "B": "challenger", "TIE": "tie"}.get(ab.verdict or "", "missing")
            second = {"A": "challenger", "B": "incumbent", "TIE": "tie"}.get(ba.verdict or "", "missing")
            if "missing" in (first, second):
                outcome = "missing"
            elif first == second:
                outcome = first
            else:
                outcome = "tie"  # the orders disagree: position, not quality, decided
            if outcome == "challenger":
                best = j
            rounds.append({"incumbent": a.model, "challenger": b.model, "verdicts": [ab.verdict, ba.verdict],
                           "outcome": outcome})
        answering = cands[best]
        others = [c for c in cands if c is not answering]
        simulated = any(c.provider == "simulated-judge" for c in judge_calls)
        info = {"answered_by": answering.model, "candidate": best, "candidates": len(cands), "rounds": rounds,
                "judge": getattr(self.judge, "label", repr(self.judge)), "judge_simulated": simulated,
                "missing_verdicts": sum(r["verdicts"].count(None) for r in rounds), "failed_calls": failures}
        return Answer(answering.text, answering.model, tuple(others + judge_calls + [answering]), latency, info)
