"""Real upstream HTTP servers for the proxy tests: an echo app with a few special paths."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from aiohttp import web

from shared.embedded_redis import free_port
from shared.http import conditional, json_response

WAIT_S = 5.0  # every wait in an upstream is bounded


@dataclass
class Upstream:
    name: str
    port: int = 0
    runner: web.AppRunner | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    echoed: int = 0  # requests answered by `echo`
    delay_s: float = 0.0  # before `echo` answers (a slow replica)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Upstream:
        app = web.Application()
        app.router.add_get("/api/v1/seckill/tickets/t1/events", self.events)
        app.router.add_get("/api/v1/catalog/slow", self.slow)
        app.router.add_get("/api/v1/catalog/broken", self.broken)
        app.router.add_get("/api/v1/catalog/fixed", self.fixed)
        app.router.add_get("/api/v1/catalog/sized", self.sized)
        app.router.add_get("/api/v1/seckill/dribble", self.dribble)
        app.router.add_get(f"/api/v1/{self.name}/openapi.json", self.openapi)
        app.router.add_route("*", "/{tail:.*}", self.echo)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        self.port = self.port or free_port()  # a restarted upstream keeps its port
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        self.release.set()
        if self.runner is not None:
            await self.runner.cleanup()

    async def echo(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay_s)
        self.echoed += 1
        body = await request.read()
        return web.json_response(
            {
                "upstream": self.name,
                "method": request.method,
                "path_qs": request.path_qs,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": body.decode(),
            },
            status=int(request.query.get("status", "200")),
            headers={"X-Upstream": self.name, "Connection": "keep-alive"},
        )

    async def openapi(self, request: web.Request) -> web.Response:
        """A document whose `Problem` differs from the gateway's, and an `Item` of its own."""
        return web.json_response({
            "openapi": "3.1.0", "info": {"title": self.name, "version": "1"},
            "paths": {f"/api/v1/{self.name}/items": {"get": {"responses": {"200": {
                "description": "items", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Problem"}}}}}}}},
            "components": {"schemas": {"Problem": {"type": "string", "x-from": self.name},
                                       "Item": {"type": "object"}}},
        })

    async def fixed(self, request: web.Request) -> web.Response:
        return web.Response(body=b'{"fixed":true}', content_type="application/json")

    async def sized(self, request: web.Request) -> web.Response:
        """A JSON list of about `?bytes=` bytes, revalidatable as the services' reads are."""
        count = int(request.query.get("bytes", "5000")) // 13
        return conditional(request, json_response([f"item {n:06d}" for n in range(count)]),
                           "public, max-age=10")

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: one event, then wait for the test's go, then the last one."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"event: status\ndata: pending\n\n")
        await asyncio.wait_for(self.release.wait(), WAIT_S)
        await response.write(b"event: status\ndata: success\n\n")
        await response.write_eof()
        self.finished.set()
        return response

    async def dribble(self, request: web.Request) -> web.StreamResponse:
        """A chunked JSON answer of one chunk every 0.1 s, for WAIT_S seconds."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b"[0")
        for n in range(1, int(WAIT_S * 10)):
            await asyncio.sleep(0.1)
            await response.write(b",%d" % n)
        await response.write(b"]")
        await response.write_eof()
        return response

    async def slow(self, request: web.Request) -> web.Response:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.release.wait(), WAIT_S)
        return web.json_response({"late": True})

    async def broken(self, request: web.Request) -> web.StreamResponse:
        """Starts a chunked answer, then drops the connection."""
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"partial")
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.close()
        return response
