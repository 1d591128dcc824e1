"""The order writer and the app under faults: kill -9, an unreachable database, poison
entries, claims."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from services.seckill.app import create_app
from services.seckill.ports import LoadedItem
from services.seckill.settings import Settings
from services.seckill.streams import COMMANDS_GROUP, SECKILL_COMMANDS
from shared.events import Envelope, decode_entry, publish
from tests.seckill.conftest import BASE, Tokens, WriterFactory, create_item
from tests.seckill.helpers import Inspector, buy, expire_command, order_of
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.fault]

COMMAND = [str(Path(sys.executable).parent / "coursestream"), "worker", "order-writer"]


@asynccontextmanager
async def writer_process(
    settings: Settings, log_path: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The real `coursestream worker order-writer` process, with a fixed consumer name."""
    env = {
        **os.environ, "REDIS_URL": settings.require_redis_url(),
        "SECKILL_DATABASE_URL": settings.database_url, "CONSUMER_NAME": "writer-under-test",
        "ORDER_WRITER_BATCH": "7", "ORDER_WRITER_POLL_MS": "50",
        "ORDER_WRITER_CLAIM_IDLE_MS": "1000", "ORDER_WRITER_METRICS_PORT": "0",
        "LOG_LEVEL": "WARNING", "VAR_DIR": str(settings.var_dir),
    }
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(*COMMAND, env=env, stdout=log, stderr=log)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def attempt(client: TestClient[Any, Any], item_id: int, headers: dict[str, str]) -> Any:
    response = await client.post(f"{BASE}/items/{item_id}/attempts", headers=headers)
    return response.status, await response.json()


async def ticket_statuses(inspector: Inspector, tickets: set[str]) -> dict[str, str]:
    found = {t: await inspector.store.ticket(t) for t in tickets}
    return {t: (x.status if x else "missing") for t, x in found.items()}


@pytest.mark.slow
async def test_kill_9_in_the_middle_of_a_sale_loses_no_order(
    client: TestClient[Any, Any], tokens: Tokens, settings: Settings, inspector: Inspector,
    tmp_path: Path,
) -> None:
    item = await create_item(client, tokens, stock=300)
    log_path = tmp_path / "order-writer.log"
    users = iter(range(10_000, 10_600))
    admitted: set[str] = set()

    async def wave(size: int) -> None:
        batch = [tokens.headers(next(users)) for _ in range(size)]
        for status, body in await asyncio.gather(*(attempt(client, item["id"], h)
                                                   for h in batch)):
            if status == 202:
                admitted.add(body["ticket"])

    async with writer_process(settings, log_path) as first:
        await wave(100)

        async def some_written() -> bool:
            return await inspector.order_count(item["id"]) > 0

        await eventually(some_written, within=30)
        selling = asyncio.create_task(wave(200))
        await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        await selling
        written_at_kill = await inspector.order_count(item["id"])
    assert first.returncode == -signal.SIGKILL
    assert written_at_kill < len(admitted)  # the crash left requests behind
    await wave(300)  # the sale goes on while no writer runs
    assert len(admitted) == 300

    async with writer_process(settings, log_path):
        async def all_final() -> bool:
            return set((await ticket_statuses(inspector, admitted)).values()) == {"success"}

        await eventually(all_final, within=40)
        assert await inspector.pending(item["id"]) == 0
    rows = await inspector.orders(item["id"])
    assert sorted(r.ticket for r in rows) == sorted(admitted)  # exactly one order each
    figures = await inspector.figures(item["id"])
    assert (figures.orders, figures.remaining, figures.pending, figures.drift) == (300, 0, 0, 0)


async def block_database(database_url: str) -> Callable[[], Awaitable[None]]:
    """No new connection to this PostgreSQL database, and its open ones cut; returns the
    function that lets connections in again."""
    url = make_url(database_url)
    name = url.database
    admin = await asyncpg.connect(url.set(drivername="postgresql", database="postgres")
                                  .render_as_string(hide_password=False))
    await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
    )

    async def unblock() -> None:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()

    return unblock


@asynccontextmanager
async def database_blocked(database_url: str) -> AsyncIterator[None]:
    unblock = await block_database(database_url)
    try:
        yield
    finally:
        await unblock()


async def test_unreachable_database_keeps_requests_pending_then_writes_them(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory,
    inspector: Inspector, db_backend: str, settings: Settings,
) -> None:
    if db_backend != "postgresql":
        pytest.skip("PostgreSQL only: it blocks the database (TEST_DATABASE_URL)")
    item = await create_item(client, tokens, stock=50)
    async with writer(order_writer_claim_idle_ms=200):
        _, body = await attempt(client, item["id"], tokens.headers(1))
        first = body["ticket"]

        async def first_written() -> bool:
            return (await ticket_statuses(inspector, {first}))[first] == "success"

        await eventually(first_written)
        async with database_blocked(settings.database_url):
            results = await asyncio.gather(*(attempt(client, item["id"], tokens.headers(u))
                                             for u in range(100, 120)))
            tickets = {body["ticket"] for status, body in results if status == 202}
            assert len(tickets) == 20
            dead = inspector.keys.dead_stream(item["id"] % inspector.keys.partitions)

            async def redelivered_past_the_limit() -> bool:
                stream = inspector.keys.orders_stream_of(item["id"])
                entries = await inspector.redis.xpending_range(
                    stream, "order-writer", "-", "+", 100)
                return len(entries) == 20 and min(e["times_delivered"] for e in entries) > 5

            await eventually(redelivered_past_the_limit, within=30)
            assert set((await ticket_statuses(inspector, tickets)).values()) == {"pending"}
            assert await inspector.redis.exists(dead) == 0

        async def all_written() -> bool:
            return set((await ticket_statuses(inspector, tickets)).values()) == {"success"}

        await eventually(all_written, within=30)
        assert await inspector.pending(item["id"]) == 0
    assert await inspector.order_count(item["id"]) == 21
    assert (await inspector.figures(item["id"])).drift == 0


async def test_a_request_that_fails_for_good_is_dead_lettered_with_its_unit_returned(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory, inspector: Inspector,
) -> None:
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from services.seckill.streams import SECKILL_EVENTS

    good = await create_item(client, tokens, stock=5)
    # An item in Redis that the database does not know: its orders break a foreign key.
    ghost = 999_001
    now = datetime.now(UTC)
    await inspector.store.load_item(LoadedItem(
        ghost, 1, Decimal("9.90"), 3, 3, now - timedelta(minutes=1), now + timedelta(hours=1)))
    _, poisoned = await attempt(client, ghost, tokens.headers(55))
    _, fine = await attempt(client, good["id"], tokens.headers(55))
    async with writer(order_writer_claim_idle_ms=150, order_writer_max_deliveries=3):
        async def dead_lettered() -> bool:
            ticket = await inspector.store.ticket(poisoned["ticket"])
            return ticket is not None and ticket.status == "failed"

        await eventually(dead_lettered, within=30)
        ok = await inspector.store.ticket(fine["ticket"])
        assert ok is not None and ok.status == "success"
    dead = inspector.keys.dead_stream(ghost % inspector.keys.partitions)
    [(_, entry)] = await inspector.redis.xrange(dead)
    assert b"IntegrityError" in entry[b"error"] or b"FOREIGN KEY" in entry[b"error"].upper()
    assert int(entry[b"deliveries"]) >= 3
    assert (await inspector.store.remaining([ghost]))[ghost] == 3  # the unit came back
    assert not await inspector.redis.sismember(inspector.keys.buyers(ghost), 55)
    assert await inspector.pending(ghost) == 0
    events = [e[1][b"__data__"] for e in await inspector.redis.xrange(SECKILL_EVENTS)]
    assert sum(b"order.created" in e for e in events) == 1


async def test_requests_left_by_a_dead_consumer_are_claimed(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=5)
    stream = inspector.keys.orders_stream_of(item["id"])
    await inspector.redis.xgroup_create(stream, "order-writer", id="0", mkstream=True)
    tickets = set()
    for user in (1, 2, 3):
        _, body = await attempt(client, item["id"], tokens.headers(user))
        tickets.add(body["ticket"])
    # Another host's writer read them, then died for good.
    await inspector.redis.xreadgroup("order-writer", "gone-host", {stream: ">"})
    assert await inspector.pending(item["id"]) == 3
    async with writer(order_writer_claim_idle_ms=200):
        async def claimed_and_written() -> bool:
            statuses = await ticket_statuses(inspector, tickets)
            return set(statuses.values()) == {"success"} and await inspector.pending(
                item["id"]) == 0

        await eventually(claimed_and_written, within=20)
    assert await inspector.order_count(item["id"]) == 3


