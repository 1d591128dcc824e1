"""The seckill OpenAPI document (`GET /api/v1/seckill/openapi.json`), for the gateway to
merge. Bodies and query parameters come from the pydantic models that validate them; answers
are described in docs/seckill.md."""

from __future__ import annotations

from typing import Any

from services.seckill.entrypoints.schemas import ItemIn, OrdersQuery

PREFIX = "/api/v1/seckill"
PROBLEM = {"description": "problem+json", "content": {"application/problem+json": {
    "schema": {"$ref": "#/components/schemas/Problem"}}}}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
TICKET = [{"name": "ticket", "in": "path", "required": True, "schema": {"type": "string"}}]
PAGE = [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "page_size", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": 100}}]


def _ok(description: str, status: str = "200", media: str = "application/json") -> Any:
    return {status: {"description": description, "content": {media: {}}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): PROBLEM for s in statuses}


def document() -> dict[str, Any]:
    item_in = ItemIn.model_json_schema(ref_template="#/components/schemas/{model}")
    user_param = OrdersQuery.model_json_schema()["properties"]["user"]
    paths: dict[str, Any] = {
        f"{PREFIX}/items": {
            "get": {"summary": "Seckill items; remaining and state from Redis",
                    "parameters": PAGE,
                    "responses": {**_ok("{count,next,previous,results}"), **_errors(400)}},
            "post": {"summary": "Create an item (admin); its stock is loaded into Redis",
                     "security": BEARER, "requestBody": {"required": True, "content": {
                         "application/json": {"schema": {"$ref": "#/components/schemas/ItemIn"}}}},
                     "responses": {**_ok("the item", "201"), **_errors(400, 401, 403, 422)}},
        },
        f"{PREFIX}/items/{{id}}": {"parameters": ID, "get": {
            "responses": {**_ok("{id,course_id,title,price,stock,remaining,starts_at,ends_at,"
                                "state}"), **_errors(404)}}},
        f"{PREFIX}/items/{{id}}/attempts": {"parameters": ID, "post": {
            "summary": "One attempt, decided in Redis (Idempotency-Key optional)",
            "security": BEARER,
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": 64}}],
            "responses": {**_ok('{ticket,status:"pending",links{self,events}}', "202"),
                          **_errors(400, 401, 404, 409, 429, 503)}}},
        f"{PREFIX}/tickets/{{ticket}}": {"parameters": TICKET, "get": {
            "security": BEARER,
            "responses": {**_ok("{ticket,status,order_id,reason}"), **_errors(401, 404)}}},
        f"{PREFIX}/tickets/{{ticket}}/events": {"parameters": TICKET, "get": {
            "summary": "Server-sent events `status` until the ticket is final",
            "security": BEARER,
            "responses": {**_ok("event stream", media="text/event-stream"),
                          **_errors(401, 404)}}},
        f"{PREFIX}/orders": {"get": {
            "summary": "My orders (admin: all, or one user's with ?user=)", "security": BEARER,
            "parameters": [*PAGE, {"name": "user", "in": "query", "schema": user_param}],
            "responses": {**_ok("{count,next,previous,results}"), **_errors(400, 401)}}},
        f"{PREFIX}/orders/{{id}}": {"parameters": ID, "get": {
            "security": BEARER,
            "responses": {**_ok("{id,item_id,user_id,ticket,price,status,created_at,pay_by,"
                                "paid_at}"), **_errors(401, 404)}}},
        f"{PREFIX}/orders/{{id}}/payment": {"parameters": ID, "post": {
            "summary": "Pay before pay_by (idempotent)", "security": BEARER,
            "responses": {**_ok("the paid order"), **_errors(401, 403, 404, 409)}}},
    }
    components: dict[str, Any] = {"Problem": {"type": "object", "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}},
    }}, **item_in.pop("$defs", {}), "ItemIn": item_in}
    return {
        "openapi": "3.1.0",
        "info": {"title": "coursestream seckill", "version": "1"},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
