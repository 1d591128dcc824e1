"""SQLAlchemy async engines and Alembic migrations, the same for every service database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import DateTime, MetaData, event, pool
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator

DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
           "postgres": "postgresql+asyncpg"}


def async_url(url: str) -> str:
    """Give a plain `sqlite:///` or `postgresql://` URL its async driver."""
    parsed = make_url(url)
    driver = DRIVERS.get(parsed.drivername)
    if driver:
        parsed = parsed.set(drivername=driver)
    return parsed.render_as_string(hide_password=False)


def _make_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite files get WAL, foreign keys and a busy timeout, and one
    pooled connection per process: each aiosqlite connection is a thread of its own, and the
    default pool (5, plus 10 overflow connections opened and closed again under load) made
    the uncached course search 500/s with p99 243 ms where one connection makes it 724/s with
    p99 83 ms (docs/benchmarks.md, issue 19, 2026-12-04 19:55 UTC). SQLite runs one writer
    at a time anyway; PostgreSQL keeps a pool of 10."""
    full = make_url(async_url(url))
    _make_sqlite_folder(url)
    if full.get_backend_name() == "sqlite":
        if full.database not in (None, "", ":memory:"):  # a file (memory has one connection)
            kwargs.setdefault("pool_size", 1)
            kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(full, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_async_engine(full, **kwargs)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on PostgreSQL and on SQLite (which stores them naive).
    A naive datetime is refused: it has no meaning to store."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def version_table(service: str) -> str:
    """Each service keeps its own Alembic version table, so services can share a database."""
    return f"{service}_alembic_version"


def alembic_config(service: str, url: str) -> Config:
    migrations = Path(__file__).resolve().parent.parent / "services" / service / "migrations"
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    config.attributes["version_table"] = version_table(service)
    return config


def migrate(service: str, url: str, revision: str = "head") -> None:
    """Upgrade a service's database. Call from sync code (or a thread): Alembic runs its own
    event loop."""
    _make_sqlite_folder(url)
    command.upgrade(alembic_config(service, url), revision)


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's `migrations/env.py`."""
    config = context.config
    table = config.attributes.get("version_table", "alembic_version")
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=table,
            render_as_batch=True,  # SQLite needs batch mode to alter tables
        )
        with context.begin_transaction():
            context.run_migrations()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, version_table=table,
                          literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    async def run_online() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_online())
