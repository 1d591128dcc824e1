"""CORS on `/api/...` for the origins of `CORS_ALLOWED_ORIGINS` (none by default: the web
client is same-origin and needs none). A preflight from a listed origin, for a method and
headers the API takes, is answered here with 204; any other preflight is a 403 problem. Every
API answer says `Vary: Origin`; one to a listed origin names it in
`Access-Control-Allow-Origin` and exposes the headers a client reads. Bearer tokens, not
cookies, so no credentials mode.

The API document says the same (`described`, `preflights`): these headers on every answer,
and, where origins are listed, each path's preflight.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import hdrs, web

from services.gateway.entrypoints.compression import add_vary
from shared.metrics import Handler
from shared.openapi import PROBLEM
from shared.problems import Problem

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# What the API reads besides the CORS-safelisted headers (lower case, as compared).
REQUEST_HEADERS = frozenset({"authorization", "content-type", "idempotency-key", "x-request-id",
                             "x-correlation-id", "traceparent", "tracestate"})
EXPOSED = "Retry-After, RateLimit, RateLimit-Policy, X-Request-ID, Location"
MAX_AGE_S = 600  # how long a browser may reuse a preflight (Chromium caps it at 7200)

# The document's `components.headers`: what `_headers` puts on every API answer.
HEADERS: dict[str, Any] = {
    "Vary": {"description": "request headers the answer depends on: `Origin` when CORS is on "
                            "(CORS_ALLOWED_ORIGINS), `Accept-Encoding` when it may be compressed",
             "schema": {"type": "string"}},
    "Access-Control-Allow-Origin": {
        "description": "the request's `Origin`, when it is one of CORS_ALLOWED_ORIGINS (absent "
                       "otherwise)", "schema": {"type": "string"}},
    "Access-Control-Expose-Headers": {
        "description": "the headers a cross-origin client may read (with an allowed origin)",
        "schema": {"type": "string", "const": EXPOSED}},
}
HEADER_REFS = {name: {"$ref": f"#/components/headers/{name}"} for name in HEADERS}


def described(paths: dict[str, Any]) -> dict[str, Any]:
    """`paths` with the CORS headers named on every answer of every operation (a problem
    answer carries them in `components.responses.Problem`)."""
    return {path: {method: operation if method == "parameters" else {
        **operation, "responses": {status: _with_headers(answer)
                                   for status, answer in operation["responses"].items()}}
        for method, operation in item.items()} for path, item in paths.items()}


def _with_headers(answer: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in answer:
        return answer
    return {**answer, "headers": {**answer.get("headers", {}), **HEADER_REFS}}


class Cors:
    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = frozenset(origins)

    def preflights(self, paths: dict[str, Any]) -> dict[str, Any]:
        """`paths` with the preflight (OPTIONS) of each, where origins are listed."""
        if not self.origins:
            return paths
        return {path: {**item, "options": self._preflight_operation()}
                for path, item in paths.items()}

    def _preflight_operation(self) -> dict[str, Any]:
        def header(name: str, schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
            return {"name": name, "in": "header", "required": required, "schema": schema}

        allowed = {name: {"schema": {"type": "string"}} for name in (
            "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
            "Access-Control-Max-Age")}
        return {
            "summary": "CORS preflight, answered by the gateway",
            "parameters": [
                header("Origin", {"type": "string", "enum": sorted(self.origins)}),
                header("Access-Control-Request-Method", {"type": "string", "enum": list(METHODS)}),
                header("Access-Control-Request-Headers", {"type": "string"}, required=False),
            ],
            "responses": {
                "204": {"description": "allowed (request headers named: "
                                       f"{', '.join(sorted(REQUEST_HEADERS))})",
                        "headers": {**allowed, **HEADER_REFS}},
                "403": PROBLEM,
                "405": PROBLEM,  # no Access-Control-Request-Method: not a preflight
                "429": PROBLEM,
            },
        }

    def setup(self, app: web.Application) -> None:
        if self.origins:
            app.middlewares.append(self._preflight)
            app.on_response_prepare.append(self._headers)

    @web.middleware
    async def _preflight(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        method = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_METHOD)
        if request.method != "OPTIONS" or method is None or not request.path.startswith("/api/"):
            return await handler(request)
        origin = request.headers.get(hdrs.ORIGIN, "")
        asked = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS, "")
        names = {name.strip().lower() for name in asked.split(",")} - {""}
        if origin not in self.origins or method not in METHODS or not names <= REQUEST_HEADERS:
            raise Problem(403, "cors-refused",
                          f"A cross-origin {method} from {origin or 'no origin'} with headers "
                          f"[{asked}] is not allowed.")
        headers = {hdrs.ACCESS_CONTROL_ALLOW_METHODS: ", ".join(METHODS),
                   hdrs.ACCESS_CONTROL_MAX_AGE: str(MAX_AGE_S),
                   hdrs.VARY: "Access-Control-Request-Method, Access-Control-Request-Headers"}
        if names:
            headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = ", ".join(sorted(names))
        return web.Response(status=204, headers=headers)

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        if not request.path.startswith("/api/"):
            return
        add_vary(response.headers, hdrs.ORIGIN)
        origin = request.headers.get(hdrs.ORIGIN)
        if origin in self.origins:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
            response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSED
