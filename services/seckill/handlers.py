"""Use cases of the seckill service: one function per command or event."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError, model_validator

from services.seckill.domain import (
    ALREADY_PURCHASED,
    ORDER_FAILED,
    REFUSALS,
    SOLD_OUT,
    Failure,
    ItemFigures,
    NotTheBuyer,
    OrderExpired,
    OrderStatus,
    TicketStatus,
    money,
    ticket_item_id,
)
from services.seckill.metrics import OrderWriterMetrics
from services.seckill.ports import (
    ItemRow,
    LoadedItem,
    NewOrder,
    OrderData,
    OrderRepository,
    OrderRow,
    Publisher,
    SaleStore,
    TicketMark,
)
from services.seckill.streams import (
    DELAY_REQUESTED,
    ORDER_CREATED,
    ORDER_EXPIRE,
    ORDER_EXPIRED,
    ORDER_PAID,
    ORDER_REJECTED,
    SCHEDULER_REQUESTS,
    SECKILL_COMMANDS,
    SECKILL_EVENTS,
    SWEEP_EXPIRED,
)
from shared import event_data
from shared.consumers import Delivery
from shared.errors import NotFound
from shared.event_data import OrderRef
from shared.events import DATA_FIELD, Envelope, decode_entry, new_event_id, stable_event_id
from shared.logging import get_logger
from shared.tracing import current_or_new

log = get_logger(__name__)
PRODUCER = "seckill"
SWEEP_BATCH = 500


class OrderRequested(event_data.OrderRequested):
    """The registry's `order.requested` data, whose ticket must name its item."""

    @model_validator(mode="after")
    def _ticket_names_its_item(self) -> OrderRequested:
        if ticket_item_id(self.ticket) != self.item_id:
            raise ValueError("the ticket names another item")
        return self


def new_ticket(item_id: int) -> str:
    """`<item_id>-<32 hex>`: unguessable, and names its partition."""
    return f"{item_id}-{uuid.uuid4().hex}"


# Items


async def create_item(
    repo: OrderRepository, store: SaleStore, values: dict[str, object]
) -> ItemRow:
    item = await repo.create_item(values)
    await store.load_item(_loaded(item, remaining=item.stock))
    return item


async def move_window(
    repo: OrderRepository, store: SaleStore, item_id: int, starts_at: datetime, ends_at: datetime,
) -> ItemRow:
    """A new sale window for an item (the demo's sales, moved to the present on each start):
    the database first, then the Redis hash admission reads, loaded whole if missing."""
    item = await repo.set_window(item_id, starts_at, ends_at)
    if not await store.set_window(item_id, starts_at, ends_at):
        holders, expired = await repo.holding(item_id)
        await store.load_item(_loaded(item, item.stock - len(holders)), buyers=holders,
                              released=expired)
    return item


def _loaded(item: ItemRow, remaining: int) -> LoadedItem:
    return LoadedItem(item.id, item.course_id, item.price, item.stock, remaining,
                      item.starts_at, item.ends_at)


async def warm(repo: OrderRepository, store: SaleStore, force: bool = False) -> list[str]:
    """Load items into Redis from the database: stock minus the orders holding a unit.

    Without `force` only items missing from Redis are loaded, so a running sale's pending
    requests are never counted twice."""
    lines = []
    for item in await repo.all_items():
        if not force and await store.is_loaded(item.id):
            lines.append(f"item {item.id}: already loaded")
            continue
        holders, expired = await repo.holding(item.id)
        remaining = item.stock - len(holders)
        await store.load_item(_loaded(item, remaining), buyers=holders, released=expired)
        lines.append(f"item {item.id}: loaded, remaining {remaining} of {item.stock}")
    return lines


# Admission


async def attempt(
    store: SaleStore, item_id: int, user_id: int, correlation_id: str,
    idempotency_key: str | None,
) -> str:
    """Everything is decided by the admission script in Redis; no database work here.
    Returns the ticket, or raises the script's refusal (`domain.Refused`). The key is
    checked already (`domain.idempotency_key`)."""
    admission = await store.admit(
        item_id, user_id, new_ticket(item_id), new_event_id(), correlation_id, idempotency_key
    )
    if admission.ticket is None:
        raise REFUSALS[admission.outcome]()
    return admission.ticket


# Order writer


