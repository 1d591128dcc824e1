"""Tickets, orders, payment and expiry over HTTP, with the order writer and the app's
`seckill.commands` consumer running against real Redis and real databases."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from services.seckill import handlers
from services.seckill.app import create_app
from services.seckill.metrics import OrderWriterMetrics
from services.seckill.settings import Settings
from services.seckill.streams import (
    SCHEDULER_REQUESTS,
    SECKILL_COMMANDS,
    SECKILL_EVENTS,
)
from shared.consumers import Delivery
from shared.embedded_redis import free_port
from shared.events import Envelope, decode_entry, publish
from shared.http import METRICS_KEY
from tests.seckill.conftest import BASE, Tokens, WriterFactory, create_item
from tests.seckill.helpers import Inspector, buy, expire_command, order_of
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


async def event_types(inspector: Inspector) -> Counter[str]:
    return Counter(decode_entry(f).type for _, f in await inspector.redis.xrange(SECKILL_EVENTS))


async def test_ticket_events_end_with_the_final_status(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory,
) -> None:
    item = await create_item(client, tokens, stock=2)
    ticket = await buy(client, tokens, item["id"], 8)
    response = await client.get(f"{BASE}/tickets/{ticket}/events", headers=tokens.headers(8))
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    first = await response.content.readuntil(b"\n\n")
    assert orjson.loads(first.split(b"data: ", 1)[1])["status"] == "pending"
    async with writer(), asyncio.timeout(20):
        rest = await response.content.read()  # the stream ends by itself once final
    events = [orjson.loads(chunk.split(b"data: ", 1)[1])
              for chunk in rest.split(b"\n\n") if chunk.startswith(b"event: status")]
    assert [e["status"] for e in events] == ["success"]
    assert events[0]["order_id"] is not None and events[0]["ticket"] == ticket


async def test_tickets_and_orders_are_their_owners_only(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory,
) -> None:
    item = await create_item(client, tokens, stock=3)
    ticket = await buy(client, tokens, item["id"], 21)
    async with writer():
        order = await order_of(client, tokens, ticket, 21)
    other = tokens.headers(22)
    for path in (f"/tickets/{ticket}", f"/tickets/{ticket}/events", f"/orders/{order['id']}"):
        response = await client.get(f"{BASE}{path}", headers=other)
        assert response.status == 404, path
        assert (await client.get(f"{BASE}{path}")).status == 401
    assert (await client.post(f"{BASE}/orders/{order['id']}/payment", headers=other)).status == 404
    mine = await (await client.get(f"{BASE}/orders", headers=other)).json()
    assert mine["count"] == 0
    admin = tokens.headers(1, "admin")
    assert (await client.get(f"{BASE}/orders/{order['id']}", headers=admin)).status == 200
    everyone = await (await client.get(f"{BASE}/orders?user=21", headers=admin)).json()
    assert [o["id"] for o in everyone["results"]] == [order["id"]]
    assert (await client.get(f"{BASE}/orders?page_size=1000", headers=admin)).status == 400
    unpaid = await (await client.get(f"{BASE}/orders/{order['id']}",
                                     headers=tokens.headers(21))).json()
    assert unpaid["status"] == "unpaid"


async def test_payment_is_idempotent_and_expiry_gives_the_unit_back(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=1)
    async with writer(seckill_pay_timeout_s=1):
        first = await order_of(client, tokens, await buy(client, tokens, item["id"], 31), 31)
        await asyncio.sleep(1.1)  # past pay_by
        await expire_command(inspector, first["id"])
        path = f"{BASE}/orders/{first['id']}"

        async def expired() -> bool:
            body = await (await client.get(path, headers=tokens.headers(31))).json()
            return body["status"] == "expired"

        await eventually(expired)
        assert (await inspector.store.remaining([item["id"]]))[item["id"]] == 1
        late = await client.post(f"{path}/payment", headers=tokens.headers(31))
        assert late.status == 409 and (await late.json())["type"].endswith("/expired")
        await expire_command(inspector, first["id"])  # a redelivered command changes nothing
    # The unit is back and the same buyer may try again: a second, live order.
    async with writer(seckill_pay_timeout_s=900):
        second = await order_of(client, tokens, await buy(client, tokens, item["id"], 31), 31)
    pay = f"{BASE}/orders/{second['id']}/payment"
    for _ in range(2):
        response = await client.post(pay, headers=tokens.headers(31))
        assert response.status == 200, await response.text()
        assert (await response.json())["status"] == "paid"
    figures = await inspector.figures(item["id"])
    assert (figures.orders, figures.remaining, figures.drift) == (1, 0, 0)
    types = await event_types(inspector)
    assert types["order.expired"] == 1 and types["order.created"] == 2


@pytest.mark.slow
async def test_payment_racing_expiry_has_exactly_one_winner(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory, inspector: Inspector,
) -> None:
    users = list(range(600, 640))
    item = await create_item(client, tokens, stock=len(users))
    for user in users:
        await buy(client, tokens, item["id"], user)
    async with writer(seckill_pay_timeout_s=8):
        async def written() -> bool:
            return await inspector.order_count(item["id"]) == len(users)

        await eventually(written)
    _, rows = await inspector.repo.orders_page(0, 100, None)
    orders = {o.user_id: o for o in rows if o.item_id == item["id"]}
    loop = asyncio.get_running_loop()
    wall_offset = datetime.now(UTC).timestamp() - loop.time()
    # Payment and expiry fire together at pay_by plus a spread of -1.0..+0.95 s (wide enough
    # for a loaded machine's delays), so both sides win somewhere; each pair still races at
    # one instant.
    offsets = [(i % 40 - 20) * 0.05 for i in range(len(users))]
    assert min(o.pay_by for o in orders.values()).timestamp() - wall_offset - 1.0 > (
        loop.time()), "pay_by passed before the race began"

    async def race(user: int, offset: float) -> int:
        order = orders[user]
        at = order.pay_by.timestamp() - wall_offset + offset
        await asyncio.sleep(max(0.0, at - loop.time()))
        pay = client.post(f"{BASE}/orders/{order.id}/payment", headers=tokens.headers(user))
        response, _ = await asyncio.gather(pay, expire_command(inspector, order.id))
        return response.status

    outcomes = await asyncio.gather(*(race(u, o) for u, o in zip(users, offsets, strict=True)))
    statuses = dict(zip(users, outcomes, strict=True))

    async def settled() -> bool:
        groups = await inspector.redis.xinfo_groups(SECKILL_COMMANDS)
        return all(g["pending"] == 0 and not g.get("lag") for g in groups)

    await eventually(settled, within=20)
    final = {r.user_id: r.status for r in await inspector.orders(item["id"])}
    for user, status in statuses.items():
        assert (status, final[user]) in ((200, "paid"), (409, "expired")), (user, status)
    expired = [u for u, s in final.items() if s == "expired"]
    paid = [u for u, s in final.items() if s == "paid"]
    assert paid and expired  # both sides won some races
    assert (await inspector.store.remaining([item["id"]]))[item["id"]] == len(expired)
    buyers = {int(b) for b in await inspector.redis.smembers(inspector.keys.buyers(item["id"]))}
    assert buyers == set(paid)
    types = await event_types(inspector)
    assert (types["order.paid"], types["order.expired"]) == (len(paid), len(expired))
    assert (await inspector.figures(item["id"])).drift == 0

async def test_the_backstop_sweep_expires_overdue_orders_whose_command_never_came(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=3)
    async with writer(seckill_pay_timeout_s=1):
        overdue = [await order_of(client, tokens, await buy(client, tokens, item["id"], u), u)
                   for u in (41, 42)]
    async with writer(seckill_pay_timeout_s=900):
        live = await order_of(client, tokens, await buy(client, tokens, item["id"], 43), 43)
    await asyncio.sleep(1.1)  # the first two are past pay_by; their order.expire is "lost"
    await publish(inspector.redis, SECKILL_COMMANDS,
                  Envelope(type="orders.sweep-expired", producer="scheduler"))

    async def swept() -> bool:
        statuses = [(await (await client.get(f"{BASE}/orders/{o['id']}",
                                             headers=tokens.headers(o["user_id"]))).json())
                    ["status"] for o in overdue]
        return statuses == ["expired", "expired"]

    await eventually(swept)
    body = await (await client.get(f"{BASE}/orders/{live['id']}",
                                   headers=tokens.headers(43))).json()
    assert body["status"] == "unpaid"  # not yet due: left alone
    figures = await inspector.figures(item["id"])
    assert (figures.orders, figures.remaining, figures.drift) == (1, 2, 0)
    assert (await event_types(inspector))["order.expired"] == 2


async def test_a_redelivered_batch_publishes_each_event_once(
    client: TestClient[Any, Any], tokens: Tokens, inspector: Inspector,
) -> None:
    """A writer that crashed after its commit and before its ack gets the batch again: the
    order is not written twice, and the events it publishes again (with the first ids) are
    dropped by their dedupe keys: each stream holds them once."""
    item = await create_item(client, tokens, stock=2)
    await buy(client, tokens, item["id"], 61)
    entries = await inspector.redis.xrange(inspector.keys.orders_stream_of(item["id"]))
    batch = [Delivery(i.decode(), decode_entry(f), f) for i, f in entries]
    metrics = OrderWriterMetrics(CollectorRegistry())
    for _ in range(2):
        await handlers.write_orders(batch, inspector.repo, inspector.store, inspector.publisher,
                                    900, metrics)
    assert await inspector.order_count(item["id"]) == 1
    for stream, event_type in ((SECKILL_EVENTS, "order.created"),
                               (SCHEDULER_REQUESTS, "delay.requested")):
        published = [e for e in (decode_entry(f) for _, f in await inspector.redis.xrange(stream))
                     if e.type == event_type]
        assert len(published) == 1
        assert published[0].data["ticket" if event_type == "order.created" else "key"]


async def test_ticket_events_keep_a_waiting_stream_alive_then_end(
    settings: Settings, tokens: Tokens,
) -> None:
    """No order writer: the ticket stays pending. The stream sends heartbeat comments while it
    waits (a proxy in between sees it alive) and ends cleanly at its timeout."""
    quick = settings.model_copy(update={"ticket_events_timeout_s": 1.6,
                                        "ticket_events_heartbeat_s": 0.5})
    async with TestClient(TestServer(create_app(quick))) as client:
        item = await create_item(client, tokens, stock=2)
        ticket = await buy(client, tokens, item["id"], 9)
        response = await client.get(f"{BASE}/tickets/{ticket}/events",
                                    headers=tokens.headers(9))
        body = await response.read()  # the whole stream: it ends by itself
    chunks = [c for c in body.split(b"\n\n") if c]
    assert chunks[0].startswith(b"event: status") and b'"pending"' in chunks[0]
    assert chunks[1:] and set(chunks[1:]) == {b": keep-alive"}
    assert len(chunks[1:]) >= 2


async def test_a_client_leaving_a_waiting_stream_is_no_error(
    client: TestClient[Any, Any], settings: Settings, tokens: Tokens,
) -> None:
    """Served as `coursestream serve` serves (no handler cancellation when a client goes): the
    next heartbeat finds the connection closed and the handler ends quietly, no 500."""
    item = await create_item(client, tokens, stock=2)
    ticket = await buy(client, tokens, item["id"], 10)
    app = create_app(settings.model_copy(update={"ticket_events_heartbeat_s": 0.2}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}{BASE}/tickets/{ticket}/events"
            async with http.get(url, headers=tokens.headers(10)) as response:
                await response.content.readuntil(b"\n\n")
            # the client has gone while the ticket is pending
        registry = app[METRICS_KEY].registry

        async def answered() -> bool:
            return any(m.samples for m in registry.collect()
                       if m.name == "http_requests" and any(
                           s.labels.get("route", "").endswith("/events") for s in m.samples))

        await eventually(answered, within=5)
        statuses = {s.labels["status"] for m in registry.collect() if m.name == "http_requests"
                    for s in m.samples if s.labels.get("route", "").endswith("/events")
                    and s.name == "http_requests_total"}
        assert statuses == {"200"}
    finally:
        await runner.cleanup()
