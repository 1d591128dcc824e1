"""The demo sales `coursestream up` loads: live, upcoming and ended, moved to the present on
every start, stock in Redis; an operator's sale is never touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from services.seckill.demo import DEMO_SALES, ENDED, LIVE, UPCOMING, load_demo_data
from services.seckill.settings import Settings
from tests.seckill.conftest import BASE, Tokens, create_item
from tests.seckill.helpers import Inspector

pytestmark = pytest.mark.integration


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def items_by_course(client: TestClient[Any, Any]) -> dict[int, dict[str, Any]]:
    body = await (await client.get(f"{BASE}/items")).json()
    return {item["course_id"]: item for item in body["results"]}


def assert_windows(items: dict[int, dict[str, Any]], now: datetime) -> None:
    for sale in DEMO_SALES:
        item = items[sale.course_id]
        starts_at, ends_at = sale.window(now)
        assert abs(moment(item["starts_at"]) - starts_at) < timedelta(seconds=1), sale.title
        assert abs(moment(item["ends_at"]) - ends_at) < timedelta(seconds=1), sale.title
        assert (item["title"], item["price"], item["stock"]) \
            == (sale.title, str(sale.price), sale.stock)


async def test_the_three_demo_sales_are_live_upcoming_and_ended(
    client: TestClient[Any, Any], settings: Settings, tokens: Tokens,
) -> None:
    now = datetime.now(UTC)
    assert await load_demo_data(settings, now) is True
    items = await items_by_course(client)
    assert len(items) == 3
    assert_windows(items, now)
    assert {course: item["state"] for course, item in items.items()} == {
        LIVE.course_id: "live", UPCOMING.course_id: "upcoming", ENDED.course_id: "ended"}
    assert moment(items[UPCOMING.course_id]["starts_at"]) - now == timedelta(minutes=5)
    assert items[LIVE.course_id]["id"] == 1  # the README's first attempt goes to item 1
    assert {s.course_id: items[s.course_id]["remaining"] for s in DEMO_SALES} \
        == {s.course_id: s.stock for s in DEMO_SALES}

    refusals = {UPCOMING.course_id: 409, ENDED.course_id: 409, LIVE.course_id: 202}
    for course, status in refusals.items():
        response = await client.post(f"{BASE}/items/{items[course]['id']}/attempts",
                                     headers=tokens.headers(5))
        assert response.status == status, await response.text()
        if status == 409:
            slug = "not-started" if course == UPCOMING.course_id else "ended"
            assert (await response.json())["type"].endswith(f"/{slug}")


async def test_a_restart_moves_the_demo_windows_to_now_and_keeps_the_stock(
    client: TestClient[Any, Any], settings: Settings, tokens: Tokens, inspector: Inspector,
) -> None:
    first = datetime.now(UTC) - timedelta(days=10)  # the first start, long ago: all over now
    assert await load_demo_data(settings, first) is True
    live_id = (await items_by_course(client))[LIVE.course_id]["id"]
    assert (await items_by_course(client))[LIVE.course_id]["state"] == "ended"
    refused = await client.post(f"{BASE}/items/{live_id}/attempts", headers=tokens.headers(6))
    assert refused.status == 409

    now = datetime.now(UTC)
    assert await load_demo_data(settings, now) is False  # nothing new, windows moved
    items = await items_by_course(client)
    assert len(items) == 3
    assert_windows(items, now)
    assert items[LIVE.course_id]["state"] == "live"
    assert items[UPCOMING.course_id]["state"] == "upcoming"
    # Admission reads the window from Redis: it was moved there too.
    admitted = await client.post(f"{BASE}/items/{live_id}/attempts", headers=tokens.headers(6))
    assert admitted.status == 202, await admitted.text()
    assert (await items_by_course(client))[LIVE.course_id]["remaining"] == LIVE.stock - 1

    # Redis lost its copy (a flushed embedded server): the next start loads it again.
    await inspector.redis.flushdb()
    assert await load_demo_data(settings, datetime.now(UTC)) is False
    item = await (await client.get(f"{BASE}/items/{live_id}")).json()
    assert (item["state"], item["remaining"]) == ("live", LIVE.stock)


async def test_an_operators_sale_is_never_moved_and_stops_new_demo_sales(
    client: TestClient[Any, Any], settings: Settings, tokens: Tokens,
) -> None:
    mine = await create_item(client, tokens, starts_in_s=3600)
    assert await load_demo_data(settings) is False
    body = await (await client.get(f"{BASE}/items")).json()
    assert [item["id"] for item in body["results"]] == [mine["id"]]
    assert body["results"][0]["starts_at"] == mine["starts_at"]
