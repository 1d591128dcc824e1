"""The seckill handlers on in-memory fakes of their ports: no Redis, no database.

The order writer's paths (written, redelivered, refused for stock, already purchased, an
unreadable request, the database away, dead letters), reconcile, expiry and the admission's
refusals. The same paths against real Redis and databases: test_compensation.py,
test_orders.py, test_faults.py."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.seckill import handlers
from services.seckill.domain import (
    AlreadyPurchased,
    DatabaseUnavailable,
    Ended,
    NotStarted,
    NotTheBuyer,
    OrderExpired,
    SoldOut,
    UnknownItem,
)
from services.seckill.metrics import OrderWriterMetrics
from services.seckill.streams import SCHEDULER_REQUESTS, SECKILL_EVENTS
from shared.consumers import Delivery
from shared.errors import NotFound
from shared.events import Envelope
from tests.seckill.fakes import FakePublisher, FakeRepository, FakeSaleStore

NOW = datetime.now(UTC)


@dataclass
class Sale:
    """One item on fakes, as the app and the order writer see it."""

    repo: FakeRepository = field(default_factory=FakeRepository)
    store: FakeSaleStore = field(default_factory=FakeSaleStore)
    publisher: FakePublisher = field(default_factory=FakePublisher)
    metrics: OrderWriterMetrics = field(
        default_factory=lambda: OrderWriterMetrics(CollectorRegistry()))
    item_id: int = 0

    @classmethod
    async def open(cls, stock: int = 3, starts_in: timedelta = -timedelta(minutes=1)) -> Sale:
        sale = cls()
        item = await handlers.create_item(sale.repo, sale.store, {
            "course_id": 7, "title": "Python in a week", "price": Decimal("39.90"),
            "stock": stock, "starts_at": NOW + starts_in,
            "ends_at": NOW + starts_in + timedelta(hours=1)})
        sale.item_id = item.id
        return sale

    async def buy(self, user: int) -> str:
        return await handlers.attempt(self.store, self.item_id, user, "corr", None)

    def requests(self) -> list[Delivery]:
        """The stream's unacknowledged requests, delivered as the consumer hands them over."""
        return [delivery(r.ticket, r.item_id, r.user_id, n)
                for n, r in enumerate(self.store.requests) if not r.acked]

    async def write(self, batch: list[Delivery], pay_timeout_s: int = 900) -> None:
        await handlers.write_orders(batch, self.repo, self.store, self.publisher,
                                    pay_timeout_s, self.metrics)
        self.store.acknowledge(d.envelope.data["ticket"] for d in batch)

    async def dead(self, request: Delivery) -> bool:
        return await handlers.order_failed(request, "boom", self.repo, self.store,
                                           self.publisher, self.metrics)

    async def remaining(self) -> int | None:
        return (await self.store.remaining([self.item_id]))[self.item_id]

    async def status(self, ticket: str) -> tuple[str, str | None]:
        found = await self.store.ticket(ticket)
        assert found is not None
        return found.status, found.reason

    async def drift(self) -> int:
        [figures] = await handlers.reconcile(self.repo, self.store)
        return figures.drift


def delivery(ticket: str, item_id: int, user_id: int, n: int = 0,
             price: object = "39.90") -> Delivery:
    envelope = Envelope(type="order.requested", producer="seckill", correlation_id="corr",
                        data={"ticket": ticket, "item_id": item_id, "user_id": user_id,
                              "price": price})
    return Delivery(f"{1_700_000_000_000 + n}-0", envelope, {})


async def test_a_batch_becomes_orders_marked_tickets_and_events() -> None:
    sale = await Sale.open(stock=3)
    tickets = [await sale.buy(user) for user in (1, 2)]
    await sale.write(sale.requests())
    written = await sale.repo.orders_by_ticket(tickets)
    assert sorted(o.user_id for o in written.values()) == [1, 2]
    for ticket in tickets:
        found = await sale.store.ticket(ticket)
        assert found is not None and (found.status, found.order_id) == (
            "success", written[ticket].id)
    assert sale.publisher.types(SECKILL_EVENTS) == ["order.created"] * 2
    assert sale.publisher.types(SCHEDULER_REQUESTS) == ["delay.requested"] * 2  # the expiry
    assert (await sale.remaining(), await sale.drift()) == (1, 0)


