"""One unit back per ticket, whichever paths compensate it (rejection, dead letter, expiry),
and a dead-letter path that copes with requests it cannot read. Real Redis, real databases;
the handlers are called as the order writer calls them, on entries read from the stream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from services.seckill import handlers
from services.seckill.metrics import OrderWriterMetrics
from services.seckill.streams import SECKILL_EVENTS
from shared.events import Envelope, decode_entry, publish
from tests.seckill.conftest import Tokens, WriterFactory, create_item
from tests.seckill.helpers import Inspector, buy, order_of, read_requests
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def writer_metrics() -> OrderWriterMetrics:
    return OrderWriterMetrics(CollectorRegistry())


async def remaining(inspector: Inspector, item_id: int) -> int | None:
    return (await inspector.store.remaining([item_id]))[item_id]


async def test_a_rejected_request_that_is_then_dead_lettered_returns_its_unit_once(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=3)
    async with writer():
        await order_of(client, tokens, await buy(client, tokens, item["id"], 71), 71)
    # Redis lost the buyer: 71 is admitted again, and the database refuses a second order.
    await inspector.redis.srem(inspector.keys.buyers(item["id"]), 71)
    ticket = await buy(client, tokens, item["id"], 71)
    assert await remaining(inspector, item["id"]) == 1
    [request] = await read_requests(inspector, item["id"])
    metrics = writer_metrics()
    await handlers.write_orders([request], inspector.repo, inspector.store, inspector.publisher,
                                900, metrics)
    assert await remaining(inspector, item["id"]) == 2
    # Its batch failed after the rejection (say), and the request ends in the dead letters.
    await handlers.order_failed(request, "boom", inspector.repo, inspector.store,
                                inspector.publisher, metrics)
    assert await remaining(inspector, item["id"]) == 2
    assert await inspector.redis.sismember(inspector.keys.buyers(item["id"]), 71)  # holds one
    found = await inspector.store.ticket(ticket)
    assert found is not None and (found.status, found.reason) == ("failed", "already-purchased")
    assert (await inspector.figures(item["id"])).drift == 0
    rejected = [e for e in (decode_entry(f) for _, f in
                            await inspector.redis.xrange(SECKILL_EVENTS))
                if e.type == "order.rejected"]
    # told once: the second path's event has the first one's id and its dedupe key drops it
    assert len(rejected) == 1
    assert rejected[0].data["reason"] == "already-purchased"


async def test_a_request_dead_lettered_twice_returns_its_unit_once(
    client: TestClient[Any, Any], tokens: Tokens, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=2)
    ticket = await buy(client, tokens, item["id"], 72)
    [request] = await read_requests(inspector, item["id"])
    for _ in range(2):  # a crash after the compensation, before the acknowledgement
        await handlers.order_failed(request, "boom", inspector.repo, inspector.store,
                                    inspector.publisher, writer_metrics())
    assert await remaining(inspector, item["id"]) == 2
    assert not await inspector.redis.sismember(inspector.keys.buyers(item["id"]), 72)
    found = await inspector.store.ticket(ticket)
    assert found is not None and (found.status, found.reason) == ("failed", "order-failed")


async def test_a_rejected_ticket_written_on_redelivery_and_expired_returns_one_unit(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory, inspector: Inspector,
) -> None:
    """The same ticket compensated by a rejection and by an order expiry gives one unit back:
    the stock never goes above what the item has."""
    item = await create_item(client, tokens, stock=2)
    async with writer(seckill_pay_timeout_s=1):
        first = await order_of(client, tokens, await buy(client, tokens, item["id"], 73), 73)
    await inspector.redis.srem(inspector.keys.buyers(item["id"]), 73)  # Redis lost the buyer
    await buy(client, tokens, item["id"], 73)
    [request] = await read_requests(inspector, item["id"])
    args = (inspector.repo, inspector.store, inspector.publisher)
    await handlers.write_orders([request], *args, 0, writer_metrics())  # already purchased
    await asyncio.sleep(1.1)
    await handlers.expire(*args, first["id"])
    assert await remaining(inspector, item["id"]) == 2
    # The rejected batch is delivered again: the first order has expired, so now it is written
    await handlers.write_orders([request], *args, 0, writer_metrics())
    [second] = [r for r in await inspector.orders(item["id"]) if r.ticket != first["ticket"]]
    await handlers.expire(*args, second.id)
    assert await remaining(inspector, item["id"]) == 2


async def test_an_unreadable_order_request_is_dead_lettered_and_acknowledged(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=3)
    stream = inspector.keys.orders_stream_of(item["id"])
    # A request no admission wrote (no price): nothing was taken for it, nothing goes back.
    await publish(inspector.redis, stream, Envelope(
        type="order.requested", producer="test",
        data={"ticket": f"{item['id']}-{'0' * 32}", "item_id": item["id"], "user_id": 80}))
    good = await buy(client, tokens, item["id"], 81)
    dead = inspector.keys.dead_stream(item["id"] % inspector.keys.partitions)
    async with writer(order_writer_claim_idle_ms=150, order_writer_max_deliveries=2):
        async def dead_lettered() -> bool:
            return (await inspector.redis.xlen(dead) == 1
                    and await inspector.pending(item["id"]) == 0)

        await eventually(dead_lettered, within=20)
        await order_of(client, tokens, good, 81)
    [(_, entry)] = await inspector.redis.xrange(dead)
    assert b"price" in entry[b"error"]
    assert await remaining(inspector, item["id"]) == 2
    assert (await inspector.figures(item["id"])).drift == 0
