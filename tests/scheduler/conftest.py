"""Scheduler fixtures: tokens, settings on real Redis and real databases, the app on a real
server, and helpers to read what landed in a stream."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.scheduler.app import create_app
from services.scheduler.settings import Settings
from shared.embedded_redis import EmbeddedRedis
from shared.events import Envelope, decode_entry
from shared.redis import RedisClient, make_redis
from tests.support.tokens import Tokens

BASE = "/api/v1/scheduler"
TARGETS = ("test.out", "test.other", "catalog.commands", "seckill.commands", "notify.sms")


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens()


@pytest.fixture
def admin(tokens: Tokens) -> dict[str, str]:
    return tokens.headers(1, "admin")


@pytest.fixture
async def database_url(database_factory: Any, db_backend: str) -> str:
    return str(await database_factory.new("scheduler", db_backend))


@pytest.fixture
async def one_redis_url(embedded_redis: EmbeddedRedis) -> AsyncIterator[str]:
    """One empty real Redis for the slower tests: REDIS_URL where set, else the embedded."""
    url = os.environ.get("REDIS_URL") or embedded_redis.url
    client = make_redis(url)
    await client.flushdb()
    await client.aclose()
    yield url


@pytest.fixture
async def one_database_url(database_factory: Any) -> str:
    """One database for the slower tests: PostgreSQL where TEST_DATABASE_URL is set."""
    backend = "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"
    return str(await database_factory.new("scheduler", backend))


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tokens: Tokens, tmp_path: Path) -> SettingsFactory:
    def make(redis_url: str, database_url: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test", "var_dir": tmp_path, "redis_url": redis_url,
            "database_url": database_url, "jwt_public_key": tokens.public_pem,
            "consumer_name": f"test-{time.monotonic_ns()}",
            "scheduler_target_streams": TARGETS, "scheduler_tick_ms": 200,
            "scheduler_follower_poll_ms": 200, "scheduler_lease_ms": 1500,
            "scheduler_claim_idle_ms": 1000,
        }
        return Settings(**(values | overrides))

    return make


@pytest.fixture
def settings(make_settings: SettingsFactory, redis_url: str, database_url: str) -> Settings:
    return make_settings(redis_url, database_url)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    yield test_client
    import asyncio
    close = asyncio.create_task(test_client.close())
    done, _ = await asyncio.wait([close], timeout=8)
    if not done:
        for task in asyncio.all_tasks():
            task.print_stack(limit=12)
        raise AssertionError("HANG")


async def events(redis: RedisClient, stream: str) -> list[tuple[str, Envelope]]:
    """Every entry of a stream, decoded, with its entry id."""
    entries = await redis.xrange(stream)
    return [(entry_id.decode(), decode_entry(fields)) for entry_id, fields in entries]
