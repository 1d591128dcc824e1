"""Catalog fixtures: signed tokens, a migrated database, and the real app on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import event, select

from services.catalog.adapters.orm import metadata
from services.catalog.app import create_app
from services.catalog.entrypoints.http import RUNTIME_KEY
from services.catalog.settings import Settings
from shared.auth import new_signing_key, token_claims
from shared.settings import JWT_ALGORITHM
from tests.support.databases import DatabaseFactory

PUBLIC_BASE = "http://cs.test"
API = "/api/v1/catalog"

StartApp = Callable[..., Awaitable[TestClient]]


@pytest.fixture(scope="session")
def signing_key() -> RSAPrivateKey:
    return new_signing_key()


@pytest.fixture(scope="session")
def public_pem(signing_key: RSAPrivateKey) -> str:
    return signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(scope="session")
def make_token(signing_key: RSAPrivateKey) -> Callable[..., str]:
    def make(roles: tuple[str, ...] = ("admin",), sub: int = 1, ttl: int = 600) -> str:
        claims = token_claims(sub, "13800000000", roles, session_id="s1", token_version=0,
                              ttl_s=ttl)
        return jwt.encode(claims, signing_key, algorithm=JWT_ALGORITHM)

    return make


@pytest.fixture(scope="session")
def admin(make_token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token()}"}


@pytest.fixture(scope="session")
def user(make_token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(roles=())}"}


@pytest.fixture
async def database_url(database_factory: DatabaseFactory, db_backend: str) -> str:
    return await database_factory.new("catalog", db_backend)


@pytest.fixture
def make_settings(
    database_url: str, redis_url: str, public_pem: str, tmp_path: Path
) -> Callable[..., Settings]:
    def make(name: str = "replica-1", **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test", "var_dir": tmp_path, "database_url": database_url,
            "redis_url": redis_url, "jwt_public_key": public_pem,
            "public_base_url": PUBLIC_BASE, "consumer_name": name,
        }
        return Settings(**{**values, **overrides})

    return make


@pytest.fixture
async def start_app(make_settings: Callable[..., Settings]) -> AsyncIterator[StartApp]:
    """Start the real catalog app (one replica per call) on a real server, free port."""
    async with AsyncExitStack() as stack:

        async def start(name: str = "replica-1", **overrides: Any) -> TestClient:
            app = create_app(make_settings(name, **overrides))
            return await stack.enter_async_context(TestClient(TestServer(app)))

        yield start


@pytest.fixture
async def client(start_app: StartApp) -> TestClient:
    return await start_app()


class QueryCounter:
    """Counts the SQL statements that read the banner table, on the real engine."""

    def __init__(self) -> None:
        self.banner_reads = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM catalog_banner" in statement:
            self.banner_reads += 1


def count_queries(client: TestClient) -> QueryCounter:
    counter = QueryCounter()
    event.listen(client.app[RUNTIME_KEY].engine.sync_engine, "before_cursor_execute", counter)
    return counter


async def snapshot(client: TestClient, with_redis: bool = True) -> dict[str, Any]:
    """Every row of every catalog table and the banner cache version: for 'nothing changed'.
    `with_redis=False` leaves out what lives in Redis (when it is down)."""
    runtime = client.app[RUNTIME_KEY]
    state: dict[str, Any] = {}
    async with runtime.store.sessions() as session:
        for table in metadata.sorted_tables:
            rows = (await session.execute(select(table).order_by(table.c.id))).all()
            state[table.name] = [tuple(row) for row in rows]
    if not with_redis:
        return state
    state["events"] = await runtime.redis.xlen("catalog.events")
    state["version"] = await runtime.redis.get("catalog:{banners}:version")
    return state
