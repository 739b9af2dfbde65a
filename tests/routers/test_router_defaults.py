"""builtin_strategies: every built-in strategy, fitted on a train split, runnable by the harness."""

from __future__ import annotations

import numpy as np

from routerlab._aio import run_sync
from routerlab.providers.replay import ReplayCaller
from routerlab.routers import builtin_strategies


def test_every_builtin_strategy_is_a_router_or_a_strategy_and_runs(small_split):
    train, test = small_split
    strategies = builtin_strategies(train, seed=0, evaluation=test)
    assert set(strategies) == {"oracle", "random", "capability", "task", "cascade-agreement",
                               "cascade-judge", "consensus", "best-of-n"}
    caller = ReplayCaller(test)
    reqs = test.requests()[:6]
    for name, s in strategies.items():
        assert hasattr(s, "route") != hasattr(s, "answer"), name
        if hasattr(s, "route"):
            assert s.prompt_only
            picks = s.route_many(test.prompts)
            assert isinstance(picks, np.ndarray) and len(picks) == len(test)
        else:
            for r in reqs:
                a = run_sync(s.answer(r, caller))
                assert a.calls and a.cost > 0
                if "judge" in name or name == "best-of-n":
                    assert a.info.get("judge_simulated") in (True, None) or a.info.get("accepted_by") == "final"
    assert strategies["task"].task_field == "task"


def test_without_train_only_unfitted_strategies():
    s = builtin_strategies(None)
    assert "oracle" not in s and "learned" not in s and {"random", "capability", "consensus"} <= set(s)


def test_learners_group_fits_every_family_on_train(small_split):
    from routerlab.routers.defaults import GROUPS, expand_groups

    train, test = small_split
    learners = builtin_strategies(train, groups=["learners"])
    assert list(learners) == list(GROUPS["learners"])
    for name, s in learners.items():
        assert callable(getattr(s, "sweep", None)), name
        pts = s.sweep(test).points
        assert len(pts) > 10 and pts["quality"].between(0, 1).all()
    assert set(builtin_strategies(train, groups=["all"])) == set(GROUPS["default"]) | set(GROUPS["learners"])
    assert expand_groups(["learners", "gpt-4o"]) == (["learners"], [*GROUPS["learners"], "gpt-4o"])
    import pytest
    from routerlab.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown strategy group"):
        builtin_strategies(train, groups=["fancy"])
