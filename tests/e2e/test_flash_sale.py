"""A flash sale through the gateway with every process running: attempt, live ticket status,
order, expiry by the scheduler's delay (short pay timeout in this platform), payment."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from tests.support.platform import Platform
from tests.support.waiting import eventually


async def ticket_events(http: aiohttp.ClientSession, url: str,
                        headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every `data:` of the server-sent events, until the server ends the stream."""
    events = []
    async with http.get(url, headers=headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith("data:"):
                events.append(json.loads(line.removeprefix("data:")))
    return events


async def test_attempt_order_expiry_by_the_scheduler_then_payment(
    http: aiohttp.ClientSession, platform: Platform, admin_headers: dict[str, str],
    user_headers: dict[str, str],
) -> None:
    api = platform.url + "/api/v1/seckill"
    now = datetime.now(UTC)
    item = {"course_id": 1, "title": "e2e sale", "price": "9.90", "stock": 2,
            "starts_at": (now - timedelta(seconds=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat()}
    async with http.post(f"{api}/items", json=item, headers=admin_headers) as response:
        assert response.status == 201, await response.text()
        item_id = (await response.json())["id"]

    async def buy() -> dict[str, Any]:
        async with http.post(f"{api}/items/{item_id}/attempts", headers=user_headers) as r:
            assert r.status == 202, await r.text()
            ticket = await r.json()
        events = await asyncio.wait_for(
            ticket_events(http, ticket["links"]["events"], user_headers), 30)
        assert events[-1]["status"] == "success", events
        async with http.get(f"{api}/orders/{events[-1]['order_id']}",
                            headers=user_headers) as r:
            return dict(await r.json())

    order = await buy()
    assert order["status"] == "unpaid"
    async with http.post(f"{api}/items/{item_id}/attempts", headers=user_headers) as r:
        assert r.status == 409
        assert (await r.json())["type"].endswith("/already-purchased")
    async with http.get(f"{api}/items/{item_id}") as r:
        assert (await r.json())["remaining"] == 1

    async def expired() -> bool:  # nobody paid: the scheduler's delay fires order.expire
        async with http.get(f"{api}/orders/{order['id']}", headers=user_headers) as r:
            return (await r.json())["status"] == "expired"

    await eventually(expired, within=30, every=0.5)
    async with http.get(f"{api}/items/{item_id}") as r:
        assert (await r.json())["remaining"] == 2  # the unit came back

    second = await buy()  # the buyer may try again after an expiry
    for _ in range(2):  # payment is idempotent
        async with http.post(f"{api}/orders/{second['id']}/payment",
                             headers=user_headers) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["status"] == "paid"
    async with http.get(f"{api}/items/{item_id}") as r:
        assert (await r.json())["remaining"] == 1
