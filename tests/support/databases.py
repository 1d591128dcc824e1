"""Migrated databases for tests: SQLite always, PostgreSQL where TEST_DATABASE_URL is set.

Each (service, backend) is migrated once into a template; every test gets a copy
(a file copy for SQLite, `CREATE DATABASE ... TEMPLATE` for PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared.db import migrate

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


class DatabaseFactory:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.templates: dict[tuple[str, str], str] = {}
        self.created: list[str] = []
        admin = os.environ.get("TEST_DATABASE_URL")
        self.admin_url = make_url(admin).set(drivername="postgresql") if admin else None

    def _pg_dsn(self, database: str) -> str:
        assert self.admin_url is not None
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    async def _pg(self, sql: str) -> None:
        assert self.admin_url is not None
        conn = await asyncpg.connect(self._pg_dsn(self.admin_url.database or "postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def _template(self, service: str, backend: str) -> str:
        key = (service, backend)
        if key not in self.templates:
            if backend == "sqlite":
                path = self.workdir / f"template-{service}.db"
                await asyncio.to_thread(migrate, service, f"sqlite:///{path}")
                self.templates[key] = str(path)
            else:
                name = f"cs_tmpl_{service}_{uuid.uuid4().hex[:8]}"
                await self._pg(f'CREATE DATABASE "{name}"')
                self.created.append(name)
                await asyncio.to_thread(migrate, service, self._pg_dsn(name))
                self.templates[key] = name
        return self.templates[key]

    async def new(self, service: str, backend: str) -> str:
        """A freshly migrated, empty database of `service`; returns its URL."""
        template = await self._template(service, backend)
        if backend == "sqlite":
            path = self.workdir / f"{service}-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"
        name = f"cs_test_{uuid.uuid4().hex[:12]}"
        await self._pg(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.created.append(name)
        return self._pg_dsn(name)

    async def drop_all(self) -> None:
        for name in reversed(self.created):
            await self._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()
