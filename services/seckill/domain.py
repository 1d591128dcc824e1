"""Flash-sale rules, free of I/O: partitions, item state, refusals (the service's domain
errors), order statuses, the cap of open event streams."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from shared.errors import DomainError, NotFound, Unavailable


def partition_of(item_id: int, partitions: int) -> int:
    """Every key of one item's sale lives in partition N: one cluster slot per admission."""
    return item_id % partitions


def ticket_item_id(ticket: str) -> int:
    """Tickets are `<item_id>-<32 hex>`: the item (hence the partition) is in the ticket."""
    return int(ticket.partition("-")[0])


class ItemState(StrEnum):
    UPCOMING = "upcoming"
    LIVE = "live"
    SOLD_OUT = "sold_out"
    ENDED = "ended"


def item_state(
    now: datetime, starts_at: datetime, ends_at: datetime, remaining: int | None
) -> ItemState:
    if now < starts_at:
        return ItemState.UPCOMING
    if now >= ends_at:
        return ItemState.ENDED
    if remaining is not None and remaining <= 0:
        return ItemState.SOLD_OUT
    return ItemState.LIVE


class TicketStatus(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"


class OrderStatus(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    EXPIRED = "expired"


# Orders in these statuses hold a unit of stock; an expired order gave its unit back.
HOLDING = (OrderStatus.UNPAID, OrderStatus.PAID)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an admitted request got no order, and how its admission is undone (once per
    ticket, whatever path fails it)."""

    reason: str
    unit_back: bool  # the unit the admission took returns to Redis stock
    frees_buyer: bool  # the buyer leaves the buyers set and may try again


# The buyer holds another live order of the item: they stay a buyer; the unit was spare.
ALREADY_PURCHASED = Failure("already-purchased", unit_back=True, frees_buyer=False)
# The database already holds `stock` live orders: Redis had a unit it should not have had
# (it lost its last writes), so that unit is not given back to be sold again.
SOLD_OUT = Failure("sold-out", unit_back=False, frees_buyer=True)
# The request failed for good (dead letter): its unit and its buyer are free again.
ORDER_FAILED = Failure("order-failed", unit_back=True, frees_buyer=True)


class Refused(DomainError):
    """The admission script answered `outcome` instead of a ticket."""

    outcome: ClassVar[str]
    message: ClassVar[str]

    def __init__(self) -> None:
        super().__init__(self.message)


class UnknownItem(Refused, NotFound):
    outcome, message = "not-found", "No such seckill item."


class NotReady(Refused, Unavailable):
    """The item's partition lost its Redis state (fail closed until `warm`)."""

    outcome, message = "not-ready", "The item's stock is not loaded; try again shortly."


class NotStarted(Refused):
    outcome, message = "not-started", "The sale has not started yet."


class Ended(Refused):
    outcome, message = "ended", "The sale has ended."


class AlreadyPurchased(Refused):
    outcome, message = "already-purchased", "You already hold this item."


class SoldOut(Refused):
    outcome, message = "sold-out", "The item is sold out."


# What the admission script may answer instead of a ticket.
REFUSALS: dict[str, type[Refused]] = {
    cls.outcome: cls for cls in (UnknownItem, NotReady, NotStarted, Ended, AlreadyPurchased,
                                 SoldOut)
}

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class BadIdempotencyKey(DomainError):
    def __init__(self) -> None:
        super().__init__("Idempotency-Key must be 1-64 characters of A-Z a-z 0-9 . _ : -")


def idempotency_key(value: str | None) -> str | None:
    """An attempt's optional Idempotency-Key, checked before the attempt is timed."""
    if value is not None and not IDEMPOTENCY_KEY.match(value):
        raise BadIdempotencyKey()
    return value


class NotTheBuyer(DomainError):
    """Someone who may see an order (an admin) but did not buy it tries to pay it."""

    def __init__(self) -> None:
        super().__init__("Only the buyer pays an order.")


class OrderExpired(DomainError):
    def __init__(self) -> None:
        super().__init__("The order was not paid before its pay_by time.")


class DatabaseUnavailable(Exception):
    """The order repository cannot be reached (not a refusal: retrying later may work). The
    stream consumers count it transient: their entries wait in the pending list, never dead."""


@dataclass(frozen=True, slots=True)
class Admission:
    """The admission script's answer: a ticket, or the outcome that refused it."""

    outcome: str
    ticket: str | None = None

    @property
    def admitted(self) -> bool:
        return self.ticket is not None


@dataclass(frozen=True, slots=True)
class ItemFigures:
    """One item's stock equation: orders + remaining + pending requests must equal stock."""

    item_id: int
    stock: int
    orders: int
    remaining: int | None
    pending: int

    @property
    def drift(self) -> int:
        """Units missing (negative) or extra (positive) in Redis stock."""
        return (self.remaining or 0) + self.orders + self.pending - self.stock


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


class TooManyStreams(DomainError):
    """The user already holds as many open event streams as allowed."""


class OpenStreams:
    """The event streams each user holds open in this process, at most `per_user`;
    `retry_after_s`: when one of them has surely ended (the streams' timeout)."""

    def __init__(self, per_user: int, retry_after_s: int | None = None) -> None:
        self.per_user = per_user
        self.retry_after_s = retry_after_s
        self._open: Counter[int] = Counter()

    @contextlib.contextmanager
    def hold(self, user_id: int) -> Iterator[None]:
        """One of the user's slots for the duration of the block; TooManyStreams if none."""
        if self._open[user_id] >= self.per_user:
            raise TooManyStreams(
                f"At most {self.per_user} open event streams per user; close one, "
                "or read GET /tickets/{ticket}.", retry_after_s=self.retry_after_s)
        self._open[user_id] += 1
        try:
            yield
        finally:
            self._open[user_id] -= 1
            if not self._open[user_id]:
                del self._open[user_id]
