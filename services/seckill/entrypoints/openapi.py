"""The seckill OpenAPI document (`GET /api/v1/seckill/openapi.json`), for the gateway to
merge. Bodies and query parameters come from the pydantic models that validate them; answers
are described in docs/seckill.md."""

from __future__ import annotations

from typing import Any

from services.seckill.domain import IDEMPOTENCY_KEY
from services.seckill.entrypoints.schemas import AttemptOut, ItemIn, ItemOut, OrdersQuery
from services.seckill.ports import OrderData, TicketData
from shared.openapi import BEARER, PAGE, body, errors, ok, page_of, path_param, revalidated
from shared.openapi import document as openapi_document

PREFIX = "/api/v1/seckill"
ID = path_param("id")
TICKET = path_param("ticket", "string")
TICKET[0]["schema"]["pattern"] = r"^\d{1,18}-[0-9a-f]{32}$"
ID[0]["schema"].update(minimum=1, maximum=10**18 - 1)


def _link(operation: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation, "parameters": parameters}


def _links(response: dict[str, Any], **links: dict[str, Any]) -> dict[str, Any]:
    """`response` (one status of `ok`) with OpenAPI links to the operations that follow."""
    (status, answer), = response.items()
    return {status: {**answer, "links": links}}


def document() -> dict[str, Any]:
    user_param = OrdersQuery.model_json_schema()["properties"]["user"]
    paths: dict[str, Any] = {
        f"{PREFIX}/items": {
            "get": revalidated({
                "summary": "Seckill items; remaining and state from Redis",
                "operationId": "seckillListItems", "parameters": PAGE,
                "responses": {**_links(ok("{count,next,previous,results}",
                                          schema=page_of(ItemOut)), FirstItem=_link(
                    "seckillAttempt", id="$response.body#/results/0/id"))}}),
            "post": {"summary": "Create an item (admin); its stock is loaded into Redis",
                     "operationId": "seckillCreateItem", "security": BEARER,
                     "requestBody": body(ItemIn),
                     "responses": {**_links(ok("the item", "201", model=ItemOut),
                                            Item=_link("seckillGetItem", id="$response.body#/id"),
                                            Attempt=_link("seckillAttempt",
                                                          id="$response.body#/id")),
                                   **errors(403)}},
        },
        f"{PREFIX}/items/{{id}}": {"parameters": ID, "get": revalidated({
            "operationId": "seckillGetItem",
            "responses": {**ok("{id,course_id,title,price,stock,remaining,starts_at,ends_at,"
                                "state}", model=ItemOut)}})},
        f"{PREFIX}/items/{{id}}/attempts": {"parameters": ID, "post": {
            "summary": "One attempt, decided in Redis (Idempotency-Key optional)",
            "operationId": "seckillAttempt", "security": BEARER,
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern}}],
            "responses": {**_links(ok('{ticket,status:"pending",links{self,events}}', "202",
                                      model=AttemptOut),
                                   Ticket=_link("seckillGetTicket",
                                                ticket="$response.body#/ticket"),
                                   Events=_link("seckillTicketEvents",
                                                ticket="$response.body#/ticket")),
                          **errors(409, 429)}}},
        f"{PREFIX}/tickets/{{ticket}}": {"parameters": TICKET, "get": {
            "operationId": "seckillGetTicket", "security": BEARER,
            # While pending, order_id is null: a client reads the ticket again (Poll) until
            # the order writer has written the order, then follows it.
            "responses": {**_links(ok("{ticket,status,order_id,reason}", model=TicketData),
                                   Poll=_link("seckillGetTicket", ticket="$response.body#/ticket"),
                                   Order=_link("seckillGetOrder", id="$response.body#/order_id"),
                                   Pay=_link("seckillPay", id="$response.body#/order_id"))}}},
        f"{PREFIX}/tickets/{{ticket}}/events": {"parameters": TICKET, "get": {
            "summary": "Server-sent events `status` until the ticket is final",
            "operationId": "seckillTicketEvents", "security": BEARER,
            "responses": {**ok("event stream", media="text/event-stream"), **errors(429)}}},
        f"{PREFIX}/orders": {"get": {
            "summary": "My orders (admin: all, or one user's with ?user=)", "security": BEARER,
            "parameters": [*PAGE, {"name": "user", "in": "query", "schema": user_param}],
            "responses": {**_links(ok("{count,next,previous,results}",
                                      schema=page_of(OrderData)), FirstOrder=_link(
                "seckillGetOrder", id="$response.body#/results/0/id"))}}},
        f"{PREFIX}/orders/{{id}}": {"parameters": ID, "get": {
            "operationId": "seckillGetOrder", "security": BEARER,
            "responses": {**_links(ok("{id,item_id,user_id,ticket,price,status,created_at,"
                                      "pay_by,paid_at}", model=OrderData),
                                   Pay=_link("seckillPay", id="$response.body#/id"))}}},
        f"{PREFIX}/orders/{{id}}/payment": {"parameters": ID, "post": {
            "summary": "Pay before pay_by (idempotent)", "operationId": "seckillPay",
            "security": BEARER,
            "responses": {**ok("the paid order", model=OrderData), **errors(403, 409)}}},
    }
    return openapi_document("seckill", paths, [ItemIn],
                            [ItemOut, AttemptOut, TicketData, OrderData])
