"""The bodies the scheduler's API accepts. They are the domain's commands too (a built-in
schedule in the config file is a `ScheduleSpec`, a `delay.requested` event's data a
`DelayRequest`), so they live in `domain/` and are named here for the HTTP side; queries use
`shared.pagination.PageParams`. The answers http.py renders are the TypedDicts below (and
`ports.PendingDelay`): the document's response schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from typing_extensions import TypedDict

from services.scheduler.domain.delays import DelayCancel, DelayRequest
from services.scheduler.domain.schedules import EventSpec, Outcome, SchedulePatch, ScheduleSpec
from services.scheduler.domain.triggers import Trigger
from shared.openapi import SchemaOf

__all__ = ["DelayCancel", "DelayRequest", "SchedulePatch", "ScheduleSpec"]


class ScheduleOut(TypedDict):
    """A schedule (`http.schedule_body`): its trigger (dumped without the fields left unset,
    described as the trigger models) and event as a body gives them."""

    id: str
    trigger: Annotated[dict[str, Any], SchemaOf(Trigger)]
    event: EventSpec
    misfire_grace_s: int
    jitter_s: int
    coalesce: bool
    enabled: bool
    builtin: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RunOut(TypedDict):
    """One run of a schedule's history (and what a trigger answers)."""

    nominal_at: datetime
    fired_at: datetime | None
    event_id: str | None
    lateness_ms: int | None
    outcome: Outcome


class DelayCreated(TypedDict):
    id: str
    due_at: datetime
