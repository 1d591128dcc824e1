"""The floor for a proxy in one aiohttp process: no middlewares, no headers forwarded, one
pooled session, the same method and path upstream (no body), read the answer whole, answer it.
Not a usable proxy; a measuring stick for the gateway (`bench.cpu_per_request` runs it in
front of the catalog, `bench.seckill` in front of the bare admission handler).

    .venv/bin/python -m bench.minimal_proxy <port> <upstream base URL>
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import aiohttp
import uvloop
from aiohttp import web

SESSION_KEY = web.AppKey("session", aiohttp.ClientSession)


async def forward(request: web.Request) -> web.Response:
    upstream_base: str = request.app["upstream"]
    async with request.app[SESSION_KEY].request(
        request.method, upstream_base + request.raw_path
    ) as upstream:
        body = await upstream.read()
        return web.Response(body=body, status=upstream.status,
                            content_type=upstream.content_type)


async def session(app: web.Application) -> AsyncIterator[None]:
    app[SESSION_KEY] = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
    )
    yield
    await app[SESSION_KEY].close()


def main() -> None:
    app = web.Application()
    app["upstream"] = sys.argv[2].rstrip("/")
    app.cleanup_ctx.append(session)
    app.router.add_route("*", "/{tail:.*}", forward)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None,
                loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
