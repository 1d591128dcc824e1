"""HTTP routes of the seckill service: parse, call one handler, render."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast

import orjson
from aiohttp import web

from services.seckill import handlers
from services.seckill.bootstrap import Runtime
from services.seckill.domain import Refused, idempotency_key, item_state, money
from services.seckill.entrypoints.openapi import document
from services.seckill.entrypoints.schemas import (
    AttemptLinks,
    AttemptOut,
    ItemIn,
    ItemOut,
    OrdersQuery,
)
from services.seckill.ports import ItemRow, Ticket
from shared.auth import Principal, require_admin, require_user
from shared.drain import DRAIN_KEY
from shared.errors import NotFound
from shared.http import CORRELATION_ID_KEY, conditional, json_response, parse_body, parse_query
from shared.pagination import PageParams, page_body
from shared.urls import absolute_url

BASE = "/api/v1/seckill"
ID = r"{id:\d{1,18}}"
TICKET = r"{ticket:\d{1,18}-[0-9a-f]{32}}"
RUNTIME_KEY = web.AppKey("runtime", Runtime)
# Item reads (docs/seckill.md, "HTTP caching"): stock moves every moment of a sale, so a copy
# is reused for one second at most, then revalidated (a 304 while nothing changed).
ITEMS_CACHE = "public, max-age=1, must-revalidate"


def _runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME_KEY]


def _item_body(item: ItemRow, remaining: int | None) -> ItemOut:
    return {
        "id": item.id, "course_id": item.course_id, "title": item.title,
        "price": money(item.price), "stock": item.stock, "remaining": remaining,
        "starts_at": item.starts_at.isoformat(), "ends_at": item.ends_at.isoformat(),
        "state": item_state(datetime.now(UTC), item.starts_at, item.ends_at, remaining),
    }


async def list_items(request: web.Request) -> web.Response:
    rt, params = _runtime(request), parse_query(request, PageParams)
    count, rows = await rt.repo.items_page(params.offset, params.page_size)
    remaining = await rt.store.remaining([r.id for r in rows])
    results = [_item_body(r, remaining[r.id]) for r in rows]
    return conditional(request, json_response(
        page_body(rt.settings.public_base_url, request.rel_url, params, count, results)
    ), ITEMS_CACHE)


async def get_item(request: web.Request) -> web.Response:
    rt = _runtime(request)
    item = await rt.repo.item(int(request.match_info["id"]))
    if item is None:
        raise NotFound("No such seckill item.")
    remaining = await rt.store.remaining([item.id])
    return conditional(request, json_response(_item_body(item, remaining[item.id])), ITEMS_CACHE)


async def create_item(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await parse_body(request, ItemIn)
    rt = _runtime(request)
    item = await handlers.create_item(rt.repo, rt.store, body.model_dump())
    return json_response(_item_body(item, item.stock), status=201,
                         headers={"Location": f"{BASE}/items/{item.id}"})


async def attempt(request: web.Request) -> web.Response:
    principal = await require_user(request)
    key = idempotency_key(request.headers.get("Idempotency-Key"))
    rt = _runtime(request)
    metrics = rt.admission_metrics
    try:
        with metrics.latency.time():
            ticket = await handlers.attempt(
                rt.store, int(request.match_info["id"]), principal.user_id,
                request[CORRELATION_ID_KEY], key,
            )
    except Refused as refusal:
        metrics.attempts.labels(refusal.outcome).inc()
        raise
    metrics.attempts.labels("admitted").inc()
    base = rt.settings.public_base_url
    path = f"{BASE}/tickets/{ticket}"
    links = {"self": absolute_url(base, path), "events": absolute_url(base, f"{path}/events")}
    admitted: AttemptOut = {"ticket": ticket, "status": "pending",
                            "links": cast(AttemptLinks, links)}  # absolute: the paths are set
    return json_response(admitted, status=202, headers={"Location": path})


async def _own_ticket(request: web.Request, principal: Principal) -> Ticket:
    ticket = await _runtime(request).store.ticket(request.match_info["ticket"])
    if ticket is None or ticket.user_id != principal.user_id:
        raise NotFound("No such ticket.")
    return ticket


async def get_ticket(request: web.Request) -> web.Response:
    ticket = await _own_ticket(request, await require_user(request))
    return json_response(ticket.public())


async def ticket_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the ticket's status now, then its final status, then the end; when
    the server stops first, a final `shutdown` event with the status then (reconnect or poll)."""
    principal = await require_user(request)
    rt = _runtime(request)
    with rt.open_streams.hold(principal.user_id):  # TooManyStreams: 429
        return await _stream_events(request, rt, await _own_ticket(request, principal))


