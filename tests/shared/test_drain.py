"""The drain state every service app carries (shared.drain): /readyz while draining, and
`stopping` set by aiohttp's shutdown, and a stop (`serve`, signalled) waiting for a body
still arriving. The stop of the real processes: tests/e2e/test_drain.py."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from shared.drain import DRAIN_KEY, serve
from shared.embedded_redis import free_port
from shared.http import create_base_app


async def test_draining_turns_readiness_off_but_keeps_serving() -> None:
    app = create_base_app("test")
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/readyz")).status == 200
        app[DRAIN_KEY].draining = True
        response = await client.get("/readyz")
        assert response.status == 503
        assert await response.json() == {"status": "draining", "checks": {}}
        assert (await client.get("/healthz")).status == 200
        assert not app[DRAIN_KEY].stopping.is_set()
    assert app[DRAIN_KEY].stopping.is_set()  # the server's shutdown ran on_shutdown


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for _ in range(100):
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@pytest.mark.timeout(30)
async def test_a_stop_waits_for_a_request_body_still_arriving() -> None:
    """aiohttp's own stop reads nothing more from a connection it closes: without the wait,
    the rest of this body would be dropped and the handler cancelled at the deadline."""
    app = create_base_app("test")
    reading = asyncio.Event()

    async def upload(request: web.Request) -> web.Response:
        reading.set()
        return web.json_response({"received": len(await request.read())})

    app.router.add_post("/upload", upload)
    port = free_port()
    server = asyncio.create_task(serve(app, "127.0.0.1", port, drain_s=0.1,
                                       shutdown_timeout_s=5))
    reader, writer = await _connect(port)
    writer.write(b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n12345")
    await writer.drain()
    await asyncio.wait_for(reading.wait(), 5)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.5)  # past the drain period: the listening socket is closed
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    assert not server.done()  # still waiting for the body
    writer.write(b"67890")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)  # to the end: the connection closes
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b'{"received": 10}')
    await asyncio.wait_for(server, 5)
