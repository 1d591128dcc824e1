"""Schedules and runs in the scheduler's database (SQLAlchemy Core, async)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.scheduler.adapters.orm import schedule_runs, schedules
from services.scheduler.domain.errors import ScheduleExists
from services.scheduler.domain.schedules import Advance, EventSpec, Pause, RunRecord, Schedule
from services.scheduler.domain.triggers import Trigger

TRIGGER = TypeAdapter(Trigger)
# Schedules the leader fires: enabled, with runs left.
_FIRING = (schedules.c.enabled.is_(True),
           or_(schedules.c.runs_left.is_(None), schedules.c.runs_left > 0))
# advance's statements, run once per schedule of a round (executemany): the bound names
# differ from the columns', which SQLAlchemy requires of an UPDATE's parameters.
_TIME = schedules.c.next_nominal_at.type
_LEFT = schedules.c.runs_left
_MOVE_ON = (
    update(schedules)
    .where(
        schedules.c.id == bindparam("b_id"),
        schedules.c.revision == bindparam("b_revision"),
        schedules.c.next_nominal_at == bindparam("b_nominal", type_=_TIME),
    )
    .values(next_nominal_at=bindparam("b_next_nominal", type_=_TIME),
            next_fire_at=bindparam("b_next_fire", type_=_TIME))
)
_FIRED = bindparam("b_fired", type_=_LEFT.type)
_COUNT_DOWN = (
    update(schedules)
    .where(schedules.c.id == bindparam("b_id"), _LEFT.is_not(None))
    .values(runs_left=case((_LEFT > _FIRED, _LEFT - _FIRED), else_=0))
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
        "runs_left": schedule.runs_left,
        "paused_at": schedule.pause.at if schedule.pause else None,
        "paused_by": schedule.pause.by if schedule.pause else None,
        "pause_note": schedule.pause.note if schedule.pause else None,
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
        runs_left=row.runs_left,
        pause=Pause(row.paused_at, row.paused_by, row.pause_note) if row.paused_at else None,
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

    async def save(self, schedule: Schedule, *, runs_left: bool = False) -> Schedule:
        """Write an API change: every column, and a new revision that fences the leader.
        `runs_left` only when the change sets it: otherwise it is the leader's to decrement,
        and a copy read before a fire must not put the fired run back."""
        saved = replace(schedule, revision=schedule.revision + 1)
        values = _row(saved)
        if not runs_left:
            del values["runs_left"]
        async with self.engine.begin() as conn:
            await conn.execute(
                update(schedules).where(schedules.c.id == schedule.id).values(values)
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
                .where(*_FIRING, schedules.c.next_fire_at <= now)
                .order_by(schedules.c.next_fire_at)
            )
            return [_schedule(r) for r in rows]

    async def earliest_fire_at(self) -> datetime | None:
        async with self.engine.connect() as conn:
            value: datetime | None = (await conn.execute(
                select(schedules.c.next_fire_at)
                .where(*_FIRING, schedules.c.next_fire_at.is_not(None))
                .order_by(schedules.c.next_fire_at).limit(1)
            )).scalar()
        return value

    async def advance(self, advances: Sequence[Advance]) -> None:
        """Record runs and move each schedule on, unless it changed meanwhile (an API edit,
        or another leader already moved it): then only its runs are kept. `runs_left` goes
        down by the fired runs recorded here for the first time: a run recorded again (by a
        leader that took over from one that crashed after firing) is not counted twice.
        One transaction and an executemany statement each for the runs, the counts and the
        moves, for the whole round (a transaction per schedule capped a round at a few
        hundred schedules a second; bench/scheduler.py)."""
        if not advances:
            return
        async with self.engine.begin() as conn:
            fired = await self._insert_runs(
                conn, [(a.schedule.id, run) for a in advances for run in a.runs])
            if fired:
                await conn.execute(_COUNT_DOWN, [
                    {"b_id": schedule_id, "b_fired": count}
                    for schedule_id, count in fired.items()
                ])
            await conn.execute(_MOVE_ON, [
                {"b_id": a.schedule.id, "b_revision": a.schedule.revision,
                 "b_nominal": a.schedule.next_nominal_at, "b_next_nominal": a.next_nominal_at,
                 "b_next_fire": a.next_fire_at}
                for a in advances
            ])

    async def record_runs(self, schedule_id: str, runs: Sequence[RunRecord]) -> None:
        async with self.engine.begin() as conn:
            await self._insert_runs(conn, [(schedule_id, run) for run in runs])

    async def _insert_runs(
        self, conn: Any, runs: Sequence[tuple[str, RunRecord]]
    ) -> Counter[str]:
        """Insert the (schedule id, run) pairs not recorded yet, in one executemany statement;
        how many of those inserted were `fired`, by schedule id (from RETURNING, which
        names only the rows this statement inserted)."""
        if not runs:
            return Counter()
        # A run already recorded (by a leader that lost the lease mid-way) is kept as it is.
        inserted = await conn.execute(
            _insert(conn).on_conflict_do_nothing()
            .returning(schedule_runs.c.schedule_id, schedule_runs.c.outcome),
            [_run_row(schedule_id, run) for schedule_id, run in runs],
        )
        return Counter(schedule_id for schedule_id, outcome in inserted if outcome == "fired")

    async def fired_runs(
        self, schedule_id: str, start: datetime, end: datetime
    ) -> dict[datetime, str]:
        """Event ids of the runs in [start, end] that were published, by nominal time."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(schedule_runs.c.nominal_at, schedule_runs.c.event_id).where(
                    schedule_runs.c.schedule_id == schedule_id,
                    schedule_runs.c.nominal_at >= start, schedule_runs.c.nominal_at <= end,
                    schedule_runs.c.event_id.is_not(None),
                )
            )
            return {row.nominal_at: row.event_id for row in rows}

    async def record_backfill(self, schedule_id: str, runs: Sequence[RunRecord]) -> None:
        """Record backfilled runs: over a run recorded as missed or coalesced (no event),
        never over one that was published."""
        if not runs:
            return
        async with self.engine.begin() as conn:
            statement = _insert(conn).values([_run_row(schedule_id, run) for run in runs])
            await conn.execute(statement.on_conflict_do_update(
                index_elements=[schedule_runs.c.schedule_id, schedule_runs.c.nominal_at],
                set_={name: statement.excluded[name]
                      for name in ("fired_at", "event_id", "lateness_ms", "outcome")},
                where=schedule_runs.c.event_id.is_(None),
            ))

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



def _insert(conn: Any) -> Any:
    """INSERT with ON CONFLICT, in the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(schedule_runs)


def _run_row(schedule_id: str, run: RunRecord) -> dict[str, Any]:
    return {"schedule_id": schedule_id, "nominal_at": run.nominal_at, "fired_at": run.fired_at,
            "event_id": run.event_id, "lateness_ms": run.lateness_ms, "outcome": run.outcome}
