"""The replicas of one upstream and the rules for choosing among them: plain state, no I/O.

Each replica has an active health state (from `/readyz` checks: `unhealthy_after` failures
down, `healthy_after` successes up) and a passive breaker (from real requests: `eject_after`
consecutive failures eject it for `eject_s`, doubled on each ejection in a row up to
`eject_max_s`; then one half-open probe decides). A pool picks the less loaded of two random
available replicas (least in flight), never ejects its last available replica, caps the
requests in flight, and keeps the retry budget. Time comes from the clock it is given, so the
tests drive it by hand.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum

Clock = Callable[[], float]


class Breaker(IntEnum):
    """A replica's passive state (the gauge's value)."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


@dataclass(frozen=True, slots=True)
class Policy:
    unhealthy_after: int = 3
    healthy_after: int = 2
    eject_after: int = 5
    eject_s: float = 5.0
    eject_max_s: float = 300.0
    max_in_flight: int = 1000
    # Retries allowed per request made (Finagle's retry budget); `retry_reserve` up front, so
    # a quiet gateway may retry too.
    retry_ratio: float = 0.2
    retry_reserve: float = 10.0


class Replica:
    def __init__(self, url: str, policy: Policy, clock: Clock) -> None:
        self.url = url
        self._policy, self._clock = policy, clock
        self.in_flight = 0
        self.healthy = True  # until the active checks say otherwise
        self._checks_in_a_row = 0  # successes while down, failures while up
        self._failures = 0  # consecutive failed requests
        self._ejections = 0  # ejections in a row (the doubling)
        self._open_until = 0.0
        self._probing = False

    @property
    def breaker(self) -> Breaker:
        if not self._ejections:
            return Breaker.CLOSED
        return Breaker.OPEN if self._clock() < self._open_until else Breaker.HALF_OPEN

    @property
    def available(self) -> bool:
        """Healthy, and its breaker closed or half-open with no probe out yet."""
        breaker = self.breaker
        return self.healthy and (breaker is Breaker.CLOSED
                                 or (breaker is Breaker.HALF_OPEN and not self._probing))

    def checked(self, ok: bool) -> None:
        """One active health check's outcome."""
        if ok == self.healthy:
            self._checks_in_a_row = 0
            return
        self._checks_in_a_row += 1
        needed = self._policy.healthy_after if ok else self._policy.unhealthy_after
        if self._checks_in_a_row >= needed:
            self.healthy, self._checks_in_a_row = ok, 0

    def started(self) -> None:
        self.in_flight += 1
        if self.breaker is Breaker.HALF_OPEN:
            self._probing = True

    def finished(self) -> None:
        self.in_flight -= 1
        # A probe that ended with no outcome (the client went away) lets the next one go.
        self._probing = False

    def succeeded(self) -> None:
        self._failures = self._ejections = 0
        self._probing = False

    def failed(self, may_eject: bool) -> None:
        """A connect error, a timeout or a 5xx. A failed probe ejects again at once, for
        twice as long; `may_eject` is false when this is the last replica available."""
        self._failures += 1
        probe = self._probing
        self._probing = False
        if not may_eject or not (probe or self._failures >= self._policy.eject_after):
            return
        self._ejections += 1
        self._failures = 0
        period = min(self._policy.eject_s * 2 ** (self._ejections - 1), self._policy.eject_max_s)
        self._open_until = self._clock() + period


class Pool:
    """The replicas of one upstream."""

    def __init__(self, name: str, urls: Sequence[str], policy: Policy, clock: Clock,
                 rng: random.Random | None = None) -> None:
        self.name = name
        self._policy, self._clock = policy, clock
        self._rng = rng or random.Random()
        self.replicas: list[Replica] = []
        self.set_urls(urls)
        self._retry_tokens = policy.retry_reserve
        self.in_flight = 0

    def set_urls(self, urls: Sequence[str]) -> None:
        """The replicas now (after a DNS answer); those kept keep their state."""
        known = {replica.url: replica for replica in self.replicas}
        self.replicas = [known.get(url) or Replica(url, self._policy, self._clock)
                         for url in dict.fromkeys(urls)]

    @property
    def full(self) -> bool:
        return self.in_flight >= self._policy.max_in_flight

    def pick(self, tried: Sequence[Replica] = ()) -> Replica | None:
        """The less loaded of two random available replicas not tried yet. When none is
        available, the least loaded of all (a guess beats refusing); None only for a retry
        with nothing left to try."""
        if len(self.replicas) == 1 and not tried:
            return self.replicas[0]  # the hot path of a single replica
        untried = [r for r in self.replicas if r not in tried]
        candidates = [r for r in untried if r.available]
        if not candidates:
            if tried or not untried:
                return None
            candidates = untried
        if len(candidates) == 1:
            return candidates[0]
        # Two distinct indices (random.sample costs several times more on the hot path).
        first = int(self._rng.random() * len(candidates))
        second = int(self._rng.random() * (len(candidates) - 1))
        a, b = candidates[first], candidates[second + (second >= first)]
        return a if a.in_flight <= b.in_flight else b

    def lease(self, replica: Replica) -> Lease:
        """`replica` counted in flight while the `with` block runs (a whole event stream
        too)."""
        return Lease(self, replica)

    def record(self, replica: Replica, ok: bool) -> None:
        if ok:
            replica.succeeded()
        else:
            others = any(r.available for r in self.replicas if r is not replica)
            replica.failed(may_eject=others)

    def requested(self) -> None:
        """One request in: it earns `retry_ratio` of a retry."""
        self._retry_tokens = min(self._retry_tokens + self._policy.retry_ratio,
                                 self._policy.retry_reserve)

    def may_retry(self) -> bool:
        """Spend one retry from the budget, if there is one left."""
        if self._retry_tokens < 1 - 1e-9:  # five requests earn one retry, rounding aside
            return False
        self._retry_tokens -= 1
        return True


class Lease:
    """A request open to a replica (a class: a generator context manager costs more)."""

    __slots__ = ("_pool", "_replica")

    def __init__(self, pool: Pool, replica: Replica) -> None:
        self._pool, self._replica = pool, replica

    def __enter__(self) -> Replica:
        self._pool.in_flight += 1
        self._replica.started()
        return self._replica

    def __exit__(self, *exc_info: object) -> None:
        self._pool.in_flight -= 1
        self._replica.finished()
