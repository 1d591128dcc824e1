"""The bodies the scheduler's API accepts and the answers it gives. The request bodies are the
domain's commands too (a built-in schedule in the config file is a `ScheduleSpec`, a
`delay.requested` event's data a `DelayRequest`), so they live in `domain/` and are named here
for the HTTP side; queries use `shared.pagination.PageParams`. The answers are rendered
through the models below, which the OpenAPI document also describes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_serializer
from typing_extensions import TypedDict

from services.scheduler.domain.backfill import BackfilledRun, BackfillRequest
from services.scheduler.domain.delays import DelayCancel, DelayRequest
from services.scheduler.domain.schedules import (
    NEXT_RUNS,
    EventSpec,
    Outcome,
    PauseRequest,
    RunRecord,
    Schedule,
    SchedulePatch,
    ScheduleSpec,
    State,
)
from services.scheduler.domain.triggers import AnyTrigger, Trigger

__all__ = ["BackfillRequest", "DelayCancel", "DelayRequest", "PauseRequest", "SchedulePatch",
           "ScheduleSpec"]


class PauseOut(BaseModel):
    at: datetime
    by: str | None = Field(description="who paused it (`user:<id>`, `cli:<login>`); null: "
                                       "the config file")
    note: str | None = Field(description="why, as given to pause")


class ScheduleOut(BaseModel):
    id: str
    trigger: Trigger
    event: EventSpec
    misfire_grace_s: int
    jitter_s: int
    coalesce: bool
    enabled: bool
    runs_left: int | None = Field(description="scheduled fires still to come; null: unlimited")
    state: State = Field(description="active; paused; exhausted (no runs left); done (the "
                                     "trigger has no next time)")
    pause: PauseOut | None = Field(description="while paused: when, by whom and why")
    builtin: bool
    next_run_at: datetime | None = Field(description="the next nominal time, UTC")
    next_runs: list[datetime] = Field(description=f"the next {NEXT_RUNS} nominal times, in the "
                                                  "trigger's zone (UTC for an interval)")
    created_at: datetime
    updated_at: datetime

    @field_serializer("trigger")
    def _trigger(self, trigger: AnyTrigger) -> dict[str, Any]:
        return trigger.model_dump(mode="json", exclude_none=True)  # as it was given

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleOut:
        pause = schedule.pause
        return cls(
            id=schedule.id, trigger=schedule.trigger, event=schedule.event,
            misfire_grace_s=schedule.misfire_grace_s, jitter_s=schedule.jitter_s,
            coalesce=schedule.coalesce, enabled=schedule.enabled,
            runs_left=schedule.runs_left, state=schedule.state,
            pause=PauseOut(at=pause.at, by=pause.by, note=pause.note)
            if pause and not schedule.enabled else None,
            builtin=schedule.builtin, next_run_at=schedule.next_run_at,
            next_runs=schedule.upcoming(), created_at=schedule.created_at,
            updated_at=schedule.updated_at,
        )


class RunOut(BaseModel):
    nominal_at: datetime
    fired_at: datetime | None
    event_id: str | None
    lateness_ms: int | None
    outcome: Outcome

    @classmethod
    def of(cls, run: RunRecord) -> RunOut:
        return cls(nominal_at=run.nominal_at, fired_at=run.fired_at, event_id=run.event_id,
                   lateness_ms=run.lateness_ms, outcome=run.outcome)


class BackfilledRunOut(BaseModel):
    nominal_at: datetime
    event_id: str = Field(description="the id a normal fire of this run has")
    published: bool = Field(description="false: it had been published already")


class BackfillOut(BaseModel):
    schedule: str
    start: datetime
    end: datetime
    count: int = Field(description="runs in the window")
    published: int = Field(description="runs published by this backfill")
    runs: list[BackfilledRunOut]

    @classmethod
    def of(cls, schedule_id: str, request: BackfillRequest,
           runs: list[BackfilledRun]) -> BackfillOut:
        return cls(
            schedule=schedule_id, start=request.start, end=request.end, count=len(runs),
            published=sum(run.published for run in runs),
            runs=[BackfilledRunOut(nominal_at=r.nominal_at, event_id=r.event_id,
                                   published=r.published) for r in runs],
        )


class DelayCreated(TypedDict):
    id: str
    due_at: datetime
