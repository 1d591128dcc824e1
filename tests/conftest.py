"""Fixtures every test tier shares: real Redis servers and real, migrated databases."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from shared.embedded_redis import EmbeddedRedis
from shared.redis import make_redis
from tests.support import databases, redis_servers


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = redis_servers.start_embedded(tmp_path_factory.mktemp("valkey"))
    yield server
    server.stop()


@pytest.fixture(params=redis_servers.BACKENDS)
async def redis_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """An empty real Redis: the embedded server, then the one in REDIS_URL if set."""
    if request.param == "embedded":
        url = request.getfixturevalue("embedded_redis").url
    else:
        url = os.environ["REDIS_URL"]
    client = make_redis(url)
    await client.flushdb()
    await client.aclose()
    yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = make_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def database_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[databases.DatabaseFactory]:
    import asyncio

    factory = databases.DatabaseFactory(Path(tmp_path_factory.mktemp("databases")))
    yield factory
    asyncio.run(factory.drop_all())


@pytest.fixture(params=databases.BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    """`sqlite`, then `postgresql` where TEST_DATABASE_URL is set."""
    return str(request.param)