async def test_a_redelivered_batch_writes_nothing_twice_and_repeats_its_event_ids() -> None:
    sale = await Sale.open()
    await sale.buy(1)
    batch = sale.requests()
    await sale.write(batch)
    first = [e.id for _, e in sale.publisher.published]
    sale.publisher.published.clear()
    await sale.write(batch)  # acknowledgement lost in a crash
    assert len(sale.repo.orders) == 1
    assert [e.id for _, e in sale.publisher.published] == first  # readers drop the repeats
    assert await sale.drift() == 0


async def test_a_unit_the_database_refuses_for_stock_fails_its_ticket_and_stays_sold() -> None:
    """Redis lost its last writes and sold a unit again: the database has the last word."""
    sale = await Sale.open(stock=1)
    await sale.store.adjust_remaining(sale.item_id, +1)  # Redis thinks 2 are left
    first, second = await sale.buy(1), await sale.buy(2)
    await sale.write(sale.requests())
    assert await sale.status(first) == ("success", None)
    assert await sale.status(second) == ("failed", "sold-out")
    assert await sale.remaining() == 0  # the phantom unit is not sold a third time
    assert 2 not in sale.store.buyers[sale.item_id]  # 2 may try another sale of it
    [rejected] = [e for s, e in sale.publisher.published if e.type == "order.rejected"]
    assert rejected.data == {"ticket": second, "item_id": sale.item_id, "user_id": 2,
                             "reason": "sold-out"}
    assert sale.metrics.orders.labels("rejected")._value.get() == 1


async def test_a_buyer_with_a_live_order_is_rejected_and_the_unit_goes_back() -> None:
    sale = await Sale.open(stock=3)
    await sale.buy(1)
    await sale.write(sale.requests())
    sale.store.buyers[sale.item_id].discard(1)  # Redis lost the buyer: admitted again
    again = await sale.buy(1)
    assert await sale.remaining() == 1
    await sale.write(sale.requests())
    assert await sale.status(again) == ("failed", "already-purchased")
    assert await sale.remaining() == 2
    assert 1 in sale.store.buyers[sale.item_id]  # still holds the first order
    assert len(sale.repo.orders) == 1 and await sale.drift() == 0


async def test_an_unreadable_request_fails_the_batch_and_dies_without_a_release() -> None:
    sale = await Sale.open(stock=3)
    bad = delivery(f"{sale.item_id + 1}-{'0' * 32}", sale.item_id, 5)  # names another item
    with pytest.raises(ValidationError):
        await sale.write([bad])
    assert not sale.repo.orders and not sale.publisher.published
    assert await sale.dead(bad) is True  # dead-lettered, nothing given back
    assert await sale.remaining() == 3 and sale.metrics.dead._value.get() == 1


async def test_a_database_away_leaves_the_batch_pending_untouched() -> None:
    sale = await Sale.open()
    ticket = await sale.buy(1)
    sale.repo.down = True
    with pytest.raises(DatabaseUnavailable):  # transient for the consumer: never dead
        await sale.write(sale.requests())
    assert await sale.status(ticket) == ("pending", None)
    assert not sale.publisher.published
    sale.repo.down = False
    await sale.write(sale.requests())
    assert await sale.status(ticket) == ("success", None)


async def test_a_dead_request_fails_its_ticket_and_returns_its_unit_once() -> None:
    sale = await Sale.open(stock=2)
    ticket = await sale.buy(1)
    [request] = sale.requests()
    assert await sale.dead(request) is True
    assert await sale.dead(request) is True  # a crash before the acknowledgement
    assert await sale.status(ticket) == ("failed", "order-failed")
    assert await sale.remaining() == 2 and 1 not in sale.store.buyers[sale.item_id]
    rejected = [e for _, e in sale.publisher.published if e.type == "order.rejected"]
    assert len(rejected) == 2 and len({e.id for e in rejected}) == 1
    sale.store.acknowledge([ticket])
    assert await sale.drift() == 0


async def test_a_dead_request_whose_order_was_written_is_only_marked() -> None:
    sale = await Sale.open()
    ticket = await sale.buy(1)
    [request] = sale.requests()
    await handlers.write_orders([request], sale.repo, sale.store, sale.publisher, 900,
                                sale.metrics)
    # The batch failed after its commit, before its tickets were marked (say).
    sale.store.tickets[ticket] = replace(sale.store.tickets[ticket], status="pending",
                                         order_id=None)
    assert await sale.dead(request) is False  # acknowledged, not dead-lettered
    [order] = sale.repo.orders.values()
    found = await sale.store.ticket(ticket)
    assert found is not None and (found.status, found.order_id) == ("success", order.id)
    assert await sale.remaining() == 2 and not sale.publisher.types(SECKILL_EVENTS)[1:]


