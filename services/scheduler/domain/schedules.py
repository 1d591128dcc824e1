"""Schedules and the rules that decide which nominal runs fire, are missed or coalesce."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema
from ulid import ULID

from services.scheduler.domain.errors import EventMismatch, InvalidSchedule
from services.scheduler.domain.triggers import AnyTrigger, DateTrigger, Trigger, zone
from shared import event_types
from shared.event_data import TYPE_PATTERN
from shared.events import stable_event_id

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
MAX_CATCH_UP = 1000  # nominal runs looked at per schedule in one catch-up
MAX_RUNS_LEFT = 1_000_000_000
NEXT_RUNS = 5  # the next fire times a schedule shows
NOTE_MAX = 500

Outcome = Literal["fired", "missed", "coalesced", "triggered", "backfilled"]
State = Literal["active", "paused", "exhausted", "done"]


class EventSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream: str = Field(min_length=1, max_length=200)
    type: str = Field(pattern=TYPE_PATTERN)
    data: dict[str, Any] = Field(default_factory=dict)


class ScheduleSpec(BaseModel):
    """The body of `POST /schedules` (and of a built-in schedule in the config file)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=ID_PATTERN)
    trigger: Trigger
    event: EventSpec
    misfire_grace_s: int = Field(60, ge=0, le=7 * 24 * 3600)
    jitter_s: int = Field(0, ge=0, le=3600)
    coalesce: bool = True
    enabled: bool = True
    runs_left: int | None = Field(default=None, ge=0, le=MAX_RUNS_LEFT)


class SchedulePatch(BaseModel):
    """The body of `PATCH /schedules/{id}`: any field but the id."""

    model_config = ConfigDict(extra="forbid")

    trigger: Trigger | SkipJsonSchema[None] = None
    event: EventSpec | SkipJsonSchema[None] = None
    # The bounds sit on the type, inside the union, so the document carries them too.
    misfire_grace_s: Annotated[int, Field(ge=0, le=7 * 24 * 3600)] | SkipJsonSchema[None] = None
    jitter_s: Annotated[int, Field(ge=0, le=3600)] | SkipJsonSchema[None] = None
    coalesce: bool | SkipJsonSchema[None] = None
    enabled: bool | SkipJsonSchema[None] = None
    # null here lifts the limit (left out: unchanged).
    runs_left: Annotated[int, Field(ge=0, le=MAX_RUNS_LEFT)] | None = None

    @field_validator("trigger", "event", "misfire_grace_s", "jitter_s", "coalesce", "enabled")
    @classmethod
    def _no_nulls(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, not null")
        return value


def check_rules(
    trigger: AnyTrigger | None, event: EventSpec, now: datetime, target_streams: tuple[str, ...]
) -> None:
    """The trigger is None when it is not being set (a date that already fired stays valid)."""
    if event.stream not in target_streams:
        raise InvalidSchedule(
            "event.stream", f"unknown stream {event.stream!r}; one of {', '.join(target_streams)}"
        )
    check_event(event.stream, event.type, event.data, prefix="event.")
    if isinstance(trigger, DateTrigger) and trigger.at_utc <= now:
        raise InvalidSchedule("trigger.at", "the date is in the past")


def check_event(stream: str, event_type: str, data: dict[str, Any], prefix: str = "") -> None:
    """The registry's rules for an event written later: its stream carries its type, its data
    is of that type (fields named `<prefix>data.<field>`). Checked when it is asked for, so a
    bad one is refused to its caller instead of failing in its consumer."""
    problems = event_types.check_event(stream, event_type, data)
    if problems:
        raise EventMismatch(prefix, problems)


class PauseRequest(BaseModel):
    """The optional body of `POST /schedules/{id}/pause`: why, shown on the schedule."""

    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, Field(min_length=1, max_length=NOTE_MAX)] | SkipJsonSchema[None] = None


