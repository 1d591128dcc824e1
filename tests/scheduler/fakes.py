"""In-memory fakes of the scheduler's ports (services/scheduler/ports.py), for the unit tier.
Honest about what the handlers rely on: ids taken, revisions and compare-and-set, due order,
idempotency keys, the lease's expiry and fencing; `test_port_contracts.py` holds the
delay store and the repository to the same tests as the real adapters."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from services.scheduler.domain.delays import Moved, StoredDelay
from services.scheduler.domain.errors import ScheduleExists
from services.scheduler.domain.schedules import Advance, RunRecord, Schedule
from services.scheduler.handlers import SchedulerHandlers
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.ports import Clock, PublishResult
from shared.events import Envelope


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class FakeScheduleRepository:
    def __init__(self) -> None:
        self.schedules: dict[str, Schedule] = {}
        self.history: dict[str, dict[datetime, RunRecord]] = defaultdict(dict)

    async def add(self, schedule: Schedule) -> None:
        if schedule.id in self.schedules:
            raise ScheduleExists(schedule.id)
        self.schedules[schedule.id] = schedule

    async def get(self, schedule_id: str) -> Schedule | None:
        return self.schedules.get(schedule_id)

    async def page(self, offset: int, limit: int) -> tuple[int, list[Schedule]]:
        ordered = sorted(self.schedules.values(), key=lambda s: s.id)
        return len(ordered), ordered[offset:offset + limit]

    async def save(self, schedule: Schedule, *, runs_left: bool = False) -> Schedule:
        saved = replace(schedule, revision=schedule.revision + 1)
        if schedule.id in self.schedules:
            if not runs_left:  # the leader's to decrement
                saved = replace(saved, runs_left=self.schedules[schedule.id].runs_left)
            self.schedules[schedule.id] = saved
        return saved

    async def delete(self, schedule_id: str) -> bool:
        self.history.pop(schedule_id, None)
        return self.schedules.pop(schedule_id, None) is not None

    def _timed(self) -> list[Schedule]:
        timed = [s for s in self.schedules.values()
                 if s.enabled and s.runs_left != 0 and s.next_fire_at is not None]
        return sorted(timed, key=lambda s: (s.next_fire_at, s.id))

    async def due(self, now: datetime) -> list[Schedule]:
        return [s for s in self._timed() if s.next_fire_at is not None and s.next_fire_at <= now]

    async def earliest_fire_at(self) -> datetime | None:
        timed = self._timed()
        return timed[0].next_fire_at if timed else None

    async def advance(self, advances: Sequence[Advance]) -> None:
        for a in advances:
            fired = await self._insert_runs(a.schedule.id, a.runs)
            current = self.schedules.get(a.schedule.id)
            if current is None:
                continue
            if current.runs_left is not None and fired:
                current = replace(current, runs_left=max(0, current.runs_left - fired))
            if (current.revision, current.next_nominal_at) == (
                    a.schedule.revision, a.schedule.next_nominal_at):
                current = replace(
                    current, next_nominal_at=a.next_nominal_at, next_fire_at=a.next_fire_at)
            self.schedules[a.schedule.id] = current

    async def record_runs(self, schedule_id: str, runs: Sequence[RunRecord]) -> None:
        await self._insert_runs(schedule_id, runs)

    async def _insert_runs(self, schedule_id: str, runs: Sequence[RunRecord]) -> int:
        """The runs not recorded yet; how many of them fired."""
        history = self.history[schedule_id]
        new = [run for run in runs if run.nominal_at not in history]
        for run in new:
            history[run.nominal_at] = run
        return sum(run.outcome == "fired" for run in new)

    async def fired_runs(
        self, schedule_id: str, start: datetime, end: datetime
    ) -> dict[datetime, str]:
        return {at: run.event_id for at, run in self.history[schedule_id].items()
                if start <= at <= end and run.event_id is not None}

    async def record_backfill(self, schedule_id: str, runs: Sequence[RunRecord]) -> None:
        history = self.history[schedule_id]
        for run in runs:
            if run.nominal_at not in history or history[run.nominal_at].event_id is None:
                history[run.nominal_at] = run

    async def runs(self, schedule_id: str, offset: int, limit: int) -> tuple[int, list[RunRecord]]:
        ordered = sorted(self.history[schedule_id].values(), key=lambda r: r.nominal_at,
                         reverse=True)
        return len(ordered), ordered[offset:offset + limit]


class FakeStreams:
    """The streams, and the EventPublisher port on them."""

    def __init__(self) -> None:
        self.entries: dict[str, list[Envelope]] = defaultdict(list)

    async def publish(self, stream: str, envelope: Envelope) -> str:
        self.entries[stream].append(envelope)
        return f"{len(self.entries[stream])}-0"


@dataclass
class _Pending:
    due_ms: int
    stream: str
    key: str
    envelope: Envelope


class FakeDelayStore:
    def __init__(self, streams: FakeStreams, clock: Clock, key_ttl_s: int = 24 * 3600) -> None:
        self.streams = streams
        self.clock = clock
        self.key_ttl_ms = key_ttl_s * 1000
        self.pending: dict[str, _Pending] = {}
        self.keys: dict[str, tuple[str, int]] = {}  # key -> (delay id, due ms)
        self.key_expiry: dict[str, int] = {}  # keys of fired delays -> when they stop naming it

    async def add(self, stream: str, envelope: Envelope, due_at: datetime, key: str) -> StoredDelay:
        due_ms = _ms(due_at)
        if key and key in self.keys:
            delay_id, due_ms = self.keys[key]
            return StoredDelay(delay_id, datetime.fromtimestamp(due_ms / 1000, UTC), False)
        if key:
            self.keys[key] = (envelope.id, due_ms)
        self.pending[envelope.id] = _Pending(due_ms, stream, key, envelope)
        return StoredDelay(envelope.id, datetime.fromtimestamp(due_ms / 1000, UTC), True)

    async def cancel(self, delay_id: str = "", key: str = "") -> bool:
        if not delay_id:
            if key not in self.keys:
                return False
            delay_id = self.keys[key][0]
        entry = self.pending.pop(delay_id, None)
        if entry is None:
            return False
        if entry.key:
            self.keys.pop(entry.key, None)
            self.key_expiry.pop(entry.key, None)
        return True

    async def get(self, delay_id: str) -> dict[str, Any] | None:
        entry = self.pending.get(delay_id)
        if entry is None:
            return None
        return {
            "id": delay_id, "due_at": datetime.fromtimestamp(entry.due_ms / 1000, UTC),
            "stream": entry.stream, "type": entry.envelope.type, "data": entry.envelope.data,
            "key": entry.key or None,
        }

    async def move_due(self, batch: int) -> Moved:
        now = _ms(self.clock())
        due = sorted((p.due_ms, i) for i, p in self.pending.items() if p.due_ms <= now)[:batch]
        lateness = []
        for due_ms, delay_id in due:
            entry = self.pending.pop(delay_id)
            await self.streams.publish(entry.stream, entry.envelope)
            if entry.key:
                self.key_expiry[entry.key] = now + self.key_ttl_ms
            lateness.append(now - due_ms)
        for key in [k for k, at in self.key_expiry.items() if at <= now][:100]:
            self.keys.pop(key, None)
            del self.key_expiry[key]
        return Moved(len(lateness), len(due), lateness)

    async def peek(self) -> tuple[int | None, int]:
        first = min((p.due_ms for p in self.pending.values()), default=None)
        return first, len(self.pending)


class FakeLeaseKeeper:
    """What Redis keeps for the leader: one lease value with an expiry, a fencing counter."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.value: str | None = None
        self.expires_at = clock()
        self.fence = 0

    def current(self) -> str | None:
        if self.value is not None and self.clock() >= self.expires_at:
            self.value = None
        return self.value

    def hold(self, value: str, lease_ms: int) -> None:
        self.value, self.expires_at = value, self.clock() + timedelta(milliseconds=lease_ms)