async def test_a_writer_started_while_the_database_is_away_waits_for_it(
    client: TestClient[Any, Any], tokens: Tokens, inspector: Inspector, db_backend: str,
    settings: Settings, tmp_path: Path,
) -> None:
    if db_backend != "postgresql":
        pytest.skip("PostgreSQL only: it blocks the database (TEST_DATABASE_URL)")
    item = await create_item(client, tokens, stock=5)
    stream = inspector.keys.orders_stream_of(item["id"])
    await inspector.redis.xgroup_create(stream, "order-writer", id="0", mkstream=True)
    tickets = set()
    for user in (1, 2):
        _, body = await attempt(client, item["id"], tokens.headers(user))
        tickets.add(body["ticket"])
    # The same consumer name read them before it crashed: they are its own pending entries.
    await inspector.redis.xreadgroup("order-writer", "writer-under-test", {stream: ">"})
    unblock: Callable[[], Awaitable[None]] | None = await block_database(settings.database_url)
    try:
        async with writer_process(settings, tmp_path / "order-writer.log") as process:
            log_path = tmp_path / "order-writer.log"

            async def start_failed() -> bool:
                return "retrying" in log_path.read_text() or process.returncode is not None

            await eventually(start_failed, within=30)
            await asyncio.sleep(0.5)  # and it keeps trying instead of exiting
            assert process.returncode is None, log_path.read_text()
            assert set((await ticket_statuses(inspector, tickets)).values()) == {"pending"}
            assert unblock is not None
            await unblock()
            unblock = None

            async def written() -> bool:
                return set((await ticket_statuses(inspector, tickets)).values()) == {"success"}

            await eventually(written, within=20)
    finally:
        if unblock is not None:
            await unblock()


async def test_the_app_starts_while_the_database_is_away_and_runs_its_pending_commands_later(
    tokens: Tokens, writer: WriterFactory, inspector: Inspector, db_backend: str,
    settings: Settings,
) -> None:
    """The app's `seckill.commands` consumer finds its own pending command at start with the
    database away: admissions (Redis only) are served at once, the command runs once the
    database is back."""
    if db_backend != "postgresql":
        pytest.skip("PostgreSQL only: it blocks the database (TEST_DATABASE_URL)")
    async with TestClient(TestServer(create_app(settings))) as first:
        item = await create_item(first, tokens, stock=5)
        async with writer(seckill_pay_timeout_s=1):
            order = await order_of(first, tokens, await buy(first, tokens, item["id"], 51), 51)
    await asyncio.sleep(1.1)  # past pay_by
    await expire_command(inspector, order["id"])
    # The restarted app's consumer name read it before it crashed: its own pending entry.
    restarted = settings.model_copy(update={"consumer_name": "seckill-restarted"})
    assert await inspector.redis.xreadgroup(
        COMMANDS_GROUP, "seckill-restarted", {SECKILL_COMMANDS: ">"})
    unblock: Callable[[], Awaitable[None]] | None = await block_database(settings.database_url)
    try:
        async with TestClient(TestServer(create_app(restarted))) as app:
            status, _ = await attempt(app, item["id"], tokens.headers(52))
            assert status == 202
            pending = await inspector.redis.xpending(SECKILL_COMMANDS, COMMANDS_GROUP)
            assert pending["pending"] == 1
            assert unblock is not None
            await unblock()
            unblock = None

            async def expired() -> bool:
                response = await app.get(f"{BASE}/orders/{order['id']}",
                                         headers=tokens.headers(51))
                return response.status == 200 and (await response.json())["status"] == "expired"

            await eventually(expired, within=20)
            pending = await inspector.redis.xpending(SECKILL_COMMANDS, COMMANDS_GROUP)
            assert pending["pending"] == 0
    finally:
        if unblock is not None:
            await unblock()


async def test_the_app_starts_and_serves_with_a_poison_command_in_its_own_pending_list(
    tokens: Tokens, inspector: Inspector, settings: Settings,
) -> None:
    """An `order.expire` with invalid data (an admin can send one through the scheduler's
    `POST /delays`) crashed every start that read it. Now the app starts, serves admissions,
    dead-letters the command on its last delivery and handles its batch-mate."""
    redis = inspector.redis
    await redis.xgroup_create(SECKILL_COMMANDS, COMMANDS_GROUP, id="0", mkstream=True)
    await publish(redis, SECKILL_COMMANDS, Envelope(type="order.expire", producer="test",
                                                    data={"order_id": "not-a-number"}))
    await publish(redis, SECKILL_COMMANDS, Envelope(type="orders.sweep-expired",
                                                    producer="test", data={}))
    name = "seckill-crash-looping"
    await redis.xreadgroup(COMMANDS_GROUP, name, {SECKILL_COMMANDS: ">"})
    for _ in range(3):  # starts that crashed on it: the next read is its 5th delivery
        await redis.xreadgroup(COMMANDS_GROUP, name, {SECKILL_COMMANDS: "0"})
    restarted = settings.model_copy(update={"consumer_name": name})
    async with TestClient(TestServer(create_app(restarted))) as app:
        item = await create_item(app, tokens, stock=5)
        status, _ = await attempt(app, item["id"], tokens.headers(61))
        assert status == 202
        assert (await redis.xpending(SECKILL_COMMANDS, COMMANDS_GROUP))["pending"] == 0
    [(_, dead)] = await redis.xrange(f"{SECKILL_COMMANDS}.dead")
    assert decode_entry(dead).data == {"order_id": "not-a-number"}
    assert int(dead[b"deliveries"]) == 5
