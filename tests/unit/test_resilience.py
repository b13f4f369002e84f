"""Breaker and bulkhead of the gateway (gateway.resilience), on a fake clock."""

from __future__ import annotations

import pytest

from gateway.resilience import CLOSED, HALF_OPEN, OPEN, Breaker, Bulkhead, Guard
from services.common.errors import Unavailable


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_breaker_opens_after_consecutive_failures_and_refuses_at_once():
    clock = Clock()
    breaker = Breaker("offers", threshold=2, cool_down=5, clock=clock)
    breaker.failure("timeout")
    assert breaker.state == CLOSED and breaker.allow()
    breaker.failure("timeout")
    assert breaker.state == OPEN
    with pytest.raises(Unavailable) as err:
        breaker.allow()
    assert err.value.fields == {"service": "offers", "breaker": "open"}


def test_after_its_cool_down_one_caller_probes_and_a_success_closes_it():
    clock = Clock()
    breaker = Breaker("offers", threshold=1, cool_down=5, clock=clock)
    breaker.trip("health: down")
    clock.now = 5
    assert breaker.allow() is False and breaker.state == HALF_OPEN  # this caller probes
    with pytest.raises(Unavailable):
        breaker.allow()  # the others still fail fast
    breaker.success()
    assert breaker.state == CLOSED and breaker.allow()


def test_a_failed_probe_opens_it_again():
    clock = Clock()
    breaker = Breaker("offers", threshold=3, cool_down=5, clock=clock)
    breaker.trip()
    clock.now = 6
    assert breaker.allow() is False
    breaker.failure("health: timeout")
    assert breaker.state == OPEN and breaker.opened_at == 6


def test_the_bulkhead_refuses_beyond_its_limit():
    bulkhead = Bulkhead("offers", limit=1, wait=0.01)
    with bulkhead:
        with pytest.raises(Unavailable) as err:
            with bulkhead:
                pass
        assert "concurrency" in err.value.fields
    with bulkhead:  # released
        pass


def test_a_guard_counts_only_unwell_answers():
    guard = Guard("offers", limit=2, threshold=1)

    def domain_error():
        raise ValueError("a 400, not an outage")

    with pytest.raises(ValueError):
        guard.run(domain_error, probe=lambda: None, is_failure=lambda exc: isinstance(exc, TimeoutError))
    assert guard.breaker.state == CLOSED

    def timeout():
        raise TimeoutError

    with pytest.raises(TimeoutError):
        guard.run(timeout, probe=lambda: None, is_failure=lambda exc: isinstance(exc, TimeoutError))
    assert guard.breaker.state == OPEN
