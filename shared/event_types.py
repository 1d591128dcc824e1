"""The one registry of streams and event types: each stream with who writes it and which
groups read it, each event type with its stream and its data model (`shared.event_data`).

The services' `streams.py` take their names from here; the scheduler checks the events it is
asked to write later against it (`check_event`); `shared.asyncapi` builds the AsyncAPI
document from it. A new event type is added here first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.event_data import (
    DelayCancel,
    DelayRequested,
    EntityChanged,
    NoData,
    OrderRef,
    OrderRejected,
    OrderRequested,
    OrderState,
    SmsSend,
)


@dataclass(frozen=True, slots=True)
class Stream:
    """One stream. `key` is its Redis key; a partitioned stream's key has `{partition}`
    where its hash tag goes (`seckill:{p0}:orders`)."""

    key: str
    summary: str
    producers: tuple[str, ...]
    groups: tuple[str, ...] = ()
    # Who reads it without a group (every replica, from its own position), if anyone.
    readers: str | None = None


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    stream: Stream
    data: type[BaseModel]
    summary: str


CATALOG_EVENTS = Stream(
    "catalog.events", "Every committed catalog write.", producers=("catalog",),
    readers="every catalog replica (drops its in-process copies)")
CATALOG_COMMANDS = Stream(
    "catalog.commands", "Commands to the catalog.", producers=("scheduler", "cli"),
    groups=("catalog",))
SECKILL_ORDERS = Stream(
    "seckill:{partition}:orders",
    "Admitted attempts, one stream per partition (`{pN}`, N = item id mod "
    "SECKILL_PARTITIONS), written by the admission script.",
    producers=("seckill",), groups=("order-writer",))
SECKILL_COMMANDS = Stream(
    "seckill.commands", "Commands to the seckill service.", producers=("scheduler",),
    groups=("seckill",))
SECKILL_EVENTS = Stream(
    "seckill.events", "What became of each order (audit, replay).", producers=("seckill",))
SCHEDULER_REQUESTS = Stream(
    "scheduler.requests", "Delays asked for by other services.", producers=("seckill",),
    groups=("scheduler",))
NOTIFY_SMS = Stream(
    "notify.sms", "Text messages to send.", producers=("gateway", "scheduler"),
    groups=("sms-sender",))

STREAMS: tuple[Stream, ...] = (
    CATALOG_EVENTS, CATALOG_COMMANDS, SECKILL_ORDERS, SECKILL_COMMANDS, SECKILL_EVENTS,
    SCHEDULER_REQUESTS, NOTIFY_SMS,
)

BANNER_CHANGED = EventType("banner.changed", CATALOG_EVENTS, EntityChanged,
                           "A banner was created, updated or deleted.")
COURSE_CHANGED = EventType("course.changed", CATALOG_EVENTS, EntityChanged,
                           "A course, or a row under or linked to one, was written.")
REBUILD_BANNERS = EventType("banners.rebuild-cache", CATALOG_COMMANDS, NoData,
                            "Rebuild the banner cache and drop the course pages' copies.")
ORDER_REQUESTED = EventType("order.requested", SECKILL_ORDERS, OrderRequested,
                            "An admitted attempt: write its order.")
ORDER_EXPIRE = EventType("order.expire", SECKILL_COMMANDS, OrderRef,
                         "Expire the order if it is still unpaid past pay_by.")
SWEEP_EXPIRED = EventType("orders.sweep-expired", SECKILL_COMMANDS, NoData,
                          "Expire every unpaid order past pay_by (the backstop).")
ORDER_CREATED = EventType("order.created", SECKILL_EVENTS, OrderState, "An order was written.")
ORDER_REJECTED = EventType("order.rejected", SECKILL_EVENTS, OrderRejected,
                           "An admitted request got no order.")
ORDER_PAID = EventType("order.paid", SECKILL_EVENTS, OrderState, "An order was paid.")
ORDER_EXPIRED = EventType("order.expired", SECKILL_EVENTS, OrderState,
                          "An order expired unpaid; its unit went back to stock.")
DELAY_REQUESTED = EventType("delay.requested", SCHEDULER_REQUESTS, DelayRequested,
                            "Write an event later.")
DELAY_CANCELLED = EventType("delay.cancelled", SCHEDULER_REQUESTS, DelayCancel,
                            "Cancel a pending delay.")
SMS_SEND = EventType("sms.send", NOTIFY_SMS, SmsSend, "Send one text message.")

EVENT_TYPES: dict[str, EventType] = {event.name: event for event in (
    BANNER_CHANGED, COURSE_CHANGED, REBUILD_BANNERS, ORDER_REQUESTED, ORDER_EXPIRE,
    SWEEP_EXPIRED, ORDER_CREATED, ORDER_REJECTED, ORDER_PAID, ORDER_EXPIRED, DELAY_REQUESTED,
    DELAY_CANCELLED, SMS_SEND,
)}


def types_of(stream: Stream) -> list[EventType]:
    return [event for event in EVENT_TYPES.values() if event.stream is stream]


def stream_named(key: str) -> Stream | None:
    """The registry's stream with this key (a partition's key names its partitioned
    stream), or None for a stream it does not know."""
    for stream in STREAMS:
        prefix, _, suffix = stream.key.partition("{partition}")
        if key == stream.key or (suffix and key.startswith(prefix) and key.endswith(suffix)
                                 and len(key) > len(prefix) + len(suffix)):
            return stream
    return None


def check_event(stream_key: str, event_type: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with writing (`event_type`, `data`) to `stream_key`, as (field, reason)
    pairs with fields `stream`, `type` or `data.<path>`; empty when it is right. A stream
    the registry does not know (one an operator added to the scheduler's target streams)
    carries any type: nothing here reads it."""
    stream = stream_named(stream_key)
    if stream is None:
        return []
    event = EVENT_TYPES.get(event_type)
    if event is None or event.stream is not stream:
        known = ", ".join(e.name for e in types_of(stream))
        where = f"; it belongs on {event.stream.key}" if event else ""
        return [("type", f"{stream_key} carries {known}, not {event_type!r}{where}")]
    try:
        event.data.model_validate(data)
    except ValidationError as exc:
        return [(".".join(["data", *map(str, error["loc"])]), error["msg"])
                for error in exc.errors()]
    return []
