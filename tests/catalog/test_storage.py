"""Migrations and demo data on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from services.catalog.adapters.orm import Banner, Course, CourseCategory, Section, Teacher, metadata
from services.catalog.demo import load_demo_data
from services.catalog.settings import Settings
from shared.db import alembic_config, make_engine, make_sessionmaker, version_table

pytestmark = pytest.mark.integration


async def test_migrations_match_the_tables_and_go_down_and_up(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(
                    sync, opts={"version_table": version_table("catalog")}), metadata)
            )
        assert diff == []
        config = alembic_config("catalog", database_url)
        await asyncio.to_thread(command.downgrade, config, "base")
        async with engine.connect() as connection:
            names: Any = await connection.run_sync(
                lambda sync: sync.dialect.get_table_names(sync))
        assert not [n for n in names if n in metadata.tables]
        await asyncio.to_thread(command.upgrade, config, "head")
    finally:
        await engine.dispose()


async def test_demo_data_loads_once(database_url: str, tmp_path: Any) -> None:
    settings = Settings(database_url=database_url, var_dir=tmp_path, redis_url=None)
    assert await load_demo_data(settings) is True
    assert await load_demo_data(settings) is False
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            async def count(model: Any, *where: Any) -> int:
                return int(await session.scalar(
                    select(func.count()).select_from(model).where(*where)) or 0)

            assert await count(Banner) == 4
            assert await count(CourseCategory) >= 3 and await count(Teacher) >= 3
            assert await count(Course) >= 30
            for kind in ("free", "actual", "light"):
                assert await count(Course, Course.kind == kind) >= 10
            assert await count(Section) > 0
            assert await count(Section, Section.free_trail.is_(True)) > 0
    finally:
        await engine.dispose()
