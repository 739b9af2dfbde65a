"""Issue 16 (notebook 03): ``failure_rate`` showed NaN while a breaker was open after 4 of 5 failed calls,
because opening clears the window. While open it now shows the rate that opened it."""

from __future__ import annotations

import math

from routerlab.live.breaker import BreakerConfig, BreakerState, CircuitBreaker


def test_an_open_breaker_reports_the_rate_that_opened_it():
    t = [0.0]
    cb = CircuitBreaker("P1", BreakerConfig(window=10, minimum_calls=5, failure_rate=0.5, open_duration=1.0,
                                            half_open_probes=2), clock=lambda: t[0])
    assert math.isnan(cb.failure_rate)  # nothing recorded yet: undefined, honestly
    cb.record_success(cb.acquire())
    for _ in range(4):
        cb.record_failure(cb.acquire())
    assert cb.state is BreakerState.OPEN
    assert cb.failure_rate == 0.8 and cb.slow_rate == 0.0
    t[0] = 1.5  # half open: no probe back yet, still the rate that opened it
    assert cb.state is BreakerState.HALF_OPEN and cb.failure_rate == 0.8
    for _ in range(2):
        cb.record_success(cb.acquire())
    assert cb.state is BreakerState.CLOSED and math.isnan(cb.failure_rate)  # closed again, a new window


def test_gateway_stats_show_the_rate_of_an_open_deployment():
    from routerlab.live.balancer import LoadBalancer

    t = [0.0]
    lb = LoadBalancer(breaker=BreakerConfig(window=10, minimum_calls=5, failure_rate=0.5), clock=lambda: t[0])
    lb.add("P1")
    br = lb._breakers["P1"]
    br.record_success(br.acquire())
    for _ in range(4):
        br.record_failure(br.acquire())
    row = lb.stats().set_index("deployment").loc["P1"]
    assert row["state"] == "open" and row["failure_rate"] == 0.8


def test_after_recovery_the_stats_say_which_calls_the_rate_is_over():
    """QA (notebook 03): 'calls 11, failures 4, failure_rate 0.0' after recovery read as a contradiction: the
    counts are lifetime totals, the rate is over the breaker's window since it closed again."""
    from routerlab.live.balancer import LoadBalancer

    t = [0.0]
    lb = LoadBalancer(breaker=BreakerConfig(window=10, minimum_calls=5, failure_rate=0.5, open_duration=1.0,
                                            half_open_probes=2), clock=lambda: t[0])
    lb.add("P1")
    for failed in (False, True, True, True, True):
        lb.release(lb.acquire(["P1"]), error=RuntimeError("x") if failed else None, latency=0.1)
    t[0] = 1.5
    for _ in range(2 + 3):  # two probes close it, then three more successes in the new window
        lb.release(lb.acquire(["P1"]), latency=0.1)
    row = lb.stats().set_index("deployment").loc["P1"]
    assert (row["calls"], row["failures"]) == (10, 4)
    assert row["window_calls"] == 3 and row["failure_rate"] == 0.0
