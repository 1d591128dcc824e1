"""The picker, the health state and the breaker of adapters/replicas.py, on a hand-driven
clock: no network, no waiting."""

from __future__ import annotations

import random
from collections import Counter

from services.gateway.adapters.replicas import Breaker, Policy, Pool, Replica


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


POLICY = Policy(unhealthy_after=3, healthy_after=2, eject_after=2, eject_s=10, eject_max_s=30,
                max_in_flight=3, retry_ratio=0.2, retry_reserve=2)


def pool(*urls: str, clock: Clock | None = None) -> Pool:
    return Pool("seckill", urls, POLICY, clock or Clock(), random.Random(7))


def test_two_choices_spread_requests_and_prefer_the_less_loaded() -> None:
    replicas = pool("http://a", "http://b")
    picked = Counter(replica.url for replica in (replicas.pick() for _ in range(100))
                     if replica is not None)
    assert picked["http://a"] > 30 and picked["http://b"] > 30  # equal load: either
    busy, idle = replicas.replicas
    busy.in_flight = 5
    assert all(replicas.pick() is idle for _ in range(20))


def test_leases_count_in_flight_and_the_cap_fills() -> None:
    replicas = pool("http://a", "http://b")
    a, b = replicas.replicas
    with replicas.lease(a), replicas.lease(b):
        assert (a.in_flight, b.in_flight) == (1, 1)
        assert not replicas.full
        with replicas.lease(a):
            assert replicas.full
    assert (a.in_flight, b.in_flight) == (0, 0)
    assert not replicas.full


def test_active_checks_need_n_failures_down_and_m_successes_up() -> None:
    replica = Replica("http://a", POLICY, Clock())
    for ok in (False, False, True, False, False):  # a success resets the count
        replica.checked(ok)
    assert replica.healthy
    replica.checked(False)
    assert not replica.healthy and not replica.available
    replica.checked(True)
    assert not replica.healthy
    replica.checked(True)
    assert replica.healthy and replica.available


def test_breaker_ejects_then_one_half_open_probe_decides_with_doubling() -> None:
    clock = Clock()
    replicas = pool("http://a", "http://b", clock=clock)
    a, b = replicas.replicas
    replicas.record(a, ok=False)
    assert a.breaker is Breaker.CLOSED  # one failure in a row is not enough
    replicas.record(a, ok=False)
    assert a.breaker is Breaker.OPEN and not a.available
    assert all(replicas.pick() is b for _ in range(10))

    clock.now += 10
    assert a.breaker is Breaker.HALF_OPEN and a.available
    with replicas.lease(a):
        assert not a.available
    assert a.available  # that probe ended with no outcome (its client went away)
    with replicas.lease(a):
        assert not a.available  # one probe only
        replicas.record(a, ok=False)  # the probe fails: open again, for twice as long
    clock.now += 19
    assert a.breaker is Breaker.OPEN
    clock.now += 1
    with replicas.lease(a):
        replicas.record(a, ok=False)
    clock.now += 29
    assert a.breaker is Breaker.OPEN  # 40 s capped at 30
    clock.now += 1
    with replicas.lease(a):
        replicas.record(a, ok=True)
    assert a.breaker is Breaker.CLOSED and a.available


def test_the_last_available_replica_is_never_ejected() -> None:
    replicas = pool("http://a", "http://b")
    a, b = replicas.replicas
    for _ in range(2):
        replicas.record(a, ok=False)
    assert a.breaker is Breaker.OPEN
    for _ in range(5):
        replicas.record(b, ok=False)
    assert b.breaker is Breaker.CLOSED and replicas.pick() is b


def test_a_retry_goes_elsewhere_or_nowhere() -> None:
    replicas = pool("http://a", "http://b")
    a, b = replicas.replicas
    assert replicas.pick([a]) is b
    assert replicas.pick([a, b]) is None
    b.healthy = False
    assert replicas.pick([a]) is None  # a retry never goes to an unavailable replica
    a.healthy = False
    assert replicas.pick() in (a, b)  # all down: a guess rather than a refusal


def test_retry_budget_is_a_fifth_of_requests() -> None:
    replicas = pool("http://a")
    assert replicas.may_retry() and replicas.may_retry()  # the reserve
    assert not replicas.may_retry()
    for _ in range(10):
        replicas.requested()
    assert replicas.may_retry() and replicas.may_retry()
    assert not replicas.may_retry()


def test_new_dns_answers_keep_the_state_of_known_replicas() -> None:
    replicas = pool("http://a", "http://b")
    a, _ = replicas.replicas
    a.healthy = False
    replicas.set_urls(["http://a", "http://c", "http://c"])
    assert [r.url for r in replicas.replicas] == ["http://a", "http://c"]
    assert replicas.replicas[0] is a and not a.healthy
