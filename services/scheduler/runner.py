"""The leader's loop: fire every due run once, record it, move each schedule on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.scheduler.adapters.repository import RunRecord, ScheduleRepository
from services.scheduler.adapters.run_publisher import RunPublisher
from services.scheduler.domain.schedules import Schedule, plan_due, run_event_id
from services.scheduler.election import Election
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.wakeable import WakeableLoop
from shared.events import Envelope
from shared.logging import get_logger

log = get_logger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class LostLease(Exception):
    pass


class ScheduleRunner(WakeableLoop):
    """Woken by schedule changes made through this replica's API."""

    def __init__(
        self,
        repo: ScheduleRepository,
        publisher: RunPublisher,
        election: Election,
        metrics: SchedulerMetrics,
        tick_s: float,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__()
        self.repo = repo
        self.publisher = publisher
        self.election = election
        self.metrics = metrics
        self.tick_s = tick_s
        self.clock = clock

    async def run(self) -> None:
        while not self.stopping:
            if not self.election.leading.is_set():
                self.wake.clear()  # a follower has nothing to do on a local change
                await self.sleep(self.tick_s)
                continue
            lease = self.election.value
            if lease is None:
                continue
            self.wake.clear()  # changes made from here on wake the next wait
            try:
                await self.tick(lease)
                pause = await self._pause()
            except LostLease:
                self.election.lost(lease)
                continue
            except Exception:
                log.exception("scheduler tick failed")
                pause = 1.0
            await self.sleep(pause)

    async def _pause(self) -> float:
        earliest = await self.repo.earliest_fire_at()
        if earliest is None:
            return self.tick_s
        return min(self.tick_s, max(0.0, (earliest - self.clock()).total_seconds()))

    async def tick(self, lease: str) -> None:
        now = self.clock()
        for schedule in await self.repo.due(now):
            await self._run_schedule(lease, schedule, now)

    async def _run_schedule(self, lease: str, schedule: Schedule, now: datetime) -> None:
        plan = plan_due(schedule, now)
        records = []
        for run in plan.runs:
            if run.outcome != "fired":
                self.metrics.missed.labels(schedule.id, run.outcome).inc()
                records.append(RunRecord(run.nominal_at, None, None, None, run.outcome))
                continue
            event_id = run_event_id(schedule.id, run.nominal_at)
            envelope = Envelope(
                id=event_id, type=schedule.event.type, producer="scheduler",
                correlation_id=event_id, data=schedule.event.data,
            )
            result = await self.publisher.publish(lease, schedule.event.stream, envelope)
            if result == "fenced":
                raise LostLease(lease)
            fired_at = self.clock()
            lateness = (fired_at - schedule.fire_time(run.nominal_at)).total_seconds()
            self.metrics.fires.labels(
                schedule.id, "fired" if result == "published" else "duplicate"
            ).inc()
            self.metrics.lateness.labels("schedule").observe(max(0.0, lateness))
            # A duplicate was published by a leader that died before recording it; the
            # record here carries this leader's time.
            records.append(RunRecord(
                run.nominal_at, fired_at, event_id, max(0, round(lateness * 1000)), "fired"
            ))
        await self.repo.advance(schedule, records, plan.next_nominal_at, plan.next_fire_at)
