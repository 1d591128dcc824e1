"""Unit tests of the sale's rules (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.crc import key_slot

from services.seckill.adapters.keys import Keys, ticket_item_id
from services.seckill.domain import ItemFigures, ItemState, item_state, partition_of
from services.seckill.handlers import new_ticket

NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_item_state_follows_the_window_then_the_stock() -> None:
    assert item_state(NOW, NOW + HOUR, NOW + 2 * HOUR, 5) is ItemState.UPCOMING
    assert item_state(NOW, NOW - HOUR, NOW + HOUR, 5) is ItemState.LIVE
    assert item_state(NOW, NOW - HOUR, NOW + HOUR, 0) is ItemState.SOLD_OUT
    assert item_state(NOW, NOW - 2 * HOUR, NOW, 5) is ItemState.ENDED  # end is exclusive
    assert item_state(NOW, NOW - 2 * HOUR, NOW - HOUR, 0) is ItemState.ENDED
    assert item_state(NOW, NOW - HOUR, NOW + HOUR, None) is ItemState.LIVE  # not loaded


def test_drift_is_what_redis_stock_has_too_much_or_too_little() -> None:
    assert ItemFigures(1, stock=100, orders=60, remaining=30, pending=10).drift == 0
    assert ItemFigures(1, stock=100, orders=60, remaining=33, pending=10).drift == 3
    assert ItemFigures(1, stock=100, orders=60, remaining=None, pending=0).drift == -40


def test_a_ticket_names_its_item_and_so_its_partition() -> None:
    ticket = new_ticket(1234)
    assert ticket_item_id(ticket) == 1234
    keys = Keys(partitions=4)
    assert key_slot(keys.ticket(ticket).encode()) == key_slot(keys.item(1234).encode())
    assert partition_of(1234, 4) == 2 and keys.orders_stream_of(1234) == "seckill:{p2}:orders"
    assert new_ticket(1234) != ticket
