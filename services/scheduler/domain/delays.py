"""A delayed event request: what to write, where, and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.scheduler.domain.errors import InvalidSchedule
from shared.event_data import MAX_DELAY_S, DelayCancel, DelayRequested

__all__ = ["DelayCancel", "DelayRequest", "Moved", "StoredDelay"]


# The shape is the registry's (`shared.event_data.DelayRequested`); the rule of time is ours.
class DelayRequest(DelayRequested):
    """`POST /delays` and the data of a `delay.requested` event."""

    def due_at(self, now: datetime, allow_past: bool) -> datetime:
        """When to fire. A past `at` is refused from a person (HTTP); from a service (an
        event that may have waited in a stream) it fires at once."""
        if self.delay_s is not None:
            return now + timedelta(seconds=self.delay_s)
        assert self.at is not None
        if self.at < now and not allow_past:
            raise InvalidSchedule("at", "the time is in the past")
        if self.at - now > timedelta(seconds=MAX_DELAY_S):
            raise InvalidSchedule("at", "the time is more than a year away")
        return max(self.at, now)


@dataclass(frozen=True, slots=True)
class StoredDelay:
    """A stored delay; `created` is False when its key named one stored before."""

    id: str
    due_at: datetime
    created: bool


@dataclass(frozen=True, slots=True)
class Moved:
    """One batch of the mover: how many moved, how many were due, the lateness of each."""

    moved: int
    looked_at: int
    lateness_ms: list[int] = field(default_factory=list)
