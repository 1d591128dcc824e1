"""The seckill's events are of the registry's data models (`shared.event_types`): what the
order writer and the payments publish is what the AsyncAPI document says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.seckill import handlers
from services.seckill.ports import OrderRow
from shared.event_types import EVENT_TYPES, check_event

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


def order(status: str = "unpaid", paid_at: datetime | None = None) -> OrderRow:
    return OrderRow(7, 1, 42, "1-abc", Decimal("39.90"), status, NOW,
                    NOW + timedelta(minutes=15), paid_at)


def test_order_events_are_of_their_registered_models() -> None:
    for name, row in (("order.created", order()), ("order.paid", order("paid", NOW)),
                      ("order.expired", order("expired"))):
        event = EVENT_TYPES[name]
        assert check_event(event.stream.key, name, handlers.order_data(row)) == []
    request = handlers.OrderRequested(ticket="1-abc", item_id=1, user_id=42,
                                      price=Decimal("39.90"))
    stream, rejected = handlers._rejected(request, "sold-out", cause=None)
    assert check_event(stream, rejected.type, rejected.data) == []


def test_the_expiry_request_is_a_registered_delay_of_a_registered_command() -> None:
    stream, envelope = handlers._expiry_request(order())
    assert check_event(stream, envelope.type, envelope.data) == []
    delayed = envelope.data
    assert isinstance(delayed, dict)
    assert check_event(delayed["stream"], delayed["type"], delayed["data"]) == []
