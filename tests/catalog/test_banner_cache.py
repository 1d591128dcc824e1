"""The banner cache on real Redis and real databases, through the real app: freshness after a
write (slow readers, replicas, lost keys), one query per stampede, the rebuild command."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from sqlalchemy import update

from services.catalog.adapters.orm import Banner, Course
from services.catalog.adapters.page_cache import COPY_KEY, VERSION_KEY
from services.catalog.entrypoints.http import RUNTIME_KEY
from shared.events import Envelope, publish
from shared.http import METRICS_KEY
from tests.catalog.conftest import API, StartApp, count_queries, snapshot
from tests.support.redis_servers import start_embedded
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


async def add_banner(client: TestClient, admin: dict[str, str], title: str) -> dict[str, Any]:
    response = await client.post(f"{API}/banners", headers=admin,
                                 json={"title": title, "image": "/media/banners/1.svg"})
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def rename(client: TestClient, admin: dict[str, str], banner_id: int, title: str) -> None:
    response = await client.patch(f"{API}/banners/{banner_id}", headers=admin,
                                  json={"title": title})
    assert response.status == 200, await response.text()


async def titles(client: TestClient) -> list[str]:
    response = await client.get(f"{API}/banners")
    assert response.status == 200, await response.text()
    return [b["title"] for b in await response.json()]


def metric(client: TestClient, name: str, **labels: str) -> float:
    registry: CollectorRegistry = client.app[METRICS_KEY].registry
    return registry.get_sample_value(name, labels) or 0.0


async def rename_behind_the_api(client: TestClient, title: str) -> None:
    """A change the cache is not told about (a manual fix in the database)."""
    async with client.app[RUNTIME_KEY].store.sessions() as session, session.begin():
        await session.execute(update(Banner).values(title=title))


async def test_a_stampede_on_one_replica_makes_one_query(
    start_app: StartApp, admin: dict[str, str]
) -> None:
    client = await start_app()
    await add_banner(client, admin, "one")
    queries = count_queries(client)
    cache = client.app[RUNTIME_KEY].banners
    results = await asyncio.gather(*(cache.get() for _ in range(150)))
    assert queries.banner_reads == 1
    assert all([b["title"] for b in r] == ["one"] for r in results)


async def test_a_stampede_on_two_replicas_makes_one_query(
    start_app: StartApp, admin: dict[str, str]
) -> None:
    a, b = await start_app("a"), await start_app("b")
    await add_banner(a, admin, "one")
    queries = [count_queries(a), count_queries(b)]
    responses = await asyncio.gather(
        *(client.get(f"{API}/banners") for _ in range(60) for client in (a, b))
    )
    assert {r.status for r in responses} == {200}
    assert sum(q.banner_reads for q in queries) == 1
    bodies = [await r.json() for r in responses]
    assert all([x["title"] for x in body] == ["one"] for body in bodies)


async def test_a_slow_reader_cannot_put_old_rows_back(
    start_app: StartApp, admin: dict[str, str], redis: Redis
) -> None:
    a, b = await start_app("a"), await start_app("b", banner_wait_ms=200)
    banner = await add_banner(a, admin, "old")
    cache_a = a.app[RUNTIME_KEY].banners
    queried, release = asyncio.Event(), asyncio.Event()
    query = cache_a.load

    async def slow_load() -> list[dict[str, Any]]:
        rows = await query()
        queried.set()  # the old rows are read; now stall before they are stored
        await asyncio.wait_for(release.wait(), 20)
        return rows

    cache_a.load = slow_load
    slow_read = asyncio.create_task(a.get(f"{API}/banners"))
    await asyncio.wait_for(queried.wait(), 10)

    await rename(b, admin, banner["id"], "new")
    # Read right after the write, while the slow reader still holds old rows and the lease.
    assert await titles(b) == ["new"]
    assert await titles(a) == ["new"]

    release.set()
    response = await asyncio.wait_for(slow_read, 10)
    # It asked before the write returned, so the old list is a correct answer for it...
    assert [x["title"] for x in await response.json()] == ["old"]
    # ...but its rows went into no cache.
    assert metric(a, "catalog_banner_cache_stale_refused_total") == 1
    copy = orjson.loads(await redis.get(COPY_KEY))
    assert [x["title"] for x in copy["value"]] == ["new"]
    assert copy["version"] == (await redis.get(VERSION_KEY)).decode()
    assert await titles(a) == ["new"] and await titles(b) == ["new"]


async def test_a_write_on_one_replica_is_never_followed_by_a_stale_read_on_another(
    start_app: StartApp, admin: dict[str, str]
) -> None:
    a, b = await start_app("a"), await start_app("b")
    banner = await add_banner(a, admin, "v-start")
    stop = asyncio.Event()

    async def keep_caches_warm(client: TestClient) -> None:
        while not stop.is_set():
            await titles(client)

    readers = [asyncio.create_task(keep_caches_warm(c)) for c in (a, b) for _ in range(3)]
    try:
        for i in range(12):
            writer, other = (a, b) if i % 2 == 0 else (b, a)
            await rename(writer, admin, banner["id"], f"v{i}")
            assert await titles(other) == [f"v{i}"]
            assert await titles(writer) == [f"v{i}"]
    finally:
        stop.set()
        await asyncio.gather(*readers)
    assert metric(a, "catalog_banner_cache_hits_total", layer="local") > 0


async def test_a_write_drops_the_local_copy_of_other_replicas(
    start_app: StartApp, admin: dict[str, str]
) -> None:
    a, b = await start_app("a"), await start_app("b")
    banner = await add_banner(a, admin, "one")
    assert await titles(b) == ["one"]
    cache_b = b.app[RUNTIME_KEY].banners
    assert cache_b.local is not None
    await rename(a, admin, banner["id"], "two")

    async def dropped() -> bool:
        return cache_b.local is None

    await eventually(dropped, within=10)


async def test_lost_cache_keys_never_revive_an_old_copy(
    start_app: StartApp, admin: dict[str, str], redis: Redis
) -> None:
    client = await start_app()
    await add_banner(client, admin, "old")
    assert await titles(client) == ["old"]  # now in process and in Redis
    await redis.delete(VERSION_KEY, COPY_KEY)  # evicted, or a Redis restarted empty
    await rename_behind_the_api(client, "current")
    queries = count_queries(client)
    assert await titles(client) == ["current"]
    assert queries.banner_reads == 1


async def test_the_rebuild_command_is_consumed_by_group_catalog(
    start_app: StartApp, admin: dict[str, str], redis: Redis
) -> None:
    """It rebuilds the banners and ends the course pages' copies: rows fixed by hand in the
    database show in both."""
    client = await start_app()
    await add_banner(client, admin, "old")
    created = await client.post(f"{API}/courses", json={"name": "old", "kind": "free"},
                                headers=admin)
    assert created.status == 201, await created.text()

    async def course_names() -> list[str]:
        response = await client.get(f"{API}/courses?kind=free")
        return [c["name"] for c in (await response.json())["results"]]

    assert await titles(client) == ["old"] and await course_names() == ["old"]
    await rename_behind_the_api(client, "fixed by hand")
    async with client.app[RUNTIME_KEY].store.sessions() as session, session.begin():
        await session.execute(update(Course).values(name="fixed by hand"))
    # The caches were not told, as expected.
    assert await titles(client) == ["old"] and await course_names() == ["old"]

    await publish(redis, "catalog.commands",
                  Envelope(type="banners.rebuild-cache", producer="scheduler"))

    async def rebuilt() -> bool:
        return await titles(client) == ["fixed by hand"] == await course_names()

    await eventually(rebuilt, within=15)
    groups = {g["name"].decode(): g for g in await redis.xinfo_groups("catalog.commands")}
    assert groups["catalog"]["pending"] == 0
    assert metric(client, "catalog_banner_cache_rebuilds_total", trigger="command") == 1


async def test_without_redis_reads_come_fresh_from_the_database_and_writes_are_refused(
    start_app: StartApp, admin: dict[str, str], tmp_path: Path
) -> None:
    server = start_embedded(tmp_path / "valkey")
    try:
        client = await start_app(redis_url=server.url)
        banner = await add_banner(client, admin, "one")
        assert await titles(client) == ["one"]
        server.kill()
        before = await snapshot(client, with_redis=False)
        response = await client.patch(f"{API}/banners/{banner['id']}", headers=admin,
                                      json={"title": "two"})
        assert response.status == 503, await response.text()
        assert await snapshot(client, with_redis=False) == before
        await rename_behind_the_api(client, "changed")
        assert await titles(client) == ["changed"]  # never the copy held in process
    finally:
        server.stop()