async def write_orders(
    batch: Sequence[Delivery], repo: OrderRepository, store: SaleStore, publisher: Publisher,
    pay_timeout_s: int, metrics: OrderWriterMetrics,
) -> None:
    """Insert a batch of order requests in one transaction, then mark their tickets and
    publish. The consumer acknowledges after this returns; a redelivered request finds its
    order and only marks and publishes again."""
    requests = [OrderRequested.model_validate(d.envelope.data) for d in batch]
    written = await repo.insert_orders(
        [NewOrder(r.item_id, r.user_id, r.ticket, r.price) for r in requests], pay_timeout_s,
    )
    metrics.batch_size.observe(len(requests))
    marks: list[TicketMark] = []
    out: list[tuple[str, Envelope]] = []
    for request, delivery in zip(requests, batch, strict=True):
        order = written.orders.get(request.ticket)
        if order is None:
            # Refused for stock (Redis had lost its last writes), or the buyer holds another
            # live order of this item (stock reloaded by hand, say).
            failure = SOLD_OUT if request.ticket in written.sold_out else ALREADY_PURCHASED
            out.append(await _reject(store, request, failure, delivery))
            metrics.orders.labels("rejected").inc()
            continue
        marks.append(TicketMark(request.ticket, TicketStatus.SUCCESS, order_id=order.id))
        out.append(_order_event(ORDER_CREATED, order, order.created_at, cause=delivery))
        if order.status == OrderStatus.UNPAID:
            out.append(_expiry_request(order, cause=delivery))
        metrics.orders.labels("created").inc()
    await store.mark_tickets(marks)
    await publisher.publish_many(out)
    # One line per batch, with the batch's trace ids (bound by shared.consumers).
    log.info("orders written", created=len(marks), rejected=len(requests) - len(marks))


async def _reject(
    store: SaleStore, request: OrderRequested, failure: Failure, cause: Delivery,
) -> tuple[str, Envelope]:
    """Fail a request that gets no order: its ticket failed with the reason and its admission
    undone (once per ticket, whichever path comes first). Returns the `order.rejected` to
    publish, every time: a crash may have lost the first, and a repeat (a redelivery, or
    the dead letter of a request rejected before) carries the first one's id, which readers
    drop."""
    await store.fail(request.item_id, request.ticket, request.user_id, failure)
    return _rejected(request, failure.reason, cause)


def _rejected(
    request: OrderRequested, reason: str, cause: Delivery | None, key: str = ""
) -> tuple[str, Envelope]:
    """Once per ticket (whichever path rejects it first; the ticket keeps that reason), or per
    `key`: a dead request readmitted by hand and refused is told again."""
    at = cause.envelope.occurred_at if cause else datetime.now(UTC)
    return _sale_event(ORDER_REJECTED, key or request.ticket, at, {
        "ticket": request.ticket, "item_id": request.item_id, "user_id": request.user_id,
        "reason": reason}, cause)


async def order_failed(
    delivery: Delivery, error: str, repo: OrderRepository, store: SaleStore,
    publisher: Publisher, metrics: OrderWriterMetrics,
) -> bool:
    """An order request failed `max_deliveries` times and goes to the dead letters: fail its
    ticket and undo its admission (once per ticket, whatever undid it before). False when
    its order was written after all: it is marked and only acknowledged. A request that
    cannot be read took nothing this knows of: it is dead-lettered and nothing released."""
    try:
        request = OrderRequested.model_validate(delivery.envelope.data)
    except ValidationError as exc:
        log.error("unreadable order request: dead-lettered, nothing released",
                  entry_id=delivery.entry_id, error=str(exc))
        metrics.dead.inc()
        return True
    order = (await repo.orders_by_ticket([request.ticket])).get(request.ticket)
    if order is not None:
        await store.mark_tickets([TicketMark(request.ticket, TicketStatus.SUCCESS,
                                             order_id=order.id)])
        return False
    await publisher.publish_many([await _reject(store, request, ORDER_FAILED, delivery)])
    metrics.dead.inc()
    return True


