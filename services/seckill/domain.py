"""Flash-sale rules, free of I/O: partitions, item state, refusals, order statuses, the cap
of open event streams."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


def partition_of(item_id: int, partitions: int) -> int:
    """Every key of one item's sale lives in partition N: one cluster slot per admission."""
    return item_id % partitions


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


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    slug: str
    detail: str


# What the admission script may answer instead of a ticket, and how each is told to a client.
REFUSALS: dict[str, Refusal] = {
    "not-found": Refusal(404, "not-found", "No such seckill item."),
    "not-ready": Refusal(503, "not-ready", "The item's stock is not loaded; try again shortly."),
    "not-started": Refusal(409, "not-started", "The sale has not started yet."),
    "ended": Refusal(409, "ended", "The sale has ended."),
    "already-purchased": Refusal(409, "already-purchased", "You already hold this item."),
    "sold-out": Refusal(409, "sold-out", "The item is sold out."),
}


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


class TooManyStreams(Exception):
    """The user already holds as many open event streams as allowed."""


class OpenStreams:
    """The event streams each user holds open in this process, at most `per_user`."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._open: Counter[int] = Counter()

    @contextlib.contextmanager
    def hold(self, user_id: int) -> Iterator[None]:
        """One of the user's slots for the duration of the block; TooManyStreams if none."""
        if self._open[user_id] >= self.per_user:
            raise TooManyStreams(user_id)
        self._open[user_id] += 1
        try:
            yield
        finally:
            self._open[user_id] -= 1
            if not self._open[user_id]:
                del self._open[user_id]
