"""The scheduler's use cases: one method per command, on the ports handed in by bootstrap."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from services.scheduler.domain.backfill import BackfilledRun, BackfillRequest, backfill_times
from services.scheduler.domain.builtins import builtin_schedule, updated_builtin
from services.scheduler.domain.delays import DelayCancel, DelayRequest, StoredDelay
from services.scheduler.domain.errors import (
    BuiltinSchedule,
    InvalidSchedule,
    LostLease,
    ScheduleExists,
    ScheduleNotFound,
)
from services.scheduler.domain.schedules import (
    Advance,
    EventSpec,
    Pause,
    RunRecord,
    Schedule,
    SchedulePatch,
    ScheduleSpec,
    check_event,
    check_rules,
    new_schedule_id,
    plan_due,
    run_event_id,
)
from services.scheduler.domain.triggers import AnyTrigger
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.ports import (
    Clock,
    DelayStore,
    EventPublisher,
    RunPublisher,
    ScheduleRepository,
)
from shared.events import Envelope, new_event_id
from shared.logging import get_logger

log = get_logger(__name__)

# Schedules fired per round trip to Redis and per transaction.
FIRE_BATCH = 500


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_envelope(schedule: Schedule, nominal: datetime) -> Envelope:
    """The event of one nominal run, as every fire of it (normal or backfill) publishes it."""
    event_id = run_event_id(schedule.id, nominal)
    return Envelope(id=event_id, type=schedule.event.type, producer="scheduler",
                    correlation_id=event_id, data=schedule.event.data)


@dataclass
class SchedulerHandlers:
    repo: ScheduleRepository
    delays: DelayStore
    runs: RunPublisher
    events: EventPublisher
    metrics: SchedulerMetrics
    target_streams: tuple[str, ...]
    # Set on a change made through this replica, so its loops look again at once.
    wake_runner: asyncio.Event
    wake_mover: asyncio.Event
    clock: Clock = utc_now
    backfill_max_runs: int = 1000

    async def get_schedule(self, schedule_id: str) -> Schedule:
        schedule = await self.repo.get(schedule_id)
        if schedule is None:
            raise ScheduleNotFound(schedule_id)
        return schedule

    def _check(self, trigger: AnyTrigger | None, event: EventSpec, now: datetime) -> None:
        check_rules(trigger, event, now, self.target_streams)

    async def create_schedule(self, spec: ScheduleSpec, by: str | None = None) -> Schedule:
        """`by`: who asks (shown as who paused it, when created paused)."""
        now = self.clock()
        schedule = Schedule(
            id=spec.id or new_schedule_id(), trigger=spec.trigger, event=spec.event,
            misfire_grace_s=spec.misfire_grace_s, jitter_s=spec.jitter_s,
            coalesce=spec.coalesce, enabled=spec.enabled, created_at=now, updated_at=now,
            runs_left=spec.runs_left, pause=None if spec.enabled else Pause(now, by),
        ).rescheduled(now)
        self._check(schedule.trigger, schedule.event, now)
        await self.repo.add(schedule)
        self.wake_runner.set()
        return schedule

    async def update_schedule(
        self, schedule_id: str, patch: SchedulePatch, by: str | None = None
    ) -> Schedule:
        now = self.clock()
        current = await self.get_schedule(schedule_id)
        changes = patch.model_dump(exclude_unset=True)
        updated = replace(current, updated_at=now, **{
            name: getattr(patch, name) for name in changes
        })
        if "trigger" in changes or "event" in changes:
            self._check(updated.trigger if "trigger" in changes else None, updated.event, now)
        if "enabled" in changes and updated.enabled != current.enabled:
            updated = replace(updated, pause=None if updated.enabled else Pause(now, by))
        return await self._save(current, updated, now, runs_left="runs_left" in changes)

    async def _save(
        self, current: Schedule, updated: Schedule, now: datetime, *, runs_left: bool = False
    ) -> Schedule:
        """Replan what the change moves, write it and wake the runner."""
        if (current.trigger, current.enabled) != (updated.trigger, updated.enabled) or (
                runs_left and current.next_run_at is None):
            updated = updated.rescheduled(now)
        elif updated.jitter_s != current.jitter_s and updated.next_nominal_at is not None:
            updated = replace(updated, next_fire_at=updated.fire_time(updated.next_nominal_at))
        saved = await self.repo.save(updated, runs_left=runs_left)
        self.wake_runner.set()
        return saved

    async def pause(self, schedule_id: str, note: str | None = None,
                    by: str | None = None) -> Schedule:
        """Stop firing until resumed; `note` (why) and `by` (who) are shown on the schedule.
        Pausing a paused schedule replaces its note."""
        now = self.clock()
        current = await self.get_schedule(schedule_id)
        return await self._save(current, replace(
            current, enabled=False, updated_at=now, pause=Pause(now, by, note)), now)

    async def resume(self, schedule_id: str) -> Schedule:
        """Runs due while paused are not caught up (backfill them if they are wanted)."""
        return await self.update_schedule(schedule_id, SchedulePatch(enabled=True))

    async def delete_schedule(self, schedule_id: str) -> None:
        schedule = await self.get_schedule(schedule_id)
        if schedule.builtin:
            raise BuiltinSchedule()
        await self.repo.delete(schedule_id)

    async def trigger_now(self, schedule_id: str) -> RunRecord:
        """Fire once now, outside the schedule (any replica; not deduplicated)."""
        schedule = await self.get_schedule(schedule_id)
        event_id = new_event_id()
        await self.events.publish(schedule.event.stream, Envelope(
            id=event_id, type=schedule.event.type, producer="scheduler",
            correlation_id=event_id, data=schedule.event.data,
        ))
        now = self.clock()
        run = RunRecord(now, now, event_id, 0, "triggered")
        await self.repo.record_runs(schedule.id, [run])
        self.metrics.fires.labels(schedule.id, "triggered").inc()
        return run

    async def backfill(
        self, schedule_id: str, request: BackfillRequest
    ) -> list[BackfilledRun]:
        """Fire now, oldest first, each run of the window not published yet, with the event
        id its normal fire has: a run fired already (recorded, or published by a leader
        that has not recorded it yet) is not published again. Any replica; paused or
        exhausted schedules too; not counted in `runs_left` (an explicit extra, as trigger)."""
        schedule = await self.get_schedule(schedule_id)
        times = backfill_times(schedule, request, self.clock(), self.backfill_max_runs)
        if not times:
            return []
        fired = await self.repo.fired_runs(schedule.id, times[0], times[-1])
        done = [BackfilledRun(nominal, fired[nominal], False) for nominal in times
                if nominal in fired]
        envelopes = {nominal: run_envelope(schedule, nominal) for nominal in times
                     if nominal not in fired}
        results = await self.runs.publish(
            None, [(schedule.event.stream, envelope) for envelope in envelopes.values()])
        fired_at = self.clock()
        records: list[RunRecord] = []
        for (nominal, envelope), result in zip(envelopes.items(), results, strict=True):
            done.append(BackfilledRun(nominal, envelope.id, result == "published"))
            if result == "published":  # a duplicate is recorded by whoever published it
                records.append(RunRecord(nominal, fired_at, envelope.id, None, "backfilled"))
                self.metrics.fires.labels(schedule.id, "backfilled").inc()
        await self.repo.record_backfill(schedule.id, records)
        return sorted(done, key=lambda run: run.nominal_at)

    async def sync_builtins(self, specs: Sequence[ScheduleSpec]) -> None:
        """Insert the missing ones; rewrite one only when the file's definition changed since
        it was last applied. `enabled` (a pause made through the API) is always kept."""
        now = self.clock()
        for spec in specs:
            from_file = builtin_schedule(spec, now)
            current = await self.repo.get(from_file.id)
            if current is None:
                try:
                    await self.repo.add(from_file.rescheduled(now))
                    log.info("built-in schedule added", schedule=from_file.id)
                except ScheduleExists:
                    pass  # another replica starting at the same time added it
            elif current.builtin_hash != from_file.builtin_hash:
                await self.repo.save(updated_builtin(from_file, current, now))
                log.info("built-in schedule updated from the file", schedule=from_file.id)

    async def fire_due(self, lease: str, tick_s: float) -> float:
        """The leader's round: publish every due run once (fenced by `lease`), record it, move
        each schedule on. Returns how long to wait, at most `tick_s`; raises LostLease."""
        now = self.clock()
        due = await self.repo.due(now)
        for start in range(0, len(due), FIRE_BATCH):
            await self._fire_batch(lease, due[start:start + FIRE_BATCH], now)
        earliest = await self.repo.earliest_fire_at()
        if earliest is None:
            return tick_s
        return min(tick_s, max(0.0, (earliest - self.clock()).total_seconds()))

    async def _fire_batch(self, lease: str, batch: Sequence[Schedule], now: datetime) -> None:
        """Publish the batch's due runs in one round trip, then record them and move the
        schedules on in one transaction (a run published but not recorded, by a leader that
        died in between, is published as a duplicate by the next and then recorded)."""
        plans = [(schedule, plan_due(schedule, now)) for schedule in batch]
        records: dict[str, list[RunRecord]] = {schedule.id: [] for schedule in batch}
        fired: list[tuple[Schedule, datetime, Envelope]] = []
        for schedule, plan in plans:
            for run in plan.runs:
                if run.outcome == "fired":
                    fired.append(
                        (schedule, run.nominal_at, run_envelope(schedule, run.nominal_at)))
                else:
                    self.metrics.missed.labels(schedule.id, run.outcome).inc()
                    records[schedule.id].append(
                        RunRecord(run.nominal_at, None, None, None, run.outcome))
        results = await self.runs.publish(
            lease, [(schedule.event.stream, envelope) for schedule, _, envelope in fired])
        if "fenced" in results:
            raise LostLease(lease)
        fired_at = self.clock()
        for (schedule, nominal_at, envelope), result in zip(fired, results, strict=True):
            lateness = (fired_at - schedule.fire_time(nominal_at)).total_seconds()
            self.metrics.fires.labels(
                schedule.id, "fired" if result == "published" else "duplicate"
            ).inc()
            self.metrics.lateness.labels("schedule").observe(max(0.0, lateness))
            # A duplicate was published by a leader that died before recording it; the
            # record here carries this leader's time.
            records[schedule.id].append(RunRecord(
                nominal_at, fired_at, envelope.id, max(0, round(lateness * 1000)), "fired"
            ))
        await self.repo.advance([
            Advance(schedule, records[schedule.id], plan.next_nominal_at, plan.next_fire_at)
            for schedule, plan in plans
        ])

    async def request_delay(
        self, request: DelayRequest, *, producer: str = "scheduler",
        correlation_id: str | None = None, from_event: bool = False, key: str | None = None,
    ) -> StoredDelay:
        now = self.clock()
        if request.stream not in self.target_streams:
            raise InvalidSchedule(
                "stream", f"unknown stream {request.stream!r}; "
                          f"one of {', '.join(self.target_streams)}")
        check_event(request.stream, request.type, request.data)
        due_at = request.due_at(now, allow_past=from_event)
        envelope = Envelope(
            type=request.type, producer=producer, occurred_at=due_at,
            correlation_id=correlation_id, data=request.data,
        )
        stored = await self.delays.add(request.stream, envelope, due_at, request.key or key or "")
        self.wake_mover.set()
        return stored

    async def cancel_delay(self, cancel: DelayCancel) -> bool:
        return await self.delays.cancel(cancel.id or "", cancel.key or "")

    async def move_due_delays(self, batch: int, poll_s: float) -> float:
        """Move one batch of due delays; return how long to wait before the next (at most
        `poll_s`; 0 when the batch was full)."""
        moved = await self.delays.move_due(batch)
        if moved.moved:
            self.metrics.delays_moved.inc(moved.moved)
            lateness = self.metrics.lateness.labels("delay")
            for late_ms in moved.lateness_ms:
                lateness.observe(late_ms / 1000)
        if moved.looked_at >= batch:
            return 0.0
        next_due, pending = await self.delays.peek()
        self.metrics.pending_delays.set(pending)
        if next_due is None:
            return poll_s
        return min(poll_s, max(0.0, next_due / 1000 - self.clock().timestamp()))
