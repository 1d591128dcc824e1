"""One behaviour for the fakes and the adapters: each class runs against the in-memory fake
(tests/seckill/fakes.py) and against the real adapter from `bootstrap` (the embedded Redis, a
migrated SQLite database). What only real Redis can show (pending lists, claims, crashes) is
tested elsewhere, on real Redis only."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.seckill.bootstrap import Runtime, bootstrap
from services.seckill.domain import ORDER_FAILED, SOLD_OUT, DatabaseUnavailable, TicketStatus
from services.seckill.ports import LoadedItem, NewOrder, OrderRepository, SaleStore, TicketMark
from services.seckill.settings import Settings
from shared.redis import make_redis
from tests.seckill.fakes import FakeRepository, FakeSaleStore

NOW = datetime.now(UTC)
KINDS = ["fake", pytest.param("real", marks=pytest.mark.integration)]


@pytest.fixture
async def real_runtime(
    embedded_redis: Any, database_factory: Any, tmp_path: Path
) -> AsyncIterator[Runtime]:
    client = make_redis(embedded_redis.url)
    await client.flushdb()
    await client.aclose()
    settings = Settings(env="test", var_dir=tmp_path, redis_url=embedded_redis.url,
                        database_url=str(await database_factory.new("seckill", "sqlite")),
                        consumer_name=f"test-{time.monotonic_ns()}")
    async with bootstrap(settings) as runtime:
        yield runtime


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest) -> SaleStore:
    if request.param == "fake":
        return FakeSaleStore()
    runtime: Runtime = request.getfixturevalue("real_runtime")
    return runtime.store


@pytest.fixture(params=KINDS)
def repo(request: pytest.FixtureRequest) -> OrderRepository:
    if request.param == "fake":
        return FakeRepository()
    runtime: Runtime = request.getfixturevalue("real_runtime")
    return runtime.repo


def loaded(item_id: int = 5, stock: int = 2, remaining: int | None = None,
           starts_in: timedelta = -timedelta(minutes=1)) -> LoadedItem:
    return LoadedItem(item_id, 7, Decimal("9.90"), stock,
                      stock if remaining is None else remaining, NOW + starts_in,
                      NOW + starts_in + timedelta(hours=1))


def ticket_of(item_id: int, n: int) -> str:
    return f"{item_id}-{n:032x}"


class TestSaleStore:
    async def admit(self, store: SaleStore, user: int, n: int, item_id: int = 5,
                    key: str | None = None) -> tuple[str, str | None]:
        admission = await store.admit(item_id, user, ticket_of(item_id, n), f"e{n}", "corr",
                                      key)
        return admission.outcome, admission.ticket

    async def test_admission_checks_window_then_buyer_then_stock(self, store: SaleStore) -> None:
        assert (await self.admit(store, 1, 1))[0] == "not-ready"  # nothing loaded: fail closed
        await store.load_item(loaded(stock=1))
        assert (await self.admit(store, 1, 2, item_id=9))[0] == "not-found"
        assert await self.admit(store, 1, 3) == ("admitted", ticket_of(5, 3))
        assert (await self.admit(store, 1, 4))[0] == "already-purchased"
        assert (await self.admit(store, 2, 5))[0] == "sold-out"
        assert (await store.remaining([5, 9])) == {5: 0, 9: None}
        await store.load_item(loaded(item_id=6, starts_in=timedelta(hours=1)))
        assert (await self.admit(store, 1, 6, item_id=6))[0] == "not-started"
        assert await store.set_window(6, NOW - timedelta(hours=2), NOW - timedelta(hours=1))
        assert (await self.admit(store, 1, 7, item_id=6))[0] == "ended"
        assert not await store.set_window(9, NOW, NOW + timedelta(hours=1))
        assert await store.is_loaded(6) and not await store.is_loaded(9)

    async def test_an_idempotency_key_gives_the_first_ticket_again(self, store: SaleStore) -> None:
        await store.load_item(loaded(stock=3))
        first = await self.admit(store, 1, 1, key="k1")
        assert await self.admit(store, 1, 2, key="k1") == first
        assert (await store.remaining([5]))[5] == 2

    async def test_tickets_are_pending_then_marked(self, store: SaleStore) -> None:
        await store.load_item(loaded())
        _, ticket = await self.admit(store, 1, 1)
        assert ticket is not None
        found = await store.ticket(ticket)
        assert found is not None and found.public() == {
            "ticket": ticket, "status": "pending", "order_id": None, "reason": None}
        assert (found.user_id, found.item_id, found.final) == (1, 5, False)
        await store.mark_tickets([TicketMark(ticket, TicketStatus.SUCCESS, order_id=12)])
        found = await store.ticket(ticket)
        assert found is not None and (found.status, found.order_id, found.final) == (
            "success", 12, True)
        assert await store.ticket(ticket_of(5, 99)) is None

    async def test_an_admission_is_undone_once_as_its_failure_says(self, store: SaleStore) -> None:
        await store.load_item(loaded(stock=3))
        _, sold = await self.admit(store, 1, 1)
        _, failed = await self.admit(store, 2, 2)
        assert sold is not None and failed is not None
        assert await store.fail(5, sold, 1, SOLD_OUT)  # no unit back, buyer free
        assert not await store.fail(5, sold, 1, SOLD_OUT)
        assert (await store.remaining([5]))[5] == 1
        assert (await self.admit(store, 1, 3))[0] == "admitted"  # 1 may buy again
        assert await store.fail(5, failed, 2, ORDER_FAILED)  # unit back, buyer free
        assert not await store.release(5, failed, 2)  # undone already: nothing twice
        assert (await store.remaining([5]))[5] == 1
        found = await store.ticket(failed)
        assert found is not None and (found.status, found.reason) == ("failed", "order-failed")

    async def test_snapshot_lists_requests_not_undone(self, store: SaleStore) -> None:
        await store.load_item(loaded(stock=3))
        tickets = [(await self.admit(store, user, user))[1] for user in (1, 2)]
        assert await store.snapshot(5) == (1, tickets)
        assert tickets[0] is not None
        await store.release(5, tickets[0], 1)
        assert await store.snapshot(5) == (2, tickets[1:])
        assert await store.adjust_remaining(5, -2) == 0
        assert await store.snapshot(77) == (None, [])

    async def test_loading_again_rewrites_stock_buyers_and_released(
        self, store: SaleStore
    ) -> None:
        await store.load_item(loaded(stock=3))
        await self.admit(store, 1, 1)
        await store.load_item(loaded(stock=3, remaining=1), buyers=[2, 3],
                              released=[ticket_of(5, 1)])
        assert (await self.admit(store, 2, 2))[0] == "already-purchased"
        assert (await self.admit(store, 1, 3))[0] == "admitted"
        assert not await store.release(5, ticket_of(5, 1), 1)
        assert (await store.remaining([5]))[5] == 0


class TestOrderRepository:
    async def item(self, repo: OrderRepository, stock: int = 2) -> int:
        item = await repo.create_item({
            "course_id": 7, "title": "t", "price": Decimal("9.90"), "stock": stock,
            "starts_at": NOW, "ends_at": NOW + timedelta(hours=1)})
        assert await repo.item(item.id) == item and await repo.all_items() == [item]
        return item.id

    def new(self, item_id: int, user: int, n: int) -> NewOrder:
        return NewOrder(item_id, user, ticket_of(item_id, n), Decimal("9.90"))

    async def test_a_batch_skips_what_exists_and_refuses_beyond_stock(
        self, repo: OrderRepository
    ) -> None:
        item_id = await self.item(repo, stock=2)
        first = await repo.insert_orders([self.new(item_id, 1, 1)], 900)
        order = first.orders[ticket_of(item_id, 1)]
        assert (order.user_id, order.status, first.sold_out) == (1, "unpaid", frozenset())
        assert abs(order.pay_by - order.created_at - timedelta(seconds=900)) < timedelta(
            milliseconds=1)
        again = await repo.insert_orders(
            [self.new(item_id, 1, 1), self.new(item_id, 1, 2), self.new(item_id, 2, 3),
             self.new(item_id, 3, 4)], 900)
        assert again.orders[ticket_of(item_id, 1)] == order  # a redelivery finds its order
        assert ticket_of(item_id, 2) not in again.orders  # 1 holds a live order already
        assert set(again.orders) == {ticket_of(item_id, 1), ticket_of(item_id, 3)}
        assert again.sold_out == {ticket_of(item_id, 4)}  # the last one past the stock
        assert sorted((await repo.holding(item_id))[0]) == [1, 2]
        found = await repo.orders_by_ticket([ticket_of(item_id, n) for n in (1, 2, 3, 4)])
        assert set(found) == {ticket_of(item_id, 1), ticket_of(item_id, 3)}

    async def test_expiry_and_payment_change_an_order_once(self, repo: OrderRepository) -> None:
        item_id = await self.item(repo)
        written = await repo.insert_orders([self.new(item_id, 1, 1), self.new(item_id, 2, 2)], 0)
        late, due = written.orders[ticket_of(item_id, 1)], written.orders[ticket_of(item_id, 2)]
        assert sorted(await repo.overdue_unpaid(10)) == sorted([late.id, due.id])
        paid, changed = await repo.pay(late.id)
        assert paid is not None and (paid.status, changed) == ("unpaid", False)  # too late
        expired, changed = await repo.expire(late.id)
        assert expired is not None and (expired.status, changed) == ("expired", True)
        assert (await repo.expire(late.id))[1] is False
        assert await repo.holding(item_id) == ([2], [ticket_of(item_id, 1)])
        retry = await repo.insert_orders([self.new(item_id, 1, 3)], 900)  # 1 buys again
        fresh = retry.orders[ticket_of(item_id, 3)]
        paid, changed = await repo.pay(fresh.id)
        assert paid is not None and (paid.status, changed) == ("paid", True)
        assert paid.paid_at is not None
        assert (await repo.pay(fresh.id))[1] is False
        assert await repo.overdue_unpaid(10) == [due.id]
        count, mine = await repo.orders_page(0, 10, 1)
        assert count == 2 and [o.id for o in mine] == [fresh.id, late.id]
        assert (await repo.orders_page(0, 1, None))[0] == 3
        assert await repo.order(10_000) is None


@pytest.fixture(params=KINDS)
async def unreachable_repo(request: pytest.FixtureRequest) -> AsyncIterator[OrderRepository]:
    """A repository whose database refuses connections: PostgreSQL on a port nobody listens
    on. (Not an unopenable SQLite file: aiosqlite answers a failed connect from its thread
    after the test's event loop may have closed, an unhandled thread exception.)"""
    if request.param == "fake":
        yield FakeRepository(down=True)
        return
    from sqlalchemy.ext.asyncio import create_async_engine

    from services.seckill.adapters.repository import Repository

    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_async_engine(f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none")
    yield Repository(engine)
    await engine.dispose()


async def test_a_database_out_of_reach_is_database_unavailable(
    unreachable_repo: OrderRepository,
) -> None:
    """What the consumers count transient (the entry waits, never dead)."""
    with pytest.raises(DatabaseUnavailable):
        await unreachable_repo.insert_orders([NewOrder(1, 1, ticket_of(1, 1), Decimal(1))], 9)
    with pytest.raises(DatabaseUnavailable):
        await unreachable_repo.orders_by_ticket([ticket_of(1, 1)])
