"""What the scheduler's handlers and loops need, as protocols; `adapters/` has the Redis and
SQL implementations, `tests/scheduler/fakes.py` the in-memory ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from typing_extensions import TypedDict

from services.scheduler.domain.delays import Moved, StoredDelay
from services.scheduler.domain.schedules import Advance, RunRecord, Schedule
from services.scheduler.domain.sms import SmsMessage
from shared.events import Envelope

Clock = Callable[[], datetime]  # an aware datetime, now
PublishResult = Literal["published", "duplicate", "fenced"]



class PendingDelay(TypedDict):
    """A pending delay as the API shows it (`GET /delays/{id}`)."""

    id: str
    due_at: datetime
    stream: str
    type: str
    data: dict[str, Any]
    key: str | None

class ScheduleRepository(Protocol):
    async def add(self, schedule: Schedule) -> None:
        """Raises `ScheduleExists` when the id is taken."""

    async def get(self, schedule_id: str) -> Schedule | None: ...

    async def page(self, offset: int, limit: int) -> tuple[int, list[Schedule]]:
        """The count of all schedules, and one page of them by id."""

    async def save(self, schedule: Schedule, *, runs_left: bool = False) -> Schedule:
        """Write an API change; the saved schedule has the next revision. `runs_left` is
        written only when asked (a change that sets it): it is the leader's to decrement."""

    async def delete(self, schedule_id: str) -> bool: ...

    async def due(self, now: datetime) -> list[Schedule]:
        """Enabled schedules whose fire time has come, earliest first."""

    async def earliest_fire_at(self) -> datetime | None: ...

    async def advance(self, advances: Sequence[Advance]) -> None:
        """In one transaction, for each: record the runs; move the schedule on only if its
        revision and next nominal time are still those of `schedule`. Runs already recorded
        are kept as they are. A limited schedule's `runs_left` goes down by its `fired` runs
        recorded for the first time, whether or not it moved on."""

    async def record_runs(self, schedule_id: str, runs: Sequence[RunRecord]) -> None: ...

    async def fired_runs(
        self, schedule_id: str, start: datetime, end: datetime
    ) -> dict[datetime, str]:
        """The event ids of runs in [start, end] that were published, by nominal time."""

    async def record_backfill(self, schedule_id: str, runs: Sequence[RunRecord]) -> None:
        """Record backfilled runs, over runs recorded without an event (missed, coalesced),
        never over a published one."""

    async def runs(self, schedule_id: str, offset: int, limit: int) -> tuple[int, list[RunRecord]]:
        """The count of a schedule's runs, and one page of them, newest first."""


class DelayStore(Protocol):
    async def add(self, stream: str, envelope: Envelope, due_at: datetime, key: str) -> StoredDelay:
        """Store the envelope for `stream` at `due_at` (its id is the delay's); a `key` in use
        (pending, or fired within the key's time to live) answers with that delay instead."""

    async def cancel(self, delay_id: str = "", key: str = "") -> bool:
        """By id or by key; True if one was pending."""

    async def get(self, delay_id: str) -> PendingDelay | None:
        """A pending delay as the API shows it."""

    async def move_due(self, batch: int) -> Moved:
        """Write up to `batch` due delays to their streams, atomically."""

    async def peek(self) -> tuple[int | None, int]:
        """The due time (epoch ms) of the next delay, and how many are pending."""


class RunPublisher(Protocol):
    async def publish(
        self, lease_value: str | None, runs: Sequence[tuple[str, Envelope]]
    ) -> list[PublishResult]:
        """Publish each scheduled run (stream, envelope) once (by envelope id), only while
        `lease_value` holds; with None (a backfill, on any replica) once by envelope id,
        without the lease. One result per run, in order."""


class EventPublisher(Protocol):
    async def publish(self, stream: str, envelope: Envelope) -> str:
        """Append the envelope to the stream; the entry id."""


class LeaderLease(Protocol):
    lease_ms: int

    async def acquire(self) -> str | None:
        """The lease value (fencing token and owner) if free or already this owner's."""

    async def renew(self, value: str) -> bool: ...

    async def release(self, value: str) -> None: ...


class SmsProvider(Protocol):
    name: str

    async def send(self, message_id: str, sms: SmsMessage) -> None: ...