async def test_reconcile_counts_pending_requests_and_fixes_a_drift_seen_twice() -> None:
    sale = await Sale.open(stock=5)
    for user in (1, 2, 3):
        await sale.buy(user)
    await sale.write(sale.requests()[:1])
    [figures] = await handlers.reconcile(sale.repo, sale.store)
    assert (figures.orders, figures.remaining, figures.pending, figures.drift) == (1, 2, 2, 0)
    await sale.store.adjust_remaining(sale.item_id, +3)  # a lost write counted twice
    [found] = await handlers.reconcile(sale.repo, sale.store, fix=True)
    assert found.drift == 3
    assert await sale.remaining() == 2 and await sale.drift() == 0


async def test_reconcile_of_an_item_missing_from_redis_fixes_nothing() -> None:
    sale = await Sale.open(stock=2)
    del sale.store.items[sale.item_id]
    [figures] = await handlers.reconcile(sale.repo, sale.store, fix=True)
    assert (figures.remaining, figures.drift) == (None, -2)
    assert not await sale.store.is_loaded(sale.item_id)  # `warm` loads it, not reconcile


async def test_warm_loads_stock_minus_holders_once() -> None:
    sale = await Sale.open(stock=3)
    await sale.buy(1)
    await sale.write(sale.requests())
    sale.store.items.clear()  # Redis lost everything
    assert await handlers.warm(sale.repo, sale.store) == [
        f"item {sale.item_id}: loaded, remaining 2 of 3"]
    assert await handlers.warm(sale.repo, sale.store) == [f"item {sale.item_id}: already loaded"]
    with pytest.raises(AlreadyPurchased):
        await sale.buy(1)


async def test_refusals_are_domain_errors() -> None:
    sale = await Sale.open(stock=1)
    await sale.buy(1)
    with pytest.raises(AlreadyPurchased):
        await sale.buy(1)
    with pytest.raises(SoldOut):
        await sale.buy(2)
    with pytest.raises(UnknownItem) as unknown:
        await handlers.attempt(sale.store, 999, 1, "corr", None)
    assert isinstance(unknown.value, NotFound)  # answered 404 by the shared table
    upcoming = await Sale.open(starts_in=timedelta(hours=1))
    with pytest.raises(NotStarted):
        await upcoming.buy(1)
    over = await Sale.open(starts_in=-timedelta(hours=2))
    with pytest.raises(Ended):
        await over.buy(1)


async def test_an_expired_order_returns_its_unit_once_and_cannot_be_paid() -> None:
    sale = await Sale.open(stock=2)
    await sale.buy(1)
    await sale.write(sale.requests(), pay_timeout_s=0)
    [order] = sale.repo.orders.values()
    with pytest.raises(NotTheBuyer):
        await handlers.pay_order(sale.repo, sale.store, sale.publisher, order.id, 2, True)
    with pytest.raises(NotFound):
        await handlers.pay_order(sale.repo, sale.store, sale.publisher, order.id, 2, False)
    with pytest.raises(OrderExpired):  # expired on the spot
        await handlers.pay_order(sale.repo, sale.store, sale.publisher, order.id, 1, False)
    assert await handlers.sweep_expired(sale.repo, sale.store, sale.publisher) == 0
    await handlers.expire(sale.repo, sale.store, sale.publisher, order.id)  # the late command
    assert sale.publisher.types(SECKILL_EVENTS).count("order.expired") == 1
    assert await sale.remaining() == 2 and 1 not in sale.store.buyers[sale.item_id]
    assert await sale.drift() == 0


async def test_payment_before_pay_by_is_idempotent() -> None:
    sale = await Sale.open()
    await sale.buy(1)
    await sale.write(sale.requests())
    [order] = sale.repo.orders.values()
    for _ in range(2):
        paid = await handlers.pay_order(sale.repo, sale.store, sale.publisher, order.id, 1,
                                        False)
        assert paid.status == "paid"
    assert sale.publisher.types(SECKILL_EVENTS).count("order.paid") == 1
    assert replace(paid, status="unpaid", paid_at=None) == order
