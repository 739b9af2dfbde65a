"""CircuitBreaker, ProviderHealth and LoadBalancer on a hand-driven clock."""

from __future__ import annotations

import collections
import random

import pytest

from routerlab.live.balancer import (
    STRATEGIES,
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    LoadBalancer,
    ProviderHealth,
    outcome_of,
)
from routerlab.errors import (
    AuthError,
    BadRequest,
    ConfigError,
    ContextTooLong,
    RateLimited,
    ServerError,
    Timeout,
)

pytestmark = pytest.mark.timeout(30)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def fail(cb: CircuitBreaker, n: int = 1, duration: float = 0.1) -> None:
    for _ in range(n):
        cb.record_failure(cb.acquire(), duration)


def succeed(cb: CircuitBreaker, n: int = 1, duration: float = 0.1) -> None:
    for _ in range(n):
        cb.record_success(cb.acquire(), duration)


# circuit breaker -----------------------------------------------------------------------------------
def test_opens_at_minimum_calls_not_before() -> None:
    clock = Clock()
    cb = CircuitBreaker("P1", clock=clock)
    fail(cb, 9)
    assert cb.state is BreakerState.CLOSED  # 9 < M = 10
    fail(cb)
    assert cb.state is BreakerState.OPEN and cb.acquire() is None
    assert cb.open_until == pytest.approx(30.0)
    assert cb.transitions[0].reason.startswith("failure rate 10/10")


def test_failure_rate_threshold_over_sliding_window() -> None:
    cb = CircuitBreaker("P1", clock=Clock())
    for _ in range(10):  # 40 % failures over 20 calls: stays closed
        succeed(cb)
        succeed(cb)
        fail(cb) if _ % 5 < 4 else succeed(cb)
    assert cb.state is BreakerState.CLOSED
    cb2 = CircuitBreaker("P2", clock=Clock())
    succeed(cb2, 5)
    fail(cb2, 4)
    assert cb2.state is BreakerState.CLOSED  # 4/9, under M
    fail(cb2)
    assert cb2.state is BreakerState.OPEN  # 5/10 = 50 % >= F


def test_old_calls_leave_the_window() -> None:
    cb = CircuitBreaker("P1", BreakerConfig(window=20, minimum_calls=10), clock=Clock())
    succeed(cb, 11)
    fail(cb, 9)  # 9/20 = 45 %: closed
    succeed(cb, 20)  # the failures slide out of the last-20 window
    fail(cb, 9)
    assert cb.state is BreakerState.CLOSED and cb.failure_rate == pytest.approx(9 / 20)


def test_slow_call_rate_opens() -> None:
    cfg = BreakerConfig(slow_call_duration=3.0, slow_call_rate=0.5)
    cb = CircuitBreaker("P1", cfg, clock=Clock())
    succeed(cb, 5, duration=5.0)
    succeed(cb, 4, duration=0.5)
    assert cb.state is BreakerState.CLOSED
    succeed(cb, 1, duration=0.5)
    assert cb.state is BreakerState.OPEN and "slow-call rate 5/10" in cb.transitions[-1].reason
    cb2 = CircuitBreaker("P2", BreakerConfig(), clock=Clock())  # no duration threshold: slow calls ignored
    succeed(cb2, 20, duration=100.0)
    assert cb2.state is BreakerState.CLOSED


def test_half_open_admits_p_probes_p_successes_close() -> None:
    clock = Clock()
    cb = CircuitBreaker("P1", clock=clock)
    fail(cb, 10)
    clock.t = 29.9
    assert cb.state is BreakerState.OPEN and not cb.allows()
    clock.t = 30.0
    assert cb.state is BreakerState.HALF_OPEN
    permits = [cb.acquire() for _ in range(5)]
    assert sum(p is not None for p in permits) == 3  # P = 3 probes
    for p in permits[:2]:
        cb.record_success(p, 0.1)
    assert cb.state is BreakerState.HALF_OPEN
    cb.record_success(permits[2], 0.1)
    assert cb.state is BreakerState.CLOSED and cb.consecutive_openings == 0


def test_any_probe_failure_reopens_with_growing_capped_duration() -> None:
    clock = Clock()
    cb = CircuitBreaker("P1", BreakerConfig(open_duration=30, max_open_duration=100), clock=clock)
    fail(cb, 10)
    durations = []
    for _ in range(5):
        opened = clock.t
        clock.t = cb.open_until
        durations.append(clock.t - opened)
        p = cb.acquire()
        succeed(cb)  # one success then a failure: re-opens
        cb.record_failure(p, 0.1)
        assert cb.state is BreakerState.OPEN
    assert durations == [30, 60, 100, 100, 100]
    clock.t = cb.open_until
    succeed(cb, 3)
    assert cb.state is BreakerState.CLOSED
    fail(cb, 10)
    assert cb.open_until - clock.t == 30  # the growth resets after a close


