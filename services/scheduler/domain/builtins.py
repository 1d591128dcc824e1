"""Built-in schedules (the config file's): what the file defines, and when it wins."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

import orjson

from services.scheduler.domain.schedules import Pause, Schedule, ScheduleSpec


def definition_hash(spec: ScheduleSpec) -> str:
    body = spec.model_dump(mode="json", exclude={"enabled"})
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def builtin_schedule(spec: ScheduleSpec, now: datetime) -> Schedule:
    """The schedule as the file defines it (not yet rescheduled)."""
    if spec.id is None:
        raise ValueError("every built-in schedule needs an id")
    return Schedule(
        id=spec.id, trigger=spec.trigger, event=spec.event,
        misfire_grace_s=spec.misfire_grace_s, jitter_s=spec.jitter_s,
        coalesce=spec.coalesce, enabled=spec.enabled, created_at=now, updated_at=now,
        builtin=True, builtin_hash=definition_hash(spec), runs_left=spec.runs_left,
        pause=None if spec.enabled else Pause(now),  # by None: paused by the file
    )


def updated_builtin(from_file: Schedule, current: Schedule, now: datetime) -> Schedule:
    """The file's new definition over the stored one: its pause (and note), runs left,
    creation and revision kept."""
    return replace(
        from_file, enabled=current.enabled, pause=current.pause, runs_left=current.runs_left,
        created_at=current.created_at, revision=current.revision,
    ).rescheduled(now)
