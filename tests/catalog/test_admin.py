"""Admin writes on the real app: every entity, its event on catalog.events, and bad input
that answers with a problem and changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from shared.events import decode_entry
from tests.catalog.conftest import API, PUBLIC_BASE, snapshot
from tests.catalog.test_http import assert_problem

pytestmark = pytest.mark.integration


async def call(
    client: TestClient, method: str, path: str, headers: dict[str, str], json: Any = None,
    status: int = 200,
) -> Any:
    response = await client.request(method, f"{API}{path}", headers=headers, json=json)
    assert response.status == status, await response.text()
    return await response.json() if status != 204 else None


async def events(redis: Redis) -> list[tuple[str, dict[str, Any], str | None]]:
    found = []
    for _id, fields in await redis.xrange("catalog.events"):
        envelope = decode_entry(fields)
        found.append((envelope.type, envelope.data, envelope.correlation_id))
    return found


@pytest.fixture
async def tree(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    """A category, a teacher, a course, a chapter and a section, made through the API."""
    category = await call(client, "POST", "/categories", admin, {"name": "Python"}, 201)
    teacher = await call(client, "POST", "/teachers", admin,
                         {"name": "Alex", "title": "Lead", "image": "/media/teachers/1.svg"}, 201)
    course = await call(client, "POST", "/courses", admin, {
        "name": "Python 入门", "kind": "actual", "price": "39.9", "teacher_id": teacher["id"],
        "category_id": category["id"], "course_img": "/media/courses/1.svg",
    }, 201)
    chapter = await call(client, "POST", f"/courses/{course['id']}/chapters", admin,
                         {"chapter": 1, "name": "Basics"}, 201)
    section = await call(client, "POST", f"/chapters/{chapter['id']}/sections", admin,
                         {"name": "Hello", "orders": 1, "free_trail": True,
                          "duration": "05:00"}, 201)
    return {"category": category, "teacher": teacher, "course": course, "chapter": chapter,
            "section": section}


async def test_writes_render_and_show_up_in_reads(
    client: TestClient, admin: dict[str, str], tree: dict[str, Any]
) -> None:
    course = tree["course"]
    assert course["price"] == "39.90"
    assert course["teacher"]["image"] == f"{PUBLIC_BASE}/media/teachers/1.svg"
    assert course["category"] == {"id": tree["category"]["id"], "name": "Python"}
    assert datetime.fromisoformat(course["created_at"]).utcoffset() is not None
    assert tree["section"]["chapter_id"] == tree["chapter"]["id"]

    detail = await call(client, "GET", f"/courses/{course['id']}", {})
    assert detail["chapters"][0]["sections"][0]["name"] == "Hello"
    assert detail["section_list"] == [{"chapter": 1, "orders": 1, "name": "Hello",
                                       "section_type": 2, "duration": "05:00",
                                       "free_trail": True}]
    listed = await call(client, "GET", "/courses?kind=actual", {})
    assert [c["id"] for c in listed["results"]] == [course["id"]]
    assert listed["results"][0]["section_list"] == detail["section_list"]

    patched = await call(client, "PATCH", f"/courses/{course['id']}", admin,
                         {"price": "99", "brief": None, "level": 2})
    assert (patched["price"], patched["brief"], patched["level"]) == ("99.00", None, 2)
    assert patched["updated_at"] >= course["updated_at"]
    await call(client, "PATCH", f"/sections/{tree['section']['id']}", admin, {"name": "Hi"})
    await call(client, "PATCH", f"/chapters/{tree['chapter']['id']}", admin, {"summary": "s"})
    detail = await call(client, "GET", f"/courses/{course['id']}", {})
    assert detail["chapters"][0]["summary"] == "s"
    assert detail["chapters"][0]["sections"][0]["name"] == "Hi"

    await call(client, "DELETE", f"/teachers/{tree['teacher']['id']}", admin, status=204)
    assert (await call(client, "GET", f"/courses/{course['id']}", {}))["teacher"] is None
    await call(client, "DELETE", f"/sections/{tree['section']['id']}", admin, status=204)
    assert (await call(client, "GET", f"/courses/{course['id']}", {}))["section_list"] == []
    await call(client, "DELETE", f"/chapters/{tree['chapter']['id']}", admin, status=204)
    await call(client, "DELETE", f"/categories/{tree['category']['id']}", admin, status=204)
    assert await call(client, "GET", "/categories", {}) == []
    await call(client, "DELETE", f"/courses/{course['id']}", admin, status=204)
    await assert_problem(await client.get(f"{API}/courses/{course['id']}"), 404, "not-found")
    # deleted is deleted: a second delete or an edit finds nothing
    await call(client, "DELETE", f"/courses/{course['id']}", admin, status=404)


async def test_hidden_rows_leave_public_reads_but_admins_still_edit_them(
    client: TestClient, admin: dict[str, str], tree: dict[str, Any]
) -> None:
    course_id = tree["course"]["id"]
    await call(client, "PATCH", f"/courses/{course_id}", admin, {"is_show": False})
    await call(client, "GET", f"/courses/{course_id}", {}, status=404)
    assert (await call(client, "GET", "/courses", {}))["count"] == 0
    await call(client, "PATCH", f"/courses/{course_id}", admin, {"is_show": True})
    await call(client, "GET", f"/courses/{course_id}", {})


async def test_every_write_publishes_its_event(
    client: TestClient, admin: dict[str, str], redis: Redis
) -> None:
    headers = {**admin, "X-Correlation-ID": "corr-1"}
    banner = await call(client, "POST", "/banners", headers,
                        {"title": "B", "image": "/media/banners/1.svg"}, 201)
    await call(client, "PATCH", f"/banners/{banner['id']}", headers, {"info": "i"})
    await call(client, "DELETE", f"/banners/{banner['id']}", headers, status=204)
    course = await call(client, "POST", "/courses", headers, {"name": "C", "kind": "free"}, 201)
    chapter = await call(client, "POST", f"/courses/{course['id']}/chapters", headers,
                         {"name": "Ch"}, 201)
    await call(client, "POST", f"/chapters/{chapter['id']}/sections", headers,
               {"name": "S", "orders": 1}, 201)
    seen = await events(redis)
    assert [(t, d["entity"], d["action"]) for t, d, _ in seen] == [
        ("banner.changed", "banner", "created"),
        ("banner.changed", "banner", "updated"),
        ("banner.changed", "banner", "deleted"),
        ("course.changed", "course", "created"),
        ("course.changed", "chapter", "created"),
        ("course.changed", "section", "created"),
    ]
    assert all(c == "corr-1" for _, _, c in seen)
    assert all(d["course_id"] == course["id"] for _, d, _ in seen[3:])


WRITES = [
    ("POST", "/banners"), ("PATCH", "/banners/1"), ("DELETE", "/banners/1"),
    ("POST", "/categories"), ("PATCH", "/categories/1"), ("DELETE", "/categories/1"),
    ("POST", "/courses"), ("PATCH", "/courses/1"), ("DELETE", "/courses/1"),
    ("POST", "/teachers"), ("PATCH", "/teachers/1"), ("DELETE", "/teachers/1"),
    ("POST", "/courses/1/chapters"), ("PATCH", "/chapters/1"), ("DELETE", "/chapters/1"),
    ("POST", "/chapters/1/sections"), ("PATCH", "/sections/1"), ("DELETE", "/sections/1"),
]


async def test_writes_need_an_admin_token(
    client: TestClient, user: dict[str, str], make_token: Any, tree: dict[str, Any]
) -> None:
    before = await snapshot(client)
    expired = {"Authorization": f"Bearer {make_token(ttl=-60)}"}
    for method, path in WRITES:
        body = {"name": "x"}
        await assert_problem(await client.request(method, f"{API}{path}", json=body), 401)
        await assert_problem(
            await client.request(method, f"{API}{path}", json=body, headers=expired), 401)
        await assert_problem(
            await client.request(method, f"{API}{path}", json=body,
                                 headers={"Authorization": "Bearer not-a-jwt"}), 401)
        await assert_problem(
            await client.request(method, f"{API}{path}", json=body, headers=user), 403,
            "forbidden")
    assert await snapshot(client) == before


BAD = [
    # method, path (ids from `tree` by name), body, status, problem slug
    ("POST", "/banners", b"{nope", 400, "malformed-json"),
    ("POST", "/banners", None, 400, "malformed-json"),
    ("POST", "/banners", {"title": "t"}, 422, "validation-error"),
    ("POST", "/banners", {"title": "t", "image": "/i.svg", "extra": 1}, 422, "validation-error"),
    ("POST", "/banners", {"title": "", "image": "/i.svg"}, 422, "validation-error"),
    ("POST", "/categories", {"name": "Python"}, 409, "conflict"),
    ("POST", "/categories", {"name": "x" * 65}, 422, "validation-error"),
    ("PATCH", "/categories/{category}", {"name": "x", "orders": -1}, 422, "validation-error"),
    ("POST", "/teachers", {"name": "T", "title": "t", "role": 3}, 422, "validation-error"),
    ("POST", "/courses", {"name": "C", "kind": "paid"}, 422, "validation-error"),
    ("POST", "/courses", {"name": "C", "kind": "free", "price": "10000"}, 422,
     "validation-error"),
    ("POST", "/courses", {"name": "C", "kind": "free", "price": "1.234"}, 422,
     "validation-error"),
    ("POST", "/courses", {"name": "C", "kind": "free", "teacher_id": 999}, 409,
     "unknown-reference"),
    ("POST", "/courses", {"name": "C", "kind": "free", "category_id": 999}, 409,
     "unknown-reference"),
    ("POST", "/courses", {"name": "C", "kind": "free", "status": 5}, 422, "validation-error"),
    ("PATCH", "/courses/{course}", {}, 422, "validation-error"),
    ("PATCH", "/courses/{course}", {"name": None}, 422, "validation-error"),
    ("PATCH", "/courses/{course}", {"teacher_id": 999}, 409, "unknown-reference"),
    ("PATCH", "/courses/999", {"name": "x"}, 404, "not-found"),
    ("PATCH", "/courses/99999999999", {"name": "x"}, 404, "not-found"),
    ("DELETE", "/courses/999", None, 404, "not-found"),
    ("POST", "/courses/999/chapters", {"name": "x"}, 404, "not-found"),
    ("POST", "/courses/{course}/chapters", {"name": "x", "chapter": 0}, 422,
     "validation-error"),
    ("POST", "/chapters/999/sections", {"name": "x", "orders": 1}, 404, "not-found"),
    ("POST", "/chapters/{chapter}/sections", {"name": "x", "section_type": 7}, 422,
     "validation-error"),
    ("PATCH", "/sections/{section}", {"free_trail": None}, 422, "validation-error"),
    ("DELETE", "/sections/999", None, 404, "not-found"),
    ("DELETE", "/banners/abc", None, 404, "not-found"),
    ("PUT", "/banners", {"title": "t"}, 405, "method-not-allowed"),
]


async def test_bad_input_is_a_problem_and_changes_nothing(
    client: TestClient, admin: dict[str, str], tree: dict[str, Any]
) -> None:
    ids = {name: row["id"] for name, row in tree.items()}
    before = await snapshot(client)
    for method, path, body, status, slug in BAD:
        url = f"{API}{path.format(**ids)}"
        if isinstance(body, bytes):
            response = await client.request(
                method, url, data=body, headers={**admin, "Content-Type": "application/json"})
        else:
            response = await client.request(method, url, json=body, headers=admin)
        problem = await assert_problem(response, status, slug)
        if status == 422:
            assert problem["errors"], (method, path, body)
    assert await snapshot(client) == before