async def retry_dead_request(store: SaleStore, publisher: Publisher, dead_stream: str,
                             entry_id: str, fields: dict[Any, Any]) -> str:
    """`coursestream streams retry-dead` on an order stream: the dead request gave its unit
    back, so it is admitted again in Redis (or refused: sold out, already purchased) instead
    of being put back as it was. Returns what became of it, for the operator."""
    try:
        envelope = decode_entry(fields)
        request = OrderRequested.model_validate(envelope.data)
    except ValueError as exc:  # pydantic's ValidationError is one
        return f"unreadable, left in {dead_stream}: {exc}"
    outcome = await store.readmit(dead_stream, entry_id, fields[DATA_FIELD.encode()],
                                  request.user_id, request.item_id, request.ticket)
    if outcome in (ALREADY_PURCHASED.reason, SOLD_OUT.reason):
        await publisher.publish_many([_rejected(
            request, outcome, cause=None, key=f"{request.ticket}|retry:{entry_id}")])
    return f"ticket {request.ticket}: {outcome}"


# Orders


def order_data(order: OrderRow) -> OrderData:
    return {
        "id": order.id, "item_id": order.item_id, "user_id": order.user_id,
        "ticket": order.ticket, "price": money(order.price), "status": order.status,
        "created_at": order.created_at.isoformat(), "pay_by": order.pay_by.isoformat(),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
    }


def _order_event(
    event_type: str, order: OrderRow, at: datetime, cause: Delivery | None = None
) -> tuple[str, Envelope]:
    return _sale_event(event_type, order.ticket, at, order_data(order), cause)


def _sale_event(
    event_type: str, key: str, at: datetime, data: Mapping[str, object],
    cause: Delivery | None = None,
) -> tuple[str, Envelope]:
    """An event on seckill.events, its id made of its type and `key` (the ticket, which is
    the order's): published again (a redelivery, a retry after a crash, a readmission), it
    has the same id and the event log's dedupe key drops it, so a reader sees it once."""
    event_id = stable_event_id(int(at.timestamp() * 1000), f"{key}|{event_type}")
    return SECKILL_EVENTS, _event(event_type, data, cause, event_id)


def _event(
    event_type: str, data: Mapping[str, object], cause: Delivery | None = None,
    event_id: str | None = None,
) -> Envelope:
    """An event of this service, with `event_id` if given. One caused by a delivered entry
    carries that entry's correlation id and traceparent, and by default an id derived from
    it: a redelivery publishes the same id again."""
    if cause is None:
        return Envelope(id=event_id or new_event_id(), type=event_type, producer=PRODUCER,
                        data=dict(data))
    entry_ms = int(cause.entry_id.partition("-")[0])
    return Envelope(id=event_id or stable_event_id(entry_ms,
                                                   f"{cause.envelope.id}|{event_type}"),
                    type=event_type, producer=PRODUCER,
                    correlation_id=cause.envelope.correlation_id,
                    traceparent=cause.envelope.traceparent or current_or_new(),
                    data=dict(data))


def _expiry_request(order: OrderRow, cause: Delivery | None = None) -> tuple[str, Envelope]:
    """Ask the scheduler for `order.expire` at pay_by (keyed: asking twice is one delay)."""
    return SCHEDULER_REQUESTS, _event(DELAY_REQUESTED, {
        "stream": SECKILL_COMMANDS, "type": ORDER_EXPIRE,
        "data": OrderRef(order_id=order.id).model_dump(),
        "at": order.pay_by.isoformat(), "key": f"order-expire:{order.id}",
    }, cause)


async def visible_order(
    repo: OrderRepository, order_id: int, user_id: int, is_admin: bool
) -> OrderRow:
    """The order, to its buyer or an admin; NotFound to anyone else."""
    order = await repo.order(order_id)
    if order is None or not (is_admin or order.user_id == user_id):
        raise NotFound("No such order.")
    return order


async def pay_order(
    repo: OrderRepository, store: SaleStore, publisher: Publisher, order_id: int,
    user_id: int, is_admin: bool,
) -> OrderRow:
    """`POST /orders/{id}/payment`: only the buyer pays; paid (again, idempotent) or expired."""
    order = await visible_order(repo, order_id, user_id, is_admin)
    if order.user_id != user_id:
        raise NotTheBuyer()
    paid, _ = await pay(repo, store, publisher, order.id)
    if paid is None or paid.status != OrderStatus.PAID:
        raise OrderExpired()
    return paid


