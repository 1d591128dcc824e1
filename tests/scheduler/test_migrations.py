"""The scheduler's Alembic migrations on SQLite and PostgreSQL: they match the tables, and
0002 (runs left, the pause's note) adds its columns to a database with schedules in it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select

from services.scheduler.adapters.orm import metadata, schedules
from services.scheduler.adapters.repository import SqlScheduleRepository
from shared.db import alembic_config, make_engine, version_table

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def test_migrations_match_the_tables_and_0002_keeps_the_schedules(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    config = alembic_config("scheduler", database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(
                    sync, opts={"version_table": version_table("scheduler")}), metadata))
        assert diff == []

        await asyncio.to_thread(command.downgrade, config, "0001")
        async with engine.begin() as connection:  # a schedule stored before 0002
            await connection.execute(insert(schedules).values({
                "id": "old", "trigger": {"type": "interval", "every_s": 60},
                "event_stream": "test.out", "event_type": "x.y", "event_data": {},
                "misfire_grace_s": 60, "jitter_s": 0, "coalesce": True, "enabled": True,
                "builtin": False, "revision": 0, "created_at": NOW, "updated_at": NOW,
            }))
        await asyncio.to_thread(command.upgrade, config, "head")
        old = await SqlScheduleRepository(engine).get("old")
        assert old is not None and (old.runs_left, old.pause, old.state) == (None, None, "done")
        async with engine.connect() as connection:
            assert (await connection.execute(select(schedules.c.id))).scalars().all() == ["old"]
    finally:
        await engine.dispose()
