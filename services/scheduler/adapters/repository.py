"""Schedules and runs in the scheduler's database (SQLAlchemy Core, async)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.scheduler.adapters.orm import schedule_runs, schedules
from services.scheduler.domain.errors import ScheduleExists
from services.scheduler.domain.schedules import Advance, EventSpec, RunRecord, Schedule
from services.scheduler.domain.triggers import Trigger

TRIGGER = TypeAdapter(Trigger)
_TIME = schedules.c.next_nominal_at.type
_ADVANCE = (
    update(schedules)
    .where(
        schedules.c.id == bindparam("b_id"),
        schedules.c.revision == bindparam("b_revision"),
        schedules.c.next_nominal_at == bindparam("b_nominal", type_=_TIME),
    )
    .values(next_nominal_at=bindparam("b_next_nominal", type_=_TIME),
            next_fire_at=bindparam("b_next_fire", type_=_TIME))
)


def _row(schedule: Schedule) -> dict[str, Any]:
    return {
        "id": schedule.id,
        "trigger": schedule.trigger.model_dump(mode="json"),
        "event_stream": schedule.event.stream,
        "event_type": schedule.event.type,
        "event_data": schedule.event.data,
        "misfire_grace_s": schedule.misfire_grace_s,
        "jitter_s": schedule.jitter_s,
        "coalesce": schedule.coalesce,
        "enabled": schedule.enabled,
        "builtin": schedule.builtin,
        "builtin_hash": schedule.builtin_hash,
        "next_nominal_at": schedule.next_nominal_at,
        "next_fire_at": schedule.next_fire_at,
        "revision": schedule.revision,
        "created_at": schedule.created_at,
        "updated_at": schedule.updated_at,
    }


def _schedule(row: Any) -> Schedule:
    return Schedule(
        id=row.id,
        trigger=TRIGGER.validate_python(row.trigger),
        event=EventSpec(stream=row.event_stream, type=row.event_type, data=row.event_data),
        misfire_grace_s=row.misfire_grace_s,
        jitter_s=row.jitter_s,
        coalesce=row.coalesce,
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_nominal_at=row.next_nominal_at,
        next_fire_at=row.next_fire_at,
        builtin=row.builtin,
        builtin_hash=row.builtin_hash,
        revision=row.revision,
    )


class SqlScheduleRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, schedule: Schedule) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(schedules).values(_row(schedule)))
        except IntegrityError as exc:
            raise ScheduleExists(schedule.id) from exc

    async def get(self, schedule_id: str) -> Schedule | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(
                select(schedules).where(schedules.c.id == schedule_id)
            )).first()
        return _schedule(row) if row else None

    async def page(self, offset: int, limit: int) -> tuple[int, list[Schedule]]:
        async with self.engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(schedules))).scalar_one()
            rows = await conn.execute(
                select(schedules).order_by(schedules.c.id).offset(offset).limit(limit)
            )
            return count, [_schedule(r) for r in rows]

    async def save(self, schedule: Schedule) -> Schedule:
        """Write an API change: every column, and a new revision that fences the leader."""
        saved = replace(schedule, revision=schedule.revision + 1)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(schedules).where(schedules.c.id == schedule.id).values(_row(saved))
            )
        return saved

    async def delete(self, schedule_id: str) -> bool:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(schedule_runs).where(schedule_runs.c.schedule_id == schedule_id)
            )
            result = await conn.execute(delete(schedules).where(schedules.c.id == schedule_id))
        return bool(result.rowcount)

    async def due(self, now: datetime) -> list[Schedule]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(schedules)
                .where(schedules.c.enabled.is_(True), schedules.c.next_fire_at <= now)
                .order_by(schedules.c.next_fire_at)
            )
            return [_schedule(r) for r in rows]

    async def earliest_fire_at(self) -> datetime | None:
        async with self.engine.connect() as conn:
            value: datetime | None = (await conn.execute(
                select(schedules.c.next_fire_at)
                .where(schedules.c.enabled.is_(True), schedules.c.next_fire_at.is_not(None))
                .order_by(schedules.c.next_fire_at).limit(1)
            )).scalar()
        return value

    async def advance(self, advances: Sequence[Advance]) -> None:
        """Record runs and move each schedule on, unless it changed meanwhile (an API edit,
        or another leader already moved it): then only its runs are kept. One transaction
        and two executemany statements for the whole round (a transaction per schedule
        capped a round at a few hundred schedules a second; bench/scheduler.py)."""
        if not advances:
            return
        async with self.engine.begin() as conn:
            await self._insert_runs(conn, [(a.schedule.id, r) for a in advances for r in a.runs])
            await conn.execute(_ADVANCE, [
                {"b_id": a.schedule.id, "b_revision": a.schedule.revision,
                 "b_nominal": a.schedule.next_nominal_at, "b_next_nominal": a.next_nominal_at,
                 "b_next_fire": a.next_fire_at}
                for a in advances
            ])

    async def record_runs(self, schedule_id: str, runs: Sequence[RunRecord]) -> None:
        async with self.engine.begin() as conn:
            await self._insert_runs(conn, [(schedule_id, r) for r in runs])

    async def _insert_runs(self, conn: Any, runs: Sequence[tuple[str, RunRecord]]) -> None:
        """(schedule id, run) pairs, in one executemany statement."""
        if not runs:
            return
        values = [
            {"schedule_id": schedule_id, "nominal_at": r.nominal_at, "fired_at": r.fired_at,
             "event_id": r.event_id, "lateness_ms": r.lateness_ms, "outcome": r.outcome}
            for schedule_id, r in runs
        ]
        # A run already recorded (by a leader that lost the lease mid-way) is kept as it is.
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        await conn.execute(dialect.insert(schedule_runs).on_conflict_do_nothing(), values)

    async def runs(self, schedule_id: str, offset: int, limit: int) -> tuple[int, list[RunRecord]]:
        where = schedule_runs.c.schedule_id == schedule_id
        async with self.engine.connect() as conn:
            count = (await conn.execute(
                select(func.count()).select_from(schedule_runs).where(where)
            )).scalar_one()
            rows = await conn.execute(
                select(schedule_runs).where(where)
                .order_by(schedule_runs.c.nominal_at.desc()).offset(offset).limit(limit)
            )
            return count, [
                RunRecord(r.nominal_at, r.fired_at, r.event_id, r.lateness_ms, r.outcome)
                for r in rows
            ]

