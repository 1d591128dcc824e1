"""The drain state every service app carries (shared.drain): /readyz while draining, and
`stopping` set by aiohttp's shutdown. The stop itself, on real processes:
tests/e2e/test_drain.py."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from shared.drain import DRAIN_KEY
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
