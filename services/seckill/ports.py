"""What the seckill handlers need, as protocols, and the records that cross them.

The adapters (`adapters/sale_store.py` on Redis, `adapters/repository.py` on SQLAlchemy,
`adapters/event_log.py` on Redis Streams) implement these; the unit tests use in-memory fakes
(`tests/seckill/fakes.py`), and `tests/seckill/test_port_contracts.py` holds both to one
behaviour. A repository method that cannot reach its database raises
`domain.DatabaseUnavailable`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Protocol

from pydantic import Field
from typing_extensions import TypedDict

from services.seckill.domain import Admission, Failure, TicketStatus
from shared.events import Envelope

# Sale state (Redis)


@dataclass(frozen=True, slots=True)
class LoadedItem:
    """What admission needs of an item, as loaded into its Redis hash."""

    id: int
    course_id: int
    price: Decimal
    stock: int
    remaining: int
    starts_at: datetime
    ends_at: datetime


class TicketData(TypedDict):
    """A ticket as the API shows it (`GET /tickets/{ticket}`, its events): `order_id` once
    the order writer has written the order."""

    ticket: str
    status: Annotated[str, Field(json_schema_extra={"enum": [s.value for s in TicketStatus]})]
    order_id: int | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket: str
    status: str
    user_id: int
    item_id: int
    order_id: int | None
    reason: str | None

    @property
    def final(self) -> bool:
        return self.status != TicketStatus.PENDING

    def public(self) -> TicketData:
        return {"ticket": self.ticket, "status": self.status, "order_id": self.order_id,
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class TicketMark:
    """A final status for one ticket, set by the order writer."""

    ticket: str
    status: TicketStatus
    order_id: int | None = None
    reason: str | None = None


class SaleStore(Protocol):
    """Stock, buyers and tickets of the sales, changed only by atomic steps."""

    async def load_item(
        self, item: LoadedItem, buyers: Iterable[int] = (), released: Iterable[str] = ()
    ) -> None: ...
    async def set_window(self, item_id: int, starts_at: datetime, ends_at: datetime) -> bool: ...
    async def is_loaded(self, item_id: int) -> bool: ...
    async def admit(
        self, item_id: int, user_id: int, ticket: str, event_id: str,
        correlation_id: str, idempotency_key: str | None = None,
    ) -> Admission: ...
    async def remaining(self, item_ids: Sequence[int]) -> dict[int, int | None]: ...
    async def ticket(self, ticket: str) -> Ticket | None: ...
    async def mark_tickets(self, marks: Sequence[TicketMark]) -> None: ...
    async def release(self, item_id: int, ticket: str, buyer: int) -> bool: ...
    async def fail(self, item_id: int, ticket: str, user_id: int, failure: Failure) -> bool: ...
    async def readmit(self, dead_stream: str, entry_id: str, data: bytes, user_id: int,
                      item_id: int, ticket: str) -> str: ...
    async def snapshot(self, item_id: int) -> tuple[int | None, list[str]]: ...
    async def adjust_remaining(self, item_id: int, delta: int) -> int: ...


# Items and orders (the database)


@dataclass(frozen=True, slots=True)
class ItemRow:
    id: int
    course_id: int
    title: str
    price: Decimal
    stock: int
    starts_at: datetime
    ends_at: datetime


class OrderData(TypedDict):
    """An order as the API shows it (`handlers.order_data`)."""

    id: int
    item_id: int
    user_id: int
    ticket: str
    price: str
    status: Annotated[str, Field(json_schema_extra={"enum": ["unpaid", "paid", "expired"]})]
    created_at: str
    pay_by: str
    paid_at: str | None


@dataclass(frozen=True, slots=True)
class OrderRow:
    id: int
    item_id: int
    user_id: int
    ticket: str
    price: Decimal
    status: str
    created_at: datetime
    pay_by: datetime
    paid_at: datetime | None


@dataclass(frozen=True, slots=True)
class Written:
    """What a batch insert found: the orders of its tickets and the tickets refused for
    stock."""

    orders: dict[str, OrderRow]
    sold_out: frozenset[str]


@dataclass(frozen=True, slots=True)
class NewOrder:
    item_id: int
    user_id: int
    ticket: str
    price: Decimal


class OrderRepository(Protocol):
    async def create_item(self, values: dict[str, Any]) -> ItemRow: ...
    async def item(self, item_id: int) -> ItemRow | None: ...
    async def items_page(self, offset: int, limit: int) -> tuple[int, list[ItemRow]]: ...
    async def set_window(self, item_id: int, starts_at: datetime,
                         ends_at: datetime) -> ItemRow: ...
    async def all_items(self) -> list[ItemRow]: ...
    async def insert_orders(self, new: Sequence[NewOrder], pay_timeout_s: int) -> Written:
        """One transaction: existing orders (same ticket, or a live one of the same buyer
        and item) are skipped, rows beyond the item's stock refused (`Written.sold_out`)."""
        ...
    async def order(self, order_id: int) -> OrderRow | None: ...
    async def orders_page(self, offset: int, limit: int,
                          user_id: int | None) -> tuple[int, list[OrderRow]]: ...
    async def pay(self, order_id: int) -> tuple[OrderRow | None, bool]: ...
    async def expire(self, order_id: int) -> tuple[OrderRow | None, bool]: ...
    async def overdue_unpaid(self, limit: int) -> list[int]: ...
    async def holding(self, item_id: int) -> tuple[list[int], list[str]]: ...
    async def orders_by_ticket(self, tickets: Sequence[str]) -> dict[str, OrderRow]: ...


# Events out


class Publisher(Protocol):
    async def publish_many(self, entries: Sequence[tuple[str, Envelope]]) -> None:
        """Append each envelope to its stream (one round trip; none when empty)."""
        ...
