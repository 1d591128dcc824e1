"""The seckill OpenAPI document (`GET /api/v1/seckill/openapi.json`), for the gateway to
merge. Bodies and query parameters come from the pydantic models that validate them; answers
are described in docs/seckill.md."""

from __future__ import annotations

from typing import Any

from services.seckill.entrypoints.schemas import ItemIn, OrdersQuery
from shared.openapi import BEARER, PAGE, body, errors, ok, path_param
from shared.openapi import document as openapi_document

PREFIX = "/api/v1/seckill"
ID = path_param("id")
TICKET = path_param("ticket", "string")


def document() -> dict[str, Any]:
    user_param = OrdersQuery.model_json_schema()["properties"]["user"]
    paths: dict[str, Any] = {
        f"{PREFIX}/items": {
            "get": {"summary": "Seckill items; remaining and state from Redis",
                    "parameters": PAGE,
                    "responses": {**ok("{count,next,previous,results}"), **errors(400)}},
            "post": {"summary": "Create an item (admin); its stock is loaded into Redis",
                     "security": BEARER, "requestBody": body(ItemIn),
                     "responses": {**ok("the item", "201"), **errors(400, 401, 403, 422)}},
        },
        f"{PREFIX}/items/{{id}}": {"parameters": ID, "get": {
            "responses": {**ok("{id,course_id,title,price,stock,remaining,starts_at,ends_at,"
                                "state}"), **errors(404)}}},
        f"{PREFIX}/items/{{id}}/attempts": {"parameters": ID, "post": {
            "summary": "One attempt, decided in Redis (Idempotency-Key optional)",
            "security": BEARER,
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": 64}}],
            "responses": {**ok('{ticket,status:"pending",links{self,events}}', "202"),
                          **errors(400, 401, 404, 409, 429, 503)}}},
        f"{PREFIX}/tickets/{{ticket}}": {"parameters": TICKET, "get": {
            "security": BEARER,
            "responses": {**ok("{ticket,status,order_id,reason}"), **errors(401, 404)}}},
        f"{PREFIX}/tickets/{{ticket}}/events": {"parameters": TICKET, "get": {
            "summary": "Server-sent events `status` until the ticket is final",
            "security": BEARER,
            "responses": {**ok("event stream", media="text/event-stream"),
                          **errors(401, 404, 429)}}},
        f"{PREFIX}/orders": {"get": {
            "summary": "My orders (admin: all, or one user's with ?user=)", "security": BEARER,
            "parameters": [*PAGE, {"name": "user", "in": "query", "schema": user_param}],
            "responses": {**ok("{count,next,previous,results}"), **errors(400, 401)}}},
        f"{PREFIX}/orders/{{id}}": {"parameters": ID, "get": {
            "security": BEARER,
            "responses": {**ok("{id,item_id,user_id,ticket,price,status,created_at,pay_by,"
                                "paid_at}"), **errors(401, 404)}}},
        f"{PREFIX}/orders/{{id}}/payment": {"parameters": ID, "post": {
            "summary": "Pay before pay_by (idempotent)", "security": BEARER,
            "responses": {**ok("the paid order"), **errors(401, 403, 404, 409)}}},
    }
    return openapi_document("seckill", paths, [ItemIn])