def test_ignored_outcomes_free_probe_slots_and_stale_permits_do_nothing() -> None:
    clock = Clock()
    cb = CircuitBreaker("P1", clock=clock)
    stale = cb.acquire()  # admitted while CLOSED
    fail(cb, 10)
    clock.t = 30
    probes = [cb.acquire() for _ in range(3)]
    assert cb.acquire() is None
    cb.record_ignored(probes[0])  # a 400: says nothing, frees the slot
    assert cb.probes_available == 1
    cb.record_failure(stale, 0.1)  # from before the opening: ignored
    assert cb.state is BreakerState.HALF_OPEN
    cb.record_success(probes[1], 0.1)
    cb.record_success(probes[2], 0.1)
    cb.record_success(cb.acquire(), 0.1)
    assert cb.state is BreakerState.CLOSED


def test_breaker_config_validation_names_the_field() -> None:
    with pytest.raises(ConfigError, match="breaker.minimum_calls"):
        BreakerConfig(window=5, minimum_calls=10)
    with pytest.raises(ConfigError, match="breaker.failure_rate"):
        BreakerConfig(failure_rate=1.5)
    with pytest.raises(ConfigError, match="breaker.max_open_duration"):
        BreakerConfig(open_duration=30, max_open_duration=10)


# health --------------------------------------------------------------------------------------------
def test_provider_health_window_and_ewma() -> None:
    h = ProviderHealth(window=4, alpha=0.5)
    for ok, lat in [(True, 1.0), (True, 3.0), (False, None), (True, 1.0), (True, 1.0)]:
        h.record(ok, lat)
    assert h.success_rate == 0.75  # the last 4
    assert h.ewma_latency == pytest.approx(1.25)  # 1 -> 2 -> (failure: unchanged) -> 1.5 -> 1.25
    assert h.total_calls == 5 and h.total_failures == 1
    assert ProviderHealth().score > h.score


# balancer ------------------------------------------------------------------------------------------
def test_outcome_labels() -> None:
    assert outcome_of(None) == "ok"
    assert outcome_of(ContextTooLong("x")) == "context_too_long"
    assert outcome_of(RateLimited("x")) == "rate_limited"
    assert outcome_of(Timeout("x")) == "timeout"


def test_release_classifies_errors() -> None:
    clock = Clock()
    lb = LoadBalancer(["P1", "P2"], strategy="round-robin", clock=clock)
    lease = lb.acquire(["P1"])
    assert lb.release(lease, error=BadRequest("HTTP 400", status=400)) == "bad_request"
    assert lb.breaker("P1").calls == 0 and lb.available() == ["P1", "P2"]  # 400: not a failure
    lease = lb.acquire(["P1"])
    lb.release(lease, error=RateLimited("HTTP 429", status=429, retry_after=7))
    assert lb.cooldown_until("P1") == 7 and lb.available() == ["P2"] and lb.breaker("P1").calls == 1
    lease = lb.acquire(["P2"])
    assert lb.release(lease, error=AuthError("HTTP 401", status=401)) == "misconfigured"
    assert lb.misconfigured() == {"P2": "HTTP 401"} and lb.available() == []
    assert lb.earliest_return() == ("P1", 7)  # P2 never returns by itself
    assert lb.release(lease) == "released"  # twice: no-op
    lb.restore("P2")
    assert lb.available() == ["P2"]


def test_cooldown_keeps_the_later_deadline() -> None:
    clock = Clock()
    lb = LoadBalancer(["P1"], clock=clock)
    lb.cooldown("P1", 10)
    clock.t = 2
    lb.cooldown("P1", 3)  # max(existing 10, now + 3 = 5)
    assert lb.cooldown_until("P1") == 10
    lb.cooldown("P1", 20)
    assert lb.cooldown_until("P1") == 22
    lease = lb.acquire()
    assert lease is None
    clock.t = 22
    assert lb.acquire() is not None


def test_503_retry_after_cools_down_too() -> None:
    lb = LoadBalancer(["P1"], clock=Clock())
    lb.release(lb.acquire(), error=ServerError("HTTP 503", status=503, retry_after=4))
    assert lb.cooldown_until("P1") == 4