@dataclass(frozen=True, slots=True)
class Pause:
    """Who paused a schedule, when, and why (`by` None: paused by the config file)."""

    at: datetime
    by: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    id: str
    trigger: AnyTrigger
    event: EventSpec
    misfire_grace_s: int
    jitter_s: int
    coalesce: bool
    enabled: bool
    created_at: datetime
    updated_at: datetime
    next_nominal_at: datetime | None = None
    next_fire_at: datetime | None = None
    builtin: bool = False
    builtin_hash: str | None = None
    revision: int = 0
    # None: unlimited; else the scheduled fires still to come (triggers and backfills are
    # extra runs and do not count). At 0 the schedule stops firing.
    runs_left: int | None = None
    pause: Pause | None = None

    @property
    def state(self) -> State:
        if self.runs_left == 0:
            return "exhausted"
        if not self.enabled:
            return "paused"
        return "active" if self.next_nominal_at is not None else "done"

    @property
    def next_run_at(self) -> datetime | None:
        return self.next_nominal_at if self.state == "active" else None

    def upcoming(self, count: int = NEXT_RUNS) -> list[datetime]:
        """The next `count` nominal times (fewer when runs are limited or end), in the
        trigger's zone (UTC for an interval)."""
        local = zone(getattr(self.trigger, "timezone", "UTC"))
        times: list[datetime] = []
        nominal = self.next_run_at
        limit = count if self.runs_left is None else min(count, self.runs_left)
        while nominal is not None and len(times) < limit:
            times.append(nominal.astimezone(local))
            try:
                nominal = self.next_after(nominal)
            except OverflowError:  # past the year 9999: no more times to show
                break
        return times

    def fire_time(self, nominal: datetime) -> datetime:
        return nominal + timedelta(milliseconds=jitter_ms(self.id, nominal, self.jitter_s))

    def next_after(self, after: datetime) -> datetime | None:
        return self.trigger.next_after(after, self.created_at)

    def rescheduled(self, now: datetime) -> Schedule:
        """Next run from `now` on: runs while paused or before an edit are not caught up."""
        nominal = self.next_after(now) if self.enabled and self.runs_left != 0 else None
        return replace(self, next_nominal_at=nominal,
                       next_fire_at=self.fire_time(nominal) if nominal else None)


def _digest(schedule_id: str, nominal: datetime) -> bytes:
    return hashlib.sha256(f"{schedule_id}|{epoch_ms(nominal)}".encode()).digest()


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def jitter_ms(schedule_id: str, nominal: datetime, jitter_s: int) -> int:
    """A delay in [0, jitter_s] derived from the run itself, so every replica plans the same
    fire time and a new leader does not move it."""
    if jitter_s <= 0:
        return 0
    return int.from_bytes(_digest(schedule_id, nominal)[10:14], "big") % (jitter_s * 1000 + 1)


def run_event_id(schedule_id: str, nominal: datetime) -> str:
    """The event id of one nominal run: a ULID whose time is the nominal time and whose rest
    is a hash of schedule and time, so any leader derives the same id for the same run."""
    return stable_event_id(epoch_ms(nominal), f"{schedule_id}|{epoch_ms(nominal)}")


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One nominal run as recorded in a schedule's history."""

    nominal_at: datetime
    fired_at: datetime | None
    event_id: str | None
    lateness_ms: int | None
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Advance:
    """One schedule moved on after a round: the runs to record and its next times."""

    schedule: Schedule
    runs: list[RunRecord]
    next_nominal_at: datetime | None
    next_fire_at: datetime | None


@dataclass(frozen=True, slots=True)
class PlannedRun:
    nominal_at: datetime
    outcome: Outcome
    lateness_ms: int


@dataclass(frozen=True, slots=True)
class Plan:
    runs: list[PlannedRun] = field(default_factory=list)
    next_nominal_at: datetime | None = None
    next_fire_at: datetime | None = None


def plan_due(schedule: Schedule, now: datetime) -> Plan:
    """The runs due at `now` and what becomes of each.

    A run later than `misfire_grace_s` (the scheduler was down) is missed; with `coalesce`,
    the due runs fold into one fire of the latest, even past the grace, so a periodic job
    catches up once after an outage. Lateness is measured from the planned fire time
    (nominal + jitter), since the jitter is intended. With `runs_left`, at most that many
    fire; once they did, the schedule has no next run.
    """
    due: list[datetime] = []
    nominal = schedule.next_nominal_at
    while nominal is not None and schedule.fire_time(nominal) <= now:
        due.append(nominal)
        if len(due) >= MAX_CATCH_UP:
            nominal = schedule.next_after(now)
            break
        nominal = schedule.next_after(nominal)
    runs = []
    allowed = schedule.runs_left
    for index, at in enumerate(due):
        if allowed == 0:  # the last run allowed fired: what was due after it never fires
            nominal = None
            break
        late = max(0, round((now - schedule.fire_time(at)).total_seconds() * 1000))
        if schedule.coalesce:
            outcome: Outcome = "fired" if index == len(due) - 1 else "coalesced"
        else:
            outcome = "fired" if late <= schedule.misfire_grace_s * 1000 else "missed"
        runs.append(PlannedRun(at, outcome, late))
        if allowed is not None and outcome == "fired":
            allowed -= 1
    if allowed == 0:
        nominal = None
    return Plan(runs, nominal, schedule.fire_time(nominal) if nominal else None)


def new_schedule_id() -> str:
    return str(ULID()).lower()