async def pay(
    repo: OrderRepository, store: SaleStore, publisher: Publisher, order_id: int
) -> tuple[OrderRow | None, bool]:
    """Pay an unpaid order before pay_by. Returns (order, paid now). An order found past
    pay_by is expired on the spot, which returns its unit without waiting for the command."""
    order, changed = await repo.pay(order_id)
    if changed and order is not None:
        await publisher.publish_many(
            [_order_event(ORDER_PAID, order, order.paid_at or order.created_at)])
    elif order is not None and order.status == OrderStatus.UNPAID:
        order = await expire(repo, store, publisher, order_id) or order
    return order, changed


async def expire(
    repo: OrderRepository, store: SaleStore, publisher: Publisher, order_id: int
) -> OrderRow | None:
    """`order.expire`: an unpaid order past pay_by expires, its unit returns to Redis stock
    and the buyer may try again. A command that comes early asks for the delay again."""
    order, changed = await repo.expire(order_id)
    if order is None:
        log.warning("order.expire for an unknown order", order_id=order_id)
        return None
    if order.status == OrderStatus.EXPIRED:
        released = await store.release(order.item_id, order.ticket, order.user_id)
        if changed or released:
            await publisher.publish_many(
                [_order_event(ORDER_EXPIRED, order, order.pay_by)])
    elif order.status == OrderStatus.UNPAID:
        await publisher.publish_many([_expiry_request(order)])
    return order


async def sweep_expired(repo: OrderRepository, store: SaleStore, publisher: Publisher) -> int:
    """`orders.sweep-expired` (the scheduler's 60 s backstop): expire every unpaid order past
    pay_by whose own `order.expire` was lost or late. Returns how many it expired."""
    swept = 0
    while overdue := await repo.overdue_unpaid(SWEEP_BATCH):
        for order_id in overdue:
            order = await expire(repo, store, publisher, order_id)
            swept += order is not None and order.status == OrderStatus.EXPIRED
        if len(overdue) < SWEEP_BATCH:
            break
    if swept:
        log.info("swept overdue orders", count=swept)
    return swept


async def handle_commands(
    batch: Sequence[Delivery], repo: OrderRepository, store: SaleStore, publisher: Publisher
) -> None:
    """`seckill.commands`. A database out of reach raises DatabaseUnavailable (transient)."""
    for delivery in batch:
        if delivery.envelope.type == ORDER_EXPIRE:
            command = OrderRef.model_validate(delivery.envelope.data)
            await expire(repo, store, publisher, command.order_id)
        elif delivery.envelope.type == SWEEP_EXPIRED:
            await sweep_expired(repo, store, publisher)
        else:
            log.warning("ignored command", type=delivery.envelope.type)


# Reconcile


async def reconcile(
    repo: OrderRepository, store: SaleStore, fix: bool = False
) -> list[ItemFigures]:
    """Check orders + Redis stock + pending requests = stock for every item; with `fix`,
    shift Redis stock by the drift (an increment, so concurrent admissions are kept)."""
    figures = []
    for item in await repo.all_items():
        found = await _figures(repo, store, item)
        if fix and found.remaining is not None and found.drift:
            # A sale in full swing can show a passing drift (an order committed between
            # the Redis snapshot and the SQL count); repair only a drift seen twice.
            again = await _figures(repo, store, item)
            if again.drift == found.drift:
                await store.adjust_remaining(item.id, -found.drift)
        figures.append(found)
    return figures


async def invariant_drift(repo: OrderRepository, store: SaleStore) -> dict[int, int]:
    """Units by which each item misses the invariant (0 where it holds): `reconcile` without
    fix, read again where it found a drift, and a drift counted only when the second read
    shows the same (a busy sale can show a passing one, as for `--fix`)."""
    first = await reconcile(repo, store)
    again = ({f.item_id: f.drift for f in await reconcile(repo, store)}
             if any(f.drift for f in first) else {})
    return {f.item_id: abs(f.drift) if f.drift and again.get(f.item_id) == f.drift else 0
            for f in first}


async def _figures(repo: OrderRepository, store: SaleStore, item: ItemRow) -> ItemFigures:
    remaining, unacked = await store.snapshot(item.id)
    holders, _ = await repo.holding(item.id)
    written = await repo.orders_by_ticket(unacked)
    pending = len(set(unacked) - set(written))
    return ItemFigures(item.id, item.stock, len(holders), remaining, pending)
