"""Backfill: fire now, once each, the runs a schedule had in a past window (after Temporal's
schedule backfill). Each run keeps the event id a normal fire of it has, so a run already
fired, or a second backfill of the same window, publishes nothing twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from services.scheduler.domain.errors import InvalidSchedule
from services.scheduler.domain.schedules import Schedule

_JUST_BEFORE = timedelta(microseconds=1)  # triggers give times strictly after a moment
# A run's event id is a ULID of its nominal time, which cannot be before the Unix epoch.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


class BackfillRequest(BaseModel):
    """The body of `POST /schedules/{id}/backfill`: the window, both ends included."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime


@dataclass(frozen=True, slots=True)
class BackfilledRun:
    nominal_at: datetime
    event_id: str
    published: bool  # False: it had been fired already (by the schedule or a backfill)


def backfill_times(
    schedule: Schedule, request: BackfillRequest, now: datetime, max_runs: int
) -> list[datetime]:
    """The nominal times of `schedule` in [start, end], oldest first. Refused: an end in the
    future (those runs are the schedule's own to fire), an end before the start, a start
    before 1970 (`EARLIEST`), and a window of more than `max_runs` runs (backfill it in
    parts)."""
    if request.start < EARLIEST:
        raise InvalidSchedule("start", "the window cannot start before 1970-01-01T00:00:00Z")
    if request.end > now:
        raise InvalidSchedule("end", "the window must end in the past (at most now)")
    if request.end < request.start:
        raise InvalidSchedule("end", "the window must not end before it starts")
    times: list[datetime] = []
    nominal = schedule.next_after(request.start - _JUST_BEFORE)
    while nominal is not None and nominal <= request.end:
        if len(times) == max_runs:
            raise InvalidSchedule(
                "end", f"the window holds more than {max_runs} runs; backfill it in parts")
        times.append(nominal)
        nominal = schedule.next_after(nominal)
    return times
