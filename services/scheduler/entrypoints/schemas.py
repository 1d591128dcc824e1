"""The bodies the scheduler's API accepts. They are the domain's commands too (a built-in
schedule in the config file is a `ScheduleSpec`, a `delay.requested` event's data a
`DelayRequest`), so they live in `domain/` and are named here for the HTTP side; queries use
`shared.pagination.PageParams`."""

from __future__ import annotations

from services.scheduler.domain.delays import DelayCancel, DelayRequest
from services.scheduler.domain.schedules import SchedulePatch, ScheduleSpec

__all__ = ["DelayCancel", "DelayRequest", "SchedulePatch", "ScheduleSpec"]