async def _stream_events(
    request: web.Request, rt: Runtime, ticket: Ticket
) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    stopping = request.app[DRAIN_KEY].stopping
    try:
        await _send(response, ticket)
        if not ticket.final:
            latest = await _wait_final(rt, ticket.ticket, response, stopping)
            if latest is not None and latest.final:
                await _send(response, latest)
            elif stopping.is_set():
                await _send(response, latest, event=b"shutdown")
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away (a heartbeat found the connection closed)
    return response


async def _send(response: web.StreamResponse, ticket: Ticket | None,
                event: bytes = b"status") -> None:
    body = orjson.dumps(ticket.public() if ticket is not None else {})
    await response.write(b"event: " + event + b"\ndata: " + body + b"\n\n")


async def _wait_final(
    rt: Runtime, ticket_id: str, response: web.StreamResponse, stopping: asyncio.Event
) -> Ticket | None:
    """Listen first, then read, and read again whenever woken: a status set in between, or
    while the shared pub/sub connection was down, is not missed. Writes a heartbeat comment
    while it waits; None when the wait times out; the ticket as it is when the server stops
    (`end_event_streams` wakes every listener)."""
    settings = rt.settings
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.ticket_events_timeout_s
    with rt.ticket_channels.listen(rt.keys.ticket_channel(ticket_id)) as listener:
        while True:
            ticket = await rt.store.ticket(ticket_id)
            if ticket is None or ticket.final or stopping.is_set():
                return ticket
            left = deadline - loop.time()
            if left <= 0:
                return None
            try:
                async with asyncio.timeout(min(left, settings.ticket_events_heartbeat_s)):
                    await listener.wait()
            except TimeoutError:
                await response.write(b": keep-alive\n\n")


async def end_event_streams(app: web.Application) -> None:
    """`on_shutdown`: every open ticket stream ends now, with its final event."""
    app[RUNTIME_KEY].ticket_channels.wake_all()


async def list_orders(request: web.Request) -> web.Response:
    principal = await require_user(request)
    rt, params = _runtime(request), parse_query(request, OrdersQuery)
    user = params.user if principal.is_admin else principal.user_id
    count, rows = await rt.repo.orders_page(params.offset, params.page_size, user)
    return json_response(page_body(rt.settings.public_base_url, request.rel_url, params,
                                   count, [handlers.order_data(r) for r in rows]))


async def get_order(request: web.Request) -> web.Response:
    principal = await require_user(request)
    order = await handlers.visible_order(_runtime(request).repo, int(request.match_info["id"]),
                                         principal.user_id, principal.is_admin)
    return json_response(handlers.order_data(order))


async def pay_order(request: web.Request) -> web.Response:
    principal = await require_user(request)
    rt = _runtime(request)
    paid = await handlers.pay_order(rt.repo, rt.store, rt.publisher,
                                    int(request.match_info["id"]), principal.user_id,
                                    principal.is_admin)
    return json_response(handlers.order_data(paid))


async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI_KEY])


OPENAPI_KEY = web.AppKey("seckill_openapi", dict)


def setup_routes(app: web.Application) -> None:
    app[OPENAPI_KEY] = document()
    r = app.router
    r.add_get(f"{BASE}/openapi.json", openapi)
    r.add_get(f"{BASE}/items", list_items)
    r.add_post(f"{BASE}/items", create_item)
    r.add_get(f"{BASE}/items/{ID}", get_item)
    r.add_post(f"{BASE}/items/{ID}/attempts", attempt)
    r.add_get(f"{BASE}/tickets/{TICKET}", get_ticket)
    r.add_get(f"{BASE}/tickets/{TICKET}/events", ticket_events)
    r.add_get(f"{BASE}/orders", list_orders)
    r.add_get(f"{BASE}/orders/{ID}", get_order)
    r.add_post(f"{BASE}/orders/{ID}/payment", pay_order)
