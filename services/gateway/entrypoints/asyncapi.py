"""`/api/v1/asyncapi.json`: the AsyncAPI 3.0 document of every stream, built in `shared`
from the event registry (the gateway imports no service), and `/api/asyncapi`, a page that
lists its channels and messages."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from shared.asyncapi import asyncapi_document
from shared.http import json_response

PAGE = Path(__file__).with_name("asyncapi.html")


async def serve_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE)


def add_routes(app: web.Application) -> None:
    # Built here, at start: building takes most of a second of CPU, which would stall every
    # request in flight if the first ask built it.
    document = asyncapi_document()

    async def serve_document(request: web.Request) -> web.Response:
        return json_response(document)

    app.router.add_get("/api/v1/asyncapi.json", serve_document)
    app.router.add_get("/api/asyncapi", serve_page)
