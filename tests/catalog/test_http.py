"""The catalog's public reads on the real app (real Redis, real database, demo data)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from services.catalog.demo import load_demo_data
from services.catalog.entrypoints.http import RUNTIME_KEY
from tests.catalog.conftest import API, PUBLIC_BASE

pytestmark = pytest.mark.integration

COURSE_FIELDS = {
    "id", "name", "kind", "course_type", "level", "status", "brief", "course_img", "students",
    "sections", "pub_sections", "price", "period", "teacher", "category", "section_list",
}
PREVIEW_FIELDS = {"chapter", "orders", "name", "section_type", "duration", "free_trail"}
MONEY = re.compile(r"^\d+\.\d\d$")


@pytest.fixture
async def demo(client: TestClient) -> TestClient:
    assert await load_demo_data(client.app[RUNTIME_KEY].settings)
    return client


async def get_json(client: TestClient, path: str, status: int = 200) -> Any:
    response = await client.get(f"{API}{path}")
    assert response.status == status, await response.text()
    return await response.json()


async def assert_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if slug:
        assert body["type"].endswith(f"/{slug}")
    return body


async def test_banners_are_shown_ones_by_orders_with_absolute_images(demo: TestClient) -> None:
    banners = await get_json(demo, "/banners")
    assert len(banners) == 4
    assert [b["orders"] for b in banners] == sorted(b["orders"] for b in banners)
    for banner in banners:
        assert set(banner) == {"id", "title", "image", "link", "info", "orders"}
        assert banner["image"].startswith(f"{PUBLIC_BASE}/media/banners/")


async def test_categories(demo: TestClient) -> None:
    categories = await get_json(demo, "/categories")
    assert len(categories) >= 5
    assert all(set(c) == {"id", "name"} for c in categories)


async def test_course_list_shape(demo: TestClient) -> None:
    page = await get_json(demo, "/courses")
    assert page["count"] == 36 and len(page["results"]) == 20
    assert page["previous"] is None
    assert page["next"].startswith(f"{PUBLIC_BASE}{API}/courses?") and "page=2" in page["next"]
    for course in page["results"]:
        assert set(course) == COURSE_FIELDS
        assert MONEY.match(course["price"])
        assert course["course_img"].startswith(f"{PUBLIC_BASE}/media/courses/")
        assert set(course["teacher"]) == {"id", "name", "role", "title", "image"}
        assert course["teacher"]["image"].startswith(PUBLIC_BASE)
        assert set(course["category"]) == {"id", "name"}
        assert 1 <= len(course["section_list"]) <= 4
        assert all(set(s) == PREVIEW_FIELDS for s in course["section_list"])
        reading_order = [(s["chapter"], s["orders"]) for s in course["section_list"]]
        assert reading_order == sorted(reading_order)
    orders = [c["id"] for c in page["results"]]
    assert orders == sorted(orders)  # demo `orders` follow ids


async def test_filters_ordering_search_and_pages(demo: TestClient) -> None:
    for kind in ("free", "actual", "light"):
        page = await get_json(demo, f"/courses?kind={kind}&page_size=100")
        assert page["count"] == 12 and {c["kind"] for c in page["results"]} == {kind}
    category = (await get_json(demo, "/categories"))[1]
    page = await get_json(demo, f"/courses?category={category['id']}&page_size=100")
    assert page["count"] > 0 and {c["category"]["id"] for c in page["results"]} == {category["id"]}

    for field in ("price", "students", "id", "orders"):
        for sign, reverse in (("", False), ("-", True)):
            results = (await get_json(demo, f"/courses?ordering={sign}{field}&page_size=100"))[
                "results"]
            shown = "id" if field == "orders" else field  # demo orders follow ids
            values = [Decimal(c[shown]) if field == "price" else c[shown] for c in results]
            assert values == sorted(values, reverse=reverse), f"{sign}{field}"

    found = await get_json(demo, "/courses?search=go%20%E8%AF%AD%E8%A8%80&page_size=100")
    assert found["count"] > 0 and all("Go 语言" in c["name"] for c in found["results"])
    assert (await get_json(demo, "/courses?search=100%25"))["count"] == 0  # % is literal

    first = await get_json(demo, "/courses?page=1&page_size=7&ordering=-price")
    second = await get_json(demo, "/courses?page=2&page_size=7&ordering=-price")
    assert not {c["id"] for c in first["results"]} & {c["id"] for c in second["results"]}
    assert second["previous"] and "ordering=-price" in second["previous"]
    last = await get_json(demo, "/courses?page=6&page_size=7")
    assert len(last["results"]) == 1 and last["next"] is None


BAD_QUERIES = ["ordering=name", "ordering=-", "kind=paid", "category=abc", "category=0",
               "page=0", "page_size=101", "page=x", f"search={'x' * 101}"]


async def test_bad_list_queries_are_400(demo: TestClient) -> None:
    for query in BAD_QUERIES:
        body = await assert_problem(await demo.get(f"{API}/courses?{query}"), 400,
                                    "validation-error")
        assert body["errors"][0]["loc"][0] == "query", query


async def test_course_detail_has_chapters_and_full_teacher(demo: TestClient) -> None:
    course_id = (await get_json(demo, "/courses?page_size=1"))["results"][0]["id"]
    detail = await get_json(demo, f"/courses/{course_id}")
    assert set(detail) >= COURSE_FIELDS
    assert {"signature", "brief"} <= set(detail["teacher"])
    assert detail["chapters"]
    for chapter in detail["chapters"]:
        assert set(chapter) == {"id", "chapter", "name", "summary", "sections"}
        assert chapter["sections"]
        assert {"id", "name", "orders", "section_type", "duration", "free_trail",
                "section_link", "chapter"} <= set(chapter["sections"][0])
    assert any(s["free_trail"] for c in detail["chapters"] for s in c["sections"])


async def test_unknown_things_are_404_problems(demo: TestClient) -> None:
    for path in ("/courses/999999", "/courses/99999999999999", "/courses/abc",
                 "/teachers/999999", "/teachers/-1", "/nowhere"):
        await assert_problem(await demo.get(f"{API}{path}"), 404, "not-found")


async def test_teachers(demo: TestClient) -> None:
    page = await get_json(demo, "/teachers?page_size=2")
    assert page["count"] == 5 and len(page["results"]) == 2 and page["next"]
    teacher = await get_json(demo, f"/teachers/{page['results'][0]['id']}")
    assert set(teacher) == {"id", "name", "role", "title", "image", "signature", "brief"}
    assert teacher["image"].startswith(f"{PUBLIC_BASE}/media/teachers/")


async def test_health_and_metrics(demo: TestClient) -> None:
    assert (await demo.get("/healthz")).status == 200
    ready = await demo.get("/readyz")
    assert ready.status == 200, await ready.text()
    await demo.get(f"{API}/banners")
    await demo.get(f"{API}/banners")
    text = await (await demo.get("/metrics")).text()
    assert 'catalog_banner_cache_hits_total{layer="db"} 1.0' in text
    assert 'catalog_banner_cache_hits_total{layer="local"} 1.0' in text
    assert 'route="/api/v1/catalog/banners"' in text


async def test_readiness_fails_when_the_command_group_is_gone(
    client: TestClient, redis: Redis
) -> None:
    assert (await client.get("/readyz")).status == 200
    await redis.delete("catalog.commands")  # as after a Redis restarted without its data
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["checks"]["consumers"].startswith("failed")


async def test_openapi_document_names_every_route(client: TestClient) -> None:
    doc = await get_json(client, "/openapi.json")
    routes = {
        (method.upper(), resource.canonical)
        for resource in client.app.router.resources()
        for route in resource
        if (method := route.method) != "HEAD" and resource.canonical.startswith(API)
        and not resource.canonical.endswith("openapi.json")
    }
    documented = {
        (method.upper(), path)
        for path, item in doc["paths"].items() for method in item if method != "parameters"
    }
    assert routes == documented
    assert doc["components"]["schemas"]["CourseIn"]["properties"]["kind"]
