"""The scheduler's use cases: one method per command, on adapters handed in at start."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime

from redis.asyncio import Redis

from services.scheduler.adapters.delay_store import DelayStore, StoredDelay
from services.scheduler.adapters.repository import AlreadyExists, RunRecord, ScheduleRepository
from services.scheduler.domain.delays import DelayCancel, DelayRequest
from services.scheduler.domain.schedules import (
    EventSpec,
    InvalidSchedule,
    Schedule,
    SchedulePatch,
    ScheduleSpec,
    check_rules,
    new_schedule_id,
)
from services.scheduler.domain.triggers import AnyTrigger
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.runner import Clock, utc_now
from shared.events import Envelope, new_event_id, publish
from shared.problems import Problem


def invalid(exc: InvalidSchedule) -> Problem:
    return Problem(422, "validation-error", f"{exc.field}: {exc}", title="Invalid request",
                   errors=[{"loc": ["body", *exc.field.split(".")], "msg": str(exc),
                            "type": "value_error"}])


@dataclass
class SchedulerHandlers:
    repo: ScheduleRepository
    redis: Redis
    delays: DelayStore
    metrics: SchedulerMetrics
    target_streams: tuple[str, ...]
    wake_runner: asyncio.Event
    wake_mover: asyncio.Event
    clock: Clock = utc_now

    async def get_schedule(self, schedule_id: str) -> Schedule:
        schedule = await self.repo.get(schedule_id)
        if schedule is None:
            raise Problem(404, "not-found", f"No schedule {schedule_id!r}.")
        return schedule

    def _check(self, trigger: AnyTrigger | None, event: EventSpec, now: datetime) -> None:
        try:
            check_rules(trigger, event, now, self.target_streams)
        except InvalidSchedule as exc:
            raise invalid(exc) from exc

    async def create_schedule(self, spec: ScheduleSpec) -> Schedule:
        now = self.clock()
        schedule = Schedule(
            id=spec.id or new_schedule_id(), trigger=spec.trigger, event=spec.event,
            misfire_grace_s=spec.misfire_grace_s, jitter_s=spec.jitter_s,
            coalesce=spec.coalesce, enabled=spec.enabled, created_at=now, updated_at=now,
        ).rescheduled(now)
        self._check(schedule.trigger, schedule.event, now)
        try:
            await self.repo.add(schedule)
        except AlreadyExists as exc:
            raise Problem(409, "already-exists", f"Schedule {schedule.id!r} exists.") from exc
        self.wake_runner.set()
        return schedule

    async def update_schedule(self, schedule_id: str, patch: SchedulePatch) -> Schedule:
        now = self.clock()
        current = await self.get_schedule(schedule_id)
        changes = patch.model_dump(exclude_unset=True)
        updated = replace(current, updated_at=now, **{
            name: getattr(patch, name) for name in changes
        })
        if "trigger" in changes or "event" in changes:
            self._check(updated.trigger if "trigger" in changes else None, updated.event, now)
        if {"trigger", "enabled"} & changes.keys():
            updated = updated.rescheduled(now)
        elif "jitter_s" in changes and updated.next_nominal_at is not None:
            updated = replace(updated, next_fire_at=updated.fire_time(updated.next_nominal_at))
        saved = await self.repo.save(updated)
        self.wake_runner.set()
        return saved

    async def set_enabled(self, schedule_id: str, enabled: bool) -> Schedule:
        """Pause or resume. Runs due while paused are not caught up on resume."""
        return await self.update_schedule(schedule_id, SchedulePatch(enabled=enabled))

    async def delete_schedule(self, schedule_id: str) -> None:
        schedule = await self.get_schedule(schedule_id)
        if schedule.builtin:
            raise Problem(409, "builtin", "A built-in schedule comes back at the next start; "
                          "pause it instead.")
        await self.repo.delete(schedule_id)

    async def trigger_now(self, schedule_id: str) -> RunRecord:
        """Fire once now, outside the schedule (any replica; not deduplicated)."""
        schedule = await self.get_schedule(schedule_id)
        event_id = new_event_id()
        await publish(self.redis, schedule.event.stream, Envelope(
            id=event_id, type=schedule.event.type, producer="scheduler",
            correlation_id=event_id, data=schedule.event.data,
        ))
        now = self.clock()
        run = RunRecord(now, now, event_id, 0, "triggered")
        await self.repo.record_runs(schedule.id, [run])
        self.metrics.fires.labels(schedule.id, "triggered").inc()
        return run

    async def request_delay(
        self, request: DelayRequest, *, producer: str = "scheduler",
        correlation_id: str | None = None, from_event: bool = False, key: str | None = None,
    ) -> StoredDelay:
        now = self.clock()
        if request.stream not in self.target_streams:
            raise invalid(InvalidSchedule(
                "stream", f"unknown stream {request.stream!r}; "
                          f"one of {', '.join(self.target_streams)}"))
        try:
            due_at = request.due_at(now, allow_past=from_event)
        except InvalidSchedule as exc:
            raise invalid(exc) from exc
        envelope = Envelope(
            type=request.type, producer=producer, occurred_at=due_at,
            correlation_id=correlation_id, data=request.data,
        )
        stored = await self.delays.add(request.stream, envelope, due_at, request.key or key or "")
        self.wake_mover.set()
        return stored

    async def cancel_delay(self, cancel: DelayCancel) -> bool:
        return await self.delays.cancel(cancel.id or "", cancel.key or "")
