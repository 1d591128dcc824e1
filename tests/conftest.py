"""Fixtures every test tier shares: real Redis servers and real, migrated databases."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.embedded_redis import EmbeddedCluster, EmbeddedRedis
from shared.redis import RedisClient, make_redis
from tests.support import databases, redis_servers


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `redis_url` runs on every Redis backend, one that takes `db_backend`
    on every database; one marked `cluster` on the embedded Redis Cluster as well, with
    SQLite only (the database does not see the difference; the time budget does)."""
    names = metafunc.fixturenames
    cluster = ["cluster"] if metafunc.definition.get_closest_marker("cluster") else []
    if "redis_url" in names and "db_backend" in names:
        pairs = [(db, r) for db in databases.BACKENDS for r in redis_servers.BACKENDS]
        pairs += [("sqlite", c) for c in cluster]
        metafunc.parametrize(("db_backend", "redis_url"), pairs, indirect=True,
                             ids=[f"{db}-{r}" for db, r in pairs])
    elif "redis_url" in names:
        metafunc.parametrize("redis_url", [*redis_servers.BACKENDS, *cluster], indirect=True)
    elif "db_backend" in names:
        metafunc.parametrize("db_backend", databases.BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = redis_servers.start_embedded(tmp_path_factory.mktemp("valkey"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def embedded_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """3 masters, 3 replicas, shared by the session's cluster tests (a test that kills a node
    starts its own)."""
    cluster = EmbeddedCluster(tmp_path_factory.mktemp("cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
async def redis_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """An empty real Redis: the embedded server, then the one in REDIS_URL if set (and the
    embedded cluster for tests marked `cluster`)."""
    if request.param == "embedded":
        url = request.getfixturevalue("embedded_redis").url
    elif request.param == "cluster":
        url = request.getfixturevalue("embedded_cluster").url
    else:
        url = os.environ["REDIS_URL"]
    client = make_redis(url)
    await client.flushdb()  # on a cluster: every master
    await client.aclose()
    yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
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


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """`sqlite`, then `postgresql` where TEST_DATABASE_URL is set."""
    return str(request.param)
