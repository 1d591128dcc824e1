"""Built-in schedules from the config file, upserted at start by id."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import orjson

from services.scheduler.adapters.repository import AlreadyExists, ScheduleRepository
from services.scheduler.domain.schedules import Schedule, ScheduleSpec
from shared.logging import get_logger

log = get_logger(__name__)


def load_builtins(path: Path) -> list[ScheduleSpec]:
    with path.open("rb") as fh:
        document = tomllib.load(fh)
    specs = [ScheduleSpec.model_validate(item) for item in document.get("schedules", [])]
    if any(spec.id is None for spec in specs):
        raise ValueError(f"{path}: every built-in schedule needs an id")
    return specs


def definition_hash(spec: ScheduleSpec) -> str:
    body = spec.model_dump(mode="json", exclude={"enabled"})
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def sync_builtins(repo: ScheduleRepository, specs: list[ScheduleSpec], now: datetime) -> None:
    """Insert the missing ones; rewrite one only when the file's definition changed since it
    was last applied. `enabled` (a pause made through the API) is always kept."""
    for spec in specs:
        assert spec.id is not None
        digest = definition_hash(spec)
        from_file = Schedule(
            id=spec.id, trigger=spec.trigger, event=spec.event,
            misfire_grace_s=spec.misfire_grace_s, jitter_s=spec.jitter_s,
            coalesce=spec.coalesce, enabled=spec.enabled, created_at=now, updated_at=now,
            builtin=True, builtin_hash=digest,
        )
        current = await repo.get(spec.id)
        if current is None:
            try:
                await repo.add(from_file.rescheduled(now))
                log.info("built-in schedule added", schedule=spec.id)
            except AlreadyExists:
                pass  # another replica starting at the same time added it
        elif current.builtin_hash != digest:
            updated = replace(
                from_file, enabled=current.enabled, created_at=current.created_at,
                revision=current.revision,
            ).rescheduled(now)
            await repo.save(updated)
            log.info("built-in schedule updated from the file", schedule=spec.id)
