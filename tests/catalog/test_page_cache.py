"""The course pages' cache (`pages` in adapters/page_cache.py) on real Redis and real
databases, through the real app: never stale after a write's answer (on any replica), one
rebuild per cold key, searches straight from the database, the same body cached or not."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import update

from services.catalog.adapters.orm import Course
from services.catalog.entrypoints.http import RUNTIME_KEY
from shared.http import METRICS_KEY
from tests.catalog.conftest import API, StartApp
from tests.support.redis_servers import start_embedded
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

LIST = f"{API}/courses?kind=free&page_size=1"


def metric(client: TestClient, name: str, **labels: str) -> float:
    registry: CollectorRegistry = client.app[METRICS_KEY].registry
    return registry.get_sample_value(name, labels) or 0.0


def rebuilds(*clients: TestClient) -> float:
    return sum(metric(c, "catalog_page_cache_rebuilds_total", cache="courses",
                      trigger=trigger)
               for c in clients for trigger in ("miss", "wait-timeout", "command"))


async def post(client: TestClient, admin: dict[str, str], path: str,
               body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"{API}/{path}", headers=admin, json=body)
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def patch(client: TestClient, admin: dict[str, str], path: str,
                body: dict[str, Any]) -> None:
    response = await client.patch(f"{API}/{path}", headers=admin, json=body)
    assert response.status == 200, await response.text()


async def tree(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    category = await post(client, admin, "categories", {"name": "Python"})
    teacher = await post(client, admin, "teachers", {"name": "Alex", "title": "Lead"})
    course = await post(client, admin, "courses", {
        "name": "Py", "kind": "free", "teacher_id": teacher["id"],
        "category_id": category["id"]})
    await post(client, admin, "courses", {
        "name": "Go", "kind": "free", "teacher_id": teacher["id"],
        "category_id": category["id"]})
    return {"category": category, "teacher": teacher, "course": course}


async def get_json(client: TestClient, path: str) -> Any:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return await response.json()


async def first_of_list(client: TestClient) -> dict[str, Any]:
    body = await get_json(client, f"{API}/courses?ordering=id")
    first: dict[str, Any] = body["results"][0]
    return first


async def test_a_write_is_never_followed_by_a_stale_page_on_any_replica(
    start_app: StartApp, admin: dict[str, str]
) -> None:
    a, b = await start_app("a"), await start_app("b")
    rows = await tree(a, admin)
    course_id, teacher_id = rows["course"]["id"], rows["teacher"]["id"]
    detail = f"{API}/courses/{course_id}"
    for client in (a, b):  # warm both replicas' copies, in process and in Redis
        assert (await first_of_list(client))["name"] == "Py"
        assert (await get_json(client, detail))["name"] == "Py"
        assert (await first_of_list(client))["name"] == "Py"
    assert metric(a, "catalog_page_cache_hits_total", cache="courses", layer="local") > 0

    for i in range(4):
        writer, other = (a, b) if i % 2 == 0 else (b, a)
        await patch(writer, admin, f"courses/{course_id}", {"name": f"Py {i}"})
        for client in (other, writer):
            assert (await first_of_list(client))["name"] == f"Py {i}"
            assert (await get_json(client, detail))["name"] == f"Py {i}"
        # A teacher's name, shown in the list and the detail: its write invalidates them too.
        await patch(writer, admin, f"teachers/{teacher_id}", {"name": f"Alex {i}"})
        for client in (other, writer):
            assert (await first_of_list(client))["teacher"]["name"] == f"Alex {i}"
            assert (await get_json(client, detail))["teacher"]["name"] == f"Alex {i}"

    # A delete too: the course leaves the list and its detail answers 404 at once.
    response = await a.delete(f"{API}/courses/{course_id}", headers=admin)
    assert response.status == 204
    assert (await first_of_list(b))["name"] == "Go"
    assert (await b.get(detail)).status == 404


async def test_concurrent_readers_of_a_cold_page_cause_one_rebuild(
    start_app: StartApp, admin: dict[str, str]
) -> None:
    a, b = await start_app("a"), await start_app("b")
    await tree(a, admin)  # its last write made every page cold
    before = rebuilds(a, b)
    responses = await asyncio.gather(*(c.get(LIST) for _ in range(40) for c in (a, b)))
    assert {r.status for r in responses} == {200}
    assert rebuilds(a, b) - before == 1
    bodies = [await r.read() for r in responses]
    assert len(set(bodies)) == 1


async def test_a_search_skips_the_cache(
    start_app: StartApp, admin: dict[str, str]
) -> None:
    client = await start_app()
    await tree(client, admin)
    search = f"{API}/courses?search=Py"
    assert [c["name"] for c in (await get_json(client, search))["results"]] == ["Py"]
    async with client.app[RUNTIME_KEY].store.sessions() as session, session.begin():
        await session.execute(update(Course).where(Course.name == "Py").values(name="Pyx"))
    # Not told, yet a search shows it: it never read a copy...
    assert [c["name"] for c in (await get_json(client, search))["results"]] == ["Pyx"]
    assert rebuilds(client) == 0
    assert metric(client, "catalog_page_cache_hits_total", cache="courses", layer="local") == 0


async def test_a_cached_page_answers_the_body_an_uncached_one_does(
    start_app: StartApp, admin: dict[str, str]
) -> None:
    client = await start_app()
    await tree(client, admin)
    runtime = client.app[RUNTIME_KEY]
    url = f"{API}/courses?utm=x&page_size=1&kind=free"
    first = await client.get(url)  # from the database
    body, etag = await first.read(), first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=10, must-revalidate"
    runtime.pages.drop_local()
    from_redis = await client.get(url)  # from the Redis copy
    from_process = await client.get(url)  # from the in-process copy
    for response in (from_redis, from_process):
        assert await response.read() == body and response.headers["ETag"] == etag
    assert metric(client, "catalog_page_cache_hits_total", cache="courses", layer="redis") == 1
    assert metric(client, "catalog_page_cache_hits_total", cache="courses", layer="local") == 1
    page = await (await client.get(url)).json()
    assert page["next"] == f"{runtime.base_url}{API}/courses?utm=x&page_size=1&kind=free&page=2"
    # The same page asked another way: the same copy, its own links.
    other = await get_json(client, f"{API}/courses?kind=free&page_size=1&page=1")
    assert other["results"] == page["results"]
    assert other["next"] == f"{runtime.base_url}{API}/courses?kind=free&page_size=1&page=2"
    assert rebuilds(client) == 1
    # Revalidation as before.
    revalidated = await client.get(url, headers={"If-None-Match": etag})
    assert revalidated.status == 304 and revalidated.headers["ETag"] == etag


async def test_a_course_write_drops_the_page_copies_of_other_replicas(
    start_app: StartApp, admin: dict[str, str]
) -> None:
    a, b = await start_app("a"), await start_app("b")
    rows = await tree(a, admin)
    await get_json(b, LIST)
    pages_b = b.app[RUNTIME_KEY].pages
    assert len(pages_b._local) == 1
    await patch(a, admin, f"courses/{rows['course']['id']}", {"name": "Py 2"})

    async def dropped() -> bool:
        return len(pages_b._local) == 0

    await eventually(dropped, within=10)


async def test_an_unknown_course_is_not_found_and_never_cached(
    start_app: StartApp, admin: dict[str, str]
) -> None:
    client = await start_app()
    await tree(client, admin)
    for _ in range(2):
        assert (await client.get(f"{API}/courses/999")).status == 404
    assert client.app[RUNTIME_KEY].pages.local_copy("course:999") is None


async def test_without_redis_pages_come_fresh_from_the_database_and_writes_are_refused(
    start_app: StartApp, admin: dict[str, str], tmp_path: Path
) -> None:
    server = start_embedded(tmp_path / "valkey")
    try:
        client = await start_app(redis_url=server.url)
        rows = await tree(client, admin)
        course_id = rows["course"]["id"]
        assert (await first_of_list(client))["name"] == "Py"  # now cached in process
        server.kill()
        response = await client.patch(f"{API}/courses/{course_id}", headers=admin,
                                      json={"name": "refused"})
        assert response.status == 503, await response.text()
        assert (await first_of_list(client))["name"] == "Py"
        async with client.app[RUNTIME_KEY].store.sessions() as session, session.begin():
            await session.execute(update(Course).where(Course.id == course_id)
                                  .values(name="by hand"))
        # Never the copy held in process: the database, always fresh.
        assert (await first_of_list(client))["name"] == "by hand"
        assert (await get_json(client, f"{API}/courses/{course_id}"))["name"] == "by hand"
    finally:
        server.stop()
