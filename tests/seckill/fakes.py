"""In-memory fakes of the seckill ports (`services/seckill/ports.py`), for the unit tier.

They keep the adapters' rules (checked against the real ones in test_port_contracts.py):
the admission's order of checks, each admission undone at most once per ticket, the
database's last word on stock, one live order per buyer and item.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.seckill.domain import HOLDING, Admission, DatabaseUnavailable, Failure, OrderStatus
from services.seckill.ports import (
    ItemRow,
    LoadedItem,
    NewOrder,
    OrderRow,
    Ticket,
    TicketMark,
    Written,
)
from shared.events import Envelope


@dataclass
class Request:
    """An `order.requested` entry on the item's stream, until the writer acknowledges it."""

    item_id: int
    user_id: int
    ticket: str
    acked: bool = False


@dataclass
class FakeSaleStore:
    items: dict[int, LoadedItem] = field(default_factory=dict)
    buyers: dict[int, set[int]] = field(default_factory=dict)
    released: dict[int, set[str]] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    known: set[int] = field(default_factory=set)  # items loaded once (not-ready vs not-found)
    idempotency: dict[tuple[int, int, str], str] = field(default_factory=dict)

    async def load_item(
        self, item: LoadedItem, buyers: Iterable[int] = (), released: Iterable[str] = ()
    ) -> None:
        self.items[item.id] = item
        self.buyers[item.id], self.released[item.id] = set(buyers), set(released)
        self.known.add(item.id)

    async def set_window(self, item_id: int, starts_at: datetime, ends_at: datetime) -> bool:
        if item_id not in self.items:
            return False
        self.items[item_id] = dataclasses.replace(
            self.items[item_id], starts_at=starts_at, ends_at=ends_at)
        return True

    async def is_loaded(self, item_id: int) -> bool:
        return item_id in self.items

    async def admit(
        self, item_id: int, user_id: int, ticket: str, event_id: str,
        correlation_id: str, idempotency_key: str | None = None,
    ) -> Admission:
        if idempotency_key and (item_id, user_id, idempotency_key) in self.idempotency:
            return Admission("admitted", self.idempotency[item_id, user_id, idempotency_key])
        item, now = self.items.get(item_id), datetime.now(UTC)
        if item is None:
            return Admission("not-ready" if not self.known or item_id in self.known
                             else "not-found")
        if now < item.starts_at:
            return Admission("not-started")
        if now >= item.ends_at:
            return Admission("ended")
        if user_id in self.buyers[item_id]:
            return Admission("already-purchased")
        if item.remaining <= 0:
            return Admission("sold-out")
        await self.adjust_remaining(item_id, -1)
        self.buyers[item_id].add(user_id)
        self.tickets[ticket] = Ticket(ticket, "pending", user_id, item_id, None, None)
        if idempotency_key:
            self.idempotency[item_id, user_id, idempotency_key] = ticket
        self.requests.append(Request(item_id, user_id, ticket))
        return Admission("admitted", ticket)

    async def remaining(self, item_ids: Sequence[int]) -> dict[int, int | None]:
        return {i: self.items[i].remaining if i in self.items else None for i in item_ids}

    async def ticket(self, ticket: str) -> Ticket | None:
        return self.tickets.get(ticket)

    async def mark_tickets(self, marks: Sequence[TicketMark]) -> None:
        for mark in marks:
            self._set_ticket(mark.ticket, mark.status.value, mark.order_id, mark.reason)

    async def release(self, item_id: int, ticket: str, buyer: int) -> bool:
        return self._undo(item_id, ticket, buyer, unit_back=True)

    async def fail(self, item_id: int, ticket: str, user_id: int, failure: Failure) -> bool:
        return self._undo(item_id, ticket, user_id if failure.frees_buyer else None,
                          unit_back=failure.unit_back, reason=failure.reason)

    def _undo(self, item_id: int, ticket: str, buyer: int | None, unit_back: bool,
              reason: str | None = None) -> bool:
        released = self.released.setdefault(item_id, set())
        if ticket in released:
            return False
        released.add(ticket)
        if unit_back and item_id in self.items:
            self.items[item_id] = dataclasses.replace(
                self.items[item_id], remaining=self.items[item_id].remaining + 1)
        if buyer is not None:
            self.buyers.get(item_id, set()).discard(buyer)
        if reason:
            self._set_ticket(ticket, "failed", None, reason)
        return True

    def _set_ticket(self, ticket: str, status: str, order_id: int | None,
                    reason: str | None) -> None:
        if ticket in self.tickets:
            self.tickets[ticket] = dataclasses.replace(
                self.tickets[ticket], status=status, order_id=order_id, reason=reason)

    async def readmit(self, dead_stream: str, entry_id: str, data: bytes, user_id: int,
                      item_id: int, ticket: str) -> str:
        raise NotImplementedError("dead letters are tested on real Redis (test_cli.py)")

    async def snapshot(self, item_id: int) -> tuple[int | None, list[str]]:
        released = self.released.get(item_id, set())
        return (await self.remaining([item_id]))[item_id], [
            r.ticket for r in self.requests
            if r.item_id == item_id and not r.acked and r.ticket not in released]

    async def adjust_remaining(self, item_id: int, delta: int) -> int:
        item = self.items[item_id]
        self.items[item_id] = dataclasses.replace(item, remaining=item.remaining + delta)
        return item.remaining + delta

    # What the order writer's consumer does around the store (not part of the port)

    def acknowledge(self, tickets: Iterable[str]) -> None:
        done = set(tickets)
        for request in self.requests:
            request.acked = request.acked or request.ticket in done


