"""`coursestream seckill warm | reconcile` through the `coursestream` command."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from coursestream.cli import main
from services.seckill.adapters.orm import items
from services.seckill.ports import LoadedItem
from services.seckill.settings import Settings
from tests.seckill.conftest import BASE, Tokens, WriterFactory, create_item
from tests.seckill.helpers import Inspector, buy, order_of
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


async def coursestream(settings: Settings, *args: str) -> tuple[int, str]:
    """The command in-process (its own event loop, in a thread), as the CLI wires it."""
    env = {"REDIS_URL": settings.require_redis_url(),
           "SECKILL_DATABASE_URL": settings.database_url, "VAR_DIR": str(settings.var_dir)}
    result = await asyncio.to_thread(
        CliRunner().invoke, main, list(args), env=env, catch_exceptions=False
    )
    return result.exit_code, result.output


async def run(settings: Settings, *args: str) -> tuple[int, str]:
    return await coursestream(settings, "seckill", *args)


async def attempt(client: TestClient[Any, Any], item_id: int, headers: dict[str, str]) -> Any:
    response = await client.post(f"{BASE}/items/{item_id}/attempts", headers=headers)
    return response.status, await response.json()


def row(output: str, item_id: int) -> list[str]:
    [line] = [ln for ln in output.splitlines() if ln.split()[:1] == [str(item_id)]]
    return line.split()


async def test_warm_reloads_stock_and_buyers_after_a_redis_loss(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory,
    inspector: Inspector, settings: Settings,
) -> None:
    item = await create_item(client, tokens, stock=10)
    for user in (1, 2, 3):
        assert (await attempt(client, item["id"], tokens.headers(user)))[0] == 202
    async with writer():
        async def written() -> bool:
            return await inspector.order_count(item["id"]) == 3

        await eventually(written)
    await inspector.redis.flushdb()  # Redis lost everything
    status, body = await attempt(client, item["id"], tokens.headers(4))
    assert status == 503 and body["type"].endswith("/not-ready")

    code, out = await run(settings, "warm")
    assert code == 0, out
    assert "remaining 7 of 10" in out
    assert (await inspector.store.remaining([item["id"]]))[item["id"]] == 7
    status, body = await attempt(client, item["id"], tokens.headers(2))
    assert status == 409 and body["type"].endswith("/already-purchased")
    assert (await attempt(client, item["id"], tokens.headers(4)))[0] == 202
    code, out = await run(settings, "warm")  # a second warm leaves a running sale alone
    assert "already loaded" in out
    assert (await inspector.store.remaining([item["id"]]))[item["id"]] == 6


async def test_reconcile_counts_pending_requests_and_repairs_drift(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory,
    inspector: Inspector, settings: Settings,
) -> None:
    item = await create_item(client, tokens, stock=10)
    for user in (1, 2):
        await attempt(client, item["id"], tokens.headers(user))
    async with writer():
        async def written() -> bool:
            return await inspector.order_count(item["id"]) == 2

        await eventually(written)
    for user in (3, 4, 5):  # admitted, not yet written: pending requests
        await attempt(client, item["id"], tokens.headers(user))

    code, out = await run(settings, "reconcile")
    assert code == 0, out
    assert row(out, item["id"]) == [str(item["id"]), "10", "2", "5", "3", "+0"]

    await inspector.redis.hincrby(inspector.keys.item(item["id"]), "remaining", 4)  # drift
    code, out = await run(settings, "reconcile")
    assert code == 1 and row(out, item["id"])[-1] == "+4"
    code, out = await run(settings, "reconcile", "--fix")
    assert code == 0 and "fixed" in out
    code, out = await run(settings, "reconcile")
    assert code == 0 and row(out, item["id"])[-1] == "+0"
    assert (await inspector.store.remaining([item["id"]]))[item["id"]] == 5


GHOST = 999_002


async def dead_requests(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory, inspector: Inspector,
    stock: int, users: tuple[int, ...],
) -> dict[int, str]:
    """Order requests of `users` that failed for good: their item is in Redis, not yet in the
    database (a foreign key breaks), then the item reaches the database. Their tickets."""
    now = datetime.now(UTC)
    starts_at, ends_at = now - timedelta(minutes=1), now + timedelta(hours=1)
    await inspector.store.load_item(
        LoadedItem(GHOST, 7, Decimal("9.90"), stock, stock, starts_at, ends_at))
    tickets = {}
    for user in users:
        status, body = await attempt(client, GHOST, tokens.headers(user))
        assert status == 202, body
        tickets[user] = body["ticket"]
    async with writer(order_writer_claim_idle_ms=150, order_writer_max_deliveries=2):
        async def dead() -> bool:
            found = [await inspector.store.ticket(t) for t in tickets.values()]
            return all(t is not None and t.status == "failed" for t in found)

        await eventually(dead, within=30)
    assert (await inspector.store.remaining([GHOST]))[GHOST] == stock
    async with inspector.engine.begin() as conn:
        await conn.execute(items.insert().values(
            id=GHOST, course_id=7, title="late", price=Decimal("9.90"), stock=stock,
            starts_at=starts_at, ends_at=ends_at, created_at=now))
    return tickets


async def test_retry_dead_order_requests_are_admitted_again(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory,
    inspector: Inspector, settings: Settings,
) -> None:
    tickets = await dead_requests(client, tokens, writer, inspector, stock=2, users=(55,))
    async with writer():
        await order_of(client, tokens, await buy(client, tokens, GHOST, 56), 56)
    stream = inspector.keys.orders_stream_of(GHOST)

    code, out = await coursestream(settings, "streams", "retry-dead", stream)
    assert code == 0, out
    assert (await inspector.store.remaining([GHOST]))[GHOST] == 0  # its unit taken again
    assert f"{tickets[55]}: admitted" in out
    assert await inspector.redis.xlen(inspector.keys.dead_stream(GHOST % 4)) == 0
    async with writer():
        await order_of(client, tokens, tickets[55], 55)
    figures = await inspector.figures(GHOST)
    assert (figures.orders, figures.remaining, figures.drift) == (2, 0, 0)


async def test_retry_dead_refuses_order_requests_sold_out_or_bought_since(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory,
    inspector: Inspector, settings: Settings,
) -> None:
    tickets = await dead_requests(client, tokens, writer, inspector, stock=2, users=(55, 57))
    async with writer():  # 55 bought again, 56 took the last unit
        for user in (55, 56):
            await order_of(client, tokens, await buy(client, tokens, GHOST, user), user)
    stream = inspector.keys.orders_stream_of(GHOST)

    code, out = await coursestream(settings, "streams", "retry-dead", stream)
    assert code == 0, out
    async with writer():
        await asyncio.sleep(1)  # time to write anything put back
    assert await inspector.order_count(GHOST) == 2
    assert (await inspector.store.remaining([GHOST]))[GHOST] == 0
    assert f"{tickets[55]}: already-purchased" in out
    assert f"{tickets[57]}: sold-out" in out
    for user, reason in ((55, "already-purchased"), (57, "sold-out")):
        found = await inspector.store.ticket(tickets[user])
        assert found is not None and (found.status, found.reason) == ("failed", reason)
    assert (await inspector.figures(GHOST)).drift == 0