class FakeLeaderLease:
    def __init__(self, keeper: FakeLeaseKeeper, owner: str, lease_ms: int = 3000) -> None:
        self.keeper = keeper
        self.owner = owner
        self.lease_ms = lease_ms

    async def acquire(self) -> str | None:
        current = self.keeper.current()
        if current is not None:
            if not current.endswith(f":{self.owner}"):
                return None
            value = current
        else:
            self.keeper.fence += 1
            value = f"{self.keeper.fence}:{self.owner}"
        self.keeper.hold(value, self.lease_ms)
        return value

    async def renew(self, value: str) -> bool:
        if self.keeper.current() != value:
            return False
        self.keeper.hold(value, self.lease_ms)
        return True

    async def release(self, value: str) -> None:
        if self.keeper.current() == value:
            self.keeper.value = None


class FakeRunPublisher:
    """Fenced by the keeper's lease; each envelope id published once (no dedupe expiry)."""

    def __init__(self, keeper: FakeLeaseKeeper, streams: FakeStreams) -> None:
        self.keeper = keeper
        self.streams = streams
        self.published: set[str] = set()

    async def publish(
        self, lease_value: str | None, runs: Sequence[tuple[str, Envelope]]
    ) -> list[PublishResult]:
        return [await self._publish(lease_value, stream, envelope) for stream, envelope in runs]

    async def _publish(
        self, lease_value: str | None, stream: str, envelope: Envelope
    ) -> PublishResult:
        if lease_value is not None and self.keeper.current() != lease_value:
            return "fenced"
        if envelope.id in self.published:
            return "duplicate"
        self.published.add(envelope.id)
        await self.streams.publish(stream, envelope)
        return "published"


@dataclass
class Fakes:
    """The handlers on fakes, and the fakes to look into."""

    clock: FakeClock
    targets: tuple[str, ...] = ("test.out", "notify.sms")
    streams: FakeStreams = field(default_factory=FakeStreams)
    repo: FakeScheduleRepository = field(default_factory=FakeScheduleRepository)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.keeper = FakeLeaseKeeper(self.clock)
        self.delays = FakeDelayStore(self.streams, self.clock)
        self.runs = FakeRunPublisher(self.keeper, self.streams)
        self.handlers = SchedulerHandlers(
            repo=self.repo, delays=self.delays, runs=self.runs, events=self.streams,
            metrics=SchedulerMetrics(self.registry), target_streams=self.targets,
            wake_runner=asyncio.Event(), wake_mover=asyncio.Event(), clock=self.clock,
        )

    def lease(self, owner: str = "a") -> FakeLeaderLease:
        return FakeLeaderLease(self.keeper, owner)

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0