@dataclass
class FakeRepository:
    items: dict[int, ItemRow] = field(default_factory=dict)
    orders: dict[int, OrderRow] = field(default_factory=dict)
    down: bool = False  # the database out of reach: every call raises DatabaseUnavailable
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def _reach(self) -> None:
        if self.down:
            raise DatabaseUnavailable("connection refused")

    async def create_item(self, values: dict[str, Any]) -> ItemRow:
        self._reach()
        item = ItemRow(id=max(self.items, default=0) + 1, **values)
        self.items[item.id] = item
        return item

    async def item(self, item_id: int) -> ItemRow | None:
        self._reach()
        return self.items.get(item_id)

    async def items_page(self, offset: int, limit: int) -> tuple[int, list[ItemRow]]:
        self._reach()
        rows = sorted(self.items.values(), key=lambda i: (i.starts_at, i.id), reverse=True)
        return len(rows), rows[offset:offset + limit]

    async def set_window(self, item_id: int, starts_at: datetime, ends_at: datetime) -> ItemRow:
        self._reach()
        self.items[item_id] = dataclasses.replace(
            self.items[item_id], starts_at=starts_at, ends_at=ends_at)
        return self.items[item_id]

    async def all_items(self) -> list[ItemRow]:
        self._reach()
        return [self.items[i] for i in sorted(self.items)]

    async def insert_orders(self, new: Sequence[NewOrder], pay_timeout_s: int) -> Written:
        self._reach()
        now = datetime.now(UTC)
        inserted: list[OrderRow] = []
        for o in new:
            if self._by_ticket(o.ticket) or any(
                    (r.item_id, r.user_id) == (o.item_id, o.user_id)
                    and r.status != OrderStatus.EXPIRED for r in self.orders.values()):
                continue  # ON CONFLICT DO NOTHING: the ticket, or a live order of the buyer
            row = OrderRow(next(self._ids), o.item_id, o.user_id, o.ticket, o.price,
                           OrderStatus.UNPAID.value, now, now + timedelta(seconds=pay_timeout_s),
                           None)
            self.orders[row.id] = row
            inserted.append(row)
        sold_out: list[str] = []
        for item_id in {r.item_id for r in inserted}:
            held = sum(r.item_id == item_id and r.status in HOLDING for r in self.orders.values())
            excess = held - self.items[item_id].stock
            fresh = [r for r in inserted if r.item_id == item_id]
            for row in fresh[max(0, len(fresh) - excess):] if excess > 0 else []:
                del self.orders[row.id]
                sold_out.append(row.ticket)
        return Written(await self.orders_by_ticket([o.ticket for o in new]), frozenset(sold_out))

    def _by_ticket(self, ticket: str) -> OrderRow | None:
        return next((r for r in self.orders.values() if r.ticket == ticket), None)

    async def order(self, order_id: int) -> OrderRow | None:
        self._reach()
        return self.orders.get(order_id)

    async def orders_page(
        self, offset: int, limit: int, user_id: int | None
    ) -> tuple[int, list[OrderRow]]:
        self._reach()
        rows = [r for r in sorted(self.orders.values(), key=lambda r: -r.id)
                if user_id is None or r.user_id == user_id]
        return len(rows), rows[offset:offset + limit]

    async def pay(self, order_id: int) -> tuple[OrderRow | None, bool]:
        self._reach()
        now, order = datetime.now(UTC), self.orders.get(order_id)
        if order is None or order.status != OrderStatus.UNPAID or order.pay_by <= now:
            return order, False
        self.orders[order_id] = dataclasses.replace(order, status="paid", paid_at=now)
        return self.orders[order_id], True

    async def expire(self, order_id: int) -> tuple[OrderRow | None, bool]:
        self._reach()
        order = self.orders.get(order_id)
        if order is None or order.status != OrderStatus.UNPAID or (
                order.pay_by > datetime.now(UTC)):
            return order, False
        self.orders[order_id] = dataclasses.replace(order, status="expired")
        return self.orders[order_id], True

    async def overdue_unpaid(self, limit: int) -> list[int]:
        self._reach()
        now = datetime.now(UTC)
        due = sorted((r for r in self.orders.values()
                      if r.status == OrderStatus.UNPAID and r.pay_by <= now),
                     key=lambda r: r.pay_by)
        return [r.id for r in due[:limit]]

    async def holding(self, item_id: int) -> tuple[list[int], list[str]]:
        self._reach()
        rows = [r for r in self.orders.values() if r.item_id == item_id]
        return ([r.user_id for r in rows if r.status in HOLDING],
                [r.ticket for r in rows if r.status == OrderStatus.EXPIRED])

    async def orders_by_ticket(self, tickets: Sequence[str]) -> dict[str, OrderRow]:
        self._reach()
        return {r.ticket: r for r in self.orders.values() if r.ticket in set(tickets)}


@dataclass
class FakePublisher:
    published: list[tuple[str, Envelope]] = field(default_factory=list)

    async def publish_many(self, entries: Sequence[tuple[str, Envelope]]) -> None:
        self.published.extend(entries)

    def types(self, stream: str) -> list[str]:
        return [e.type for s, e in self.published if s == stream]