def test_round_robin_is_a_real_rotation_over_available_deployments() -> None:
    clock = Clock()
    lb = LoadBalancer(["P1", "P2", "P3"], strategy="round-robin", clock=clock)
    picks = []
    for i in range(9):
        lease = lb.acquire()
        picks.append(lease.deployment)
        lb.release(lease, latency=0.1)
        if i == 2:
            lb.cooldown("P2", 5)
    assert picks == ["P1", "P2", "P3", "P1", "P3", "P1", "P3", "P1", "P3"]
    counts: collections.Counter[str] = collections.Counter()
    for _ in range(3000):
        clock.t += 10
        lease = lb.acquire()
        counts[lease.deployment] += 1
        lb.release(lease, latency=0.1)
    assert counts == {"P1": 1000, "P2": 1000, "P3": 1000}


def test_least_busy_least_latency_best_and_weighted() -> None:
    clock = Clock()
    lb = LoadBalancer(["P1", "P2", "P3"], strategy="least-busy", clock=clock)
    held = [lb.acquire() for _ in range(3)]
    assert sorted(h.deployment for h in held) == ["P1", "P2", "P3"]
    lb.release(held[1], latency=0.1)
    assert lb.acquire().deployment == held[1].deployment

    lat = LoadBalancer(["P1", "P2", "P3"], strategy="least-latency", clock=clock)
    for name, latency in (("P1", 0.5), ("P2", 0.1), ("P3", 0.9)):
        lat.release(lat.acquire([name]), latency=latency)
    assert all(lat.acquire().deployment == "P2" for _ in range(3))

    best = LoadBalancer(["P1", "P2"], strategy="best", clock=clock)
    best.release(best.acquire(["P1"]), error=ServerError("x"))
    assert best.acquire().deployment == "P2"

    def shares(seed: int) -> collections.Counter[str]:
        w = LoadBalancer({"P1": 1, "P2": 3}, strategy="weighted", clock=clock, rng=random.Random(seed))
        c: collections.Counter[str] = collections.Counter()
        for _ in range(4000):
            lease = w.acquire()
            c[lease.deployment] += 1
            w.release(lease, latency=0.0)
        return c

    a = shares(1)
    assert a == shares(1)  # seeded: identical
    assert a["P2"] / 4000 == pytest.approx(0.75, abs=0.03)


def test_half_open_deployment_gets_its_probes_first() -> None:
    clock = Clock()
    lb = LoadBalancer(["P1", "P2"], strategy="least-latency", clock=clock)
    lb.release(lb.acquire(["P2"]), latency=0.01)
    for _ in range(10):
        lb.release(lb.acquire(["P1"]), error=ServerError("x"), latency=0.01)
    clock.t = 30
    picks = [lb.acquire() for _ in range(4)]
    assert [p.deployment for p in picks] == ["P1", "P1", "P1", "P2"]


def test_max_concurrency_and_exclude() -> None:
    lb = LoadBalancer(clock=Clock())
    lb.add("P1", max_concurrency=1)
    lb.add("P2")
    a = lb.acquire(["P1"])
    assert a is not None and lb.acquire(["P1"]) is None
    assert lb.status("P1")[1] == "at max concurrency"
    assert lb.acquire(exclude=["P2"]) is None
    lb.release(a)
    assert lb.acquire(["P1"]) is not None


def test_stats_frame() -> None:
    clock = Clock()
    lb = LoadBalancer(["P1", "P2"], clock=clock)
    for _ in range(10):
        lb.release(lb.acquire(["P1"]), error=ServerError("x"), latency=0.2)
    lb.release(lb.acquire(["P2"]), latency=0.3)
    df = lb.stats().set_index("deployment")
    for col in ("state", "calls", "failures", "failure_rate", "slow_rate", "ewma_latency", "in_flight",
                "cooldown_until", "openings", "misconfigured"):
        assert col in df.columns
    assert df.loc["P1", "state"] == "open" and df.loc["P1", "openings"] == 1 and df.loc["P1", "failures"] == 10
    assert df.loc["P2", "ewma_latency"] == pytest.approx(0.3)
    assert "<table" in lb._repr_html_()


def test_unknown_strategy_and_duplicate_names() -> None:
    with pytest.raises(ConfigError, match="strategy"):
        LoadBalancer(["P1"], strategy="random")
    with pytest.raises(ConfigError, match="twice"):
        LoadBalancer(["P1", "P1"])
    assert set(STRATEGIES) == {"weighted", "best", "round-robin", "least-latency", "least-busy"}
