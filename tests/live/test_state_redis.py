"""Issue 15 part 3: each shared-state object over a real Redis behaves as its in-memory twin, and two of them
(two replicas) see one state."""

from __future__ import annotations

import logging
import time

import pytest

from routerlab.errors import StoreError
from routerlab.live.breaker import BreakerConfig, BreakerState, CircuitBreaker
from routerlab.live.config import BudgetPolicy, StateSettings
from routerlab.live.quota import BudgetExceeded
from routerlab.live.state import open_state
from routerlab.live.state.breakers import REFRESH
from routerlab.types import Completion


@pytest.fixture
def states(redis_server):
    """Two replicas' state backends on one Redis namespace."""
    settings = StateSettings(backend="redis", url=redis_server.url, namespace=f"u{time.monotonic_ns()}", cache=True)
    a, b = open_state(settings), open_state(settings)
    yield a, b
    a.close()
    b.close()


def test_the_shared_breaker_runs_the_state_machine_of_the_local_one(states):
    a, _ = states
    config = BreakerConfig(window=6, minimum_calls=4, failure_rate=0.5, open_duration=60.0, slow_call_duration=1.0,
                           slow_call_rate=0.75)
    t = [0.0]
    local = CircuitBreaker("P1", config, clock=lambda: t[0])
    shared = a.breakers()("P1", config, clock=time.monotonic)
    outcomes = ["s", "f", "s", "slow", "f", "s", "s", "s", "f", "s", "f", "f"]
    for o in outcomes:
        for br in (local, shared):
            permit = br.acquire()
            if o == "f":
                br.record_failure(permit, 0.1)
            else:
                br.record_success(permit, 2.0 if o == "slow" else 0.1)
        assert (shared.state, shared.calls, shared.failure_rate, shared.slow_rate) == \
               (local.state, local.calls, local.failure_rate, local.slow_rate)
    assert shared.state is BreakerState.OPEN and shared.acquire() is None
    assert [(x.source, x.target, x.reason) for x in shared.transitions] == \
           [(x.source, x.target, x.reason) for x in local.transitions]
    assert 59 < shared.open_until - time.monotonic() <= 60


def test_half_open_admits_the_probes_once_for_all_replicas_and_open_periods_grow(states):
    a, b = states
    config = BreakerConfig(window=4, minimum_calls=2, open_duration=0.3, half_open_probes=2)
    one, two = a.breakers()("P1", config, clock=time.monotonic), b.breakers()("P1", config, clock=time.monotonic)
    for _ in range(2):
        one.record_failure(one.acquire(), 0.1)
    assert two.acquire() is None and two.state is BreakerState.OPEN  # opened by the other replica
    time.sleep(0.35)
    probes = [one.acquire(), two.acquire(), one.acquire()]
    assert [p is not None and p.probe for p in probes] == [True, True, False]  # two probes in all
    one.record_failure(probes[0], 0.1)
    assert one.transitions[-1].target is BreakerState.OPEN and one.transitions[-1].reason == "probe failed; open 0.6s"
    time.sleep(REFRESH + 0.01)  # what a replica reads may be this old
    assert two.state is BreakerState.OPEN and two.failure_rate == 1.0  # the rate that opened it: a failed probe
    two.record_success(probes[1], 0.1)  # a late answer from before the re-opening changes nothing
    assert one.state is BreakerState.OPEN and one.consecutive_openings == 2
    one.reset()
    time.sleep(REFRESH + 0.01)
    assert two.state is BreakerState.CLOSED and two.consecutive_openings == 0


def test_two_replicas_admit_no_more_than_one_rpm_limit(states):
    a, b = states
    la, lb = a.limits({"P1": (5, None)}, clock=time.monotonic), b.limits({"P1": (5, None)}, clock=time.monotonic)
    admitted = [x.ok("P1", 10) for x in (la, lb, la, lb, la, lb, la)]
    assert admitted == [True] * 5 + [False] * 2
    assert 11 < lb.wait("P1", 10) <= 12.1  # one request every 12 s after the burst
    for _ in range(3):
        la.take("P1", 10)  # the attempts of admitted calls use what ok() took
    assert not la.ok("P1", 10)


