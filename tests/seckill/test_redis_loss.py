"""The database refuses orders beyond stock, whatever Redis says: Redis losing its last
writes (AOF every second, a failover, a restore) sells no unit twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from services.seckill.ports import NewOrder
from services.seckill.streams import SECKILL_EVENTS
from shared.events import decode_entry
from tests.seckill.conftest import BASE, Tokens, WriterFactory, create_item
from tests.seckill.helpers import Inspector, buy
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.fault]


async def test_admissions_lost_by_redis_are_not_sold_again(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=3)
    sold = [await buy(client, tokens, item["id"], user) for user in (1, 2, 3)]
    async with writer():
        async def written() -> bool:
            return await inspector.order_count(item["id"]) == 3

        await eventually(written)
    # Redis comes back without its last second: the admissions are gone, their orders not.
    keys = inspector.keys
    await inspector.redis.hset(keys.item(item["id"]), "remaining", 3)
    await inspector.redis.delete(keys.buyers(item["id"]), *(keys.ticket(t) for t in sold))
    late = {user: await buy(client, tokens, item["id"], user) for user in (4, 5, 6)}
    async with writer():
        async def final() -> bool:
            found = [await inspector.store.ticket(t) for t in late.values()]
            return all(t is not None and t.final for t in found)

        await eventually(final)
    assert sorted(r.user_id for r in await inspector.orders(item["id"])) == [1, 2, 3]
    for user, ticket in late.items():
        response = await client.get(f"{BASE}/tickets/{ticket}", headers=tokens.headers(user))
        body = await response.json()
        assert (body["status"], body["reason"], body["order_id"]) == ("failed", "sold-out", None)
    rejected = [e.data for e in (decode_entry(f) for _, f in
                                 await inspector.redis.xrange(SECKILL_EVENTS))
                if e.type == "order.rejected"]
    assert sorted((r["user_id"], r["reason"]) for r in rejected) == [
        (4, "sold-out"), (5, "sold-out"), (6, "sold-out")]
    buyers = await inspector.redis.smembers(keys.buyers(item["id"]))
    assert not buyers & {b"4", b"5", b"6"}
    # Each refusal took a unit Redis should not have had: the sale is consistent again.
    figures = await inspector.figures(item["id"])
    assert (figures.orders, figures.remaining, figures.pending, figures.drift) == (3, 0, 0, 0)
    response = await client.post(f"{BASE}/items/{item['id']}/attempts",
                                 headers=tokens.headers(7))
    assert response.status == 409 and (await response.json())["type"].endswith("/sold-out")


async def test_concurrent_batches_never_hold_more_orders_than_stock(
    inspector: Inspector,
) -> None:
    now = datetime.now(UTC)
    item = await inspector.repo.create_item({
        "course_id": 1, "title": "t", "price": Decimal("9.90"), "stock": 5,
        "starts_at": now - timedelta(minutes=1), "ends_at": now + timedelta(hours=1)})
    batches = [[NewOrder(item.id, user, f"{item.id}-{uuid.uuid4().hex}", Decimal("9.90"))
                for user in range(start, start + 10)] for start in (100, 200, 300, 400)]
    await asyncio.gather(*(inspector.repo.insert_orders(batch, 900) for batch in batches))
    assert await inspector.order_count(item.id) == 5