def test_one_budget_for_two_replicas_holds_reservations_and_a_dead_replicas_holds_expire(states, monkeypatch):
    from routerlab.live.state import quota

    a, b = states
    policy = BudgetPolicy(total=1.0, per_model={"m": 0.5})
    la, lb = a.ledger(policy), b.ledger(policy)
    held = la.reserve("m", "openai", 0.3)
    with pytest.raises(BudgetExceeded, match=r"m spend \$0.000000 \(\+ \$0.300000 held .* cap \$0.5") as exc:
        lb.reserve("m", "openai", 0.3)
    assert exc.value.scope == "model"
    la.charge("m", "openai", "P1", (100, 50), 0.25, ok=True)
    la.release(held)
    assert lb.spent("model", "m") == pytest.approx(0.25) and lb.total == pytest.approx(0.25) and lb.held() == 0
    lb.charge("m", "anthropic", "P2", (10, 5), 0.05, ok=False)
    frame = la.frame("deployment").set_index("deployment")
    assert frame.loc["P1", "answers"] == 1 and frame.loc["P2", "failed_attempts"] == 1
    assert frame["cost"].sum() == pytest.approx(0.30)
    monkeypatch.setattr(quota, "HOLD_TTL", 1)
    la.reserve("m", "openai", 0.15)  # held by a replica that then dies without releasing it
    with pytest.raises(BudgetExceeded):
        lb.reserve("m", "openai", 0.15)
    time.sleep(1.1)
    lb.reserve("m", "openai", 0.15)  # its hold expired


def test_cooldowns_and_the_exact_cache_are_one_for_all(states, tmp_path):
    a, b = states
    ca, cb = a.cooldowns(time.monotonic), b.cooldowns(time.monotonic)
    until = ca.extend("P1", time.monotonic() + 7.0)
    assert 6.9 < cb.get("P1") - time.monotonic() <= 7.0 and abs(until - cb.get("P1")) < 0.05
    assert cb.extend("P1", time.monotonic() + 1.0) == pytest.approx(until, abs=0.05)  # never shortened
    cb.clear("P1")
    time.sleep(0.06)
    assert ca.get("P1") is None
    xa, xb = a.exact_cache(None), b.exact_cache(str(tmp_path / "disk"))
    xa.put("k" * 64, Completion(text="4", model="gpt-4o-mini", input_tokens=3, output_tokens=1, cost=1e-6))
    hit = xb.get("k" * 64)
    assert hit is not None and hit.cached and hit.text == "4" and hit.cost == 1e-6
    a.link.client.set(a.link.key("cache", "z" * 64), '{"format": 1, "sha256": "0", "body": "{}"}')
    with pytest.raises(StoreError, match="corrupt"):
        xb.get("z" * 64)


def test_after_an_outage_the_replica_uses_shared_state_again(redis_server, caplog):
    settings = StateSettings(backend="redis", url=redis_server.url, namespace="back", retry_after=0.2)
    state = open_state(settings)
    link = state.link
    real = link.client
    with caplog.at_level(logging.WARNING, logger="routerlab.gateway"):
        link.client = type(real).from_url("redis://127.0.0.1:1/0", socket_timeout=0.1, socket_connect_timeout=0.1)
        assert link.call(lambda: link.client.ping(), lambda: "own") == "own"
        assert not link.up and link.call(lambda: "shared", lambda: "own") == "own"  # no new try before retry_after
        link.client = real
        time.sleep(0.25)
        assert link.call(lambda: "shared", lambda: "own") == "shared"
    assert "is unreachable" in caplog.text and "answers again" in caplog.text and link.outages == 1
    state.close()
