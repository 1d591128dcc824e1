"""Graceful drain on SIGTERM, on real processes: a seckill service behind a gateway, and a
gateway, each started next to the session's platform (its Redis, databases and keys) and
sent SIGTERM with a request in flight (an attempt whose admission waits in a Redis paused
for writes) and an event stream open (a ticket that stays pending).

(A request still uploading its body is not "in flight" for aiohttp: a closing connection
reads no more data, so only handlers already running are waited for.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from services.seckill.adapters.keys import Keys
from services.seckill.settings import Settings as SeckillSettings
from shared.embedded_redis import DEFAULT_PORT, free_port
from shared.redis import make_redis
from tests.e2e.conftest import login
from tests.support.platform import Platform
from tests.support.waiting import eventually

DRAIN_S = 3.0  # long enough to see readiness off and a request served on a loaded machine
SHUTDOWN_TIMEOUT_S = 8.0


class Server:
    """One `coursestream serve` process of the test's own."""

    def __init__(self, service: str, platform: Platform, workdir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{service}-{self.port}.log"
        child_env = {k: v for k, v in os.environ.items()
                     if not k.endswith("_DATABASE_URL") and k not in {"REDIS_URL", "ENV"}}
        child_env.update({
            "VAR_DIR": str(platform.var_dir), "PUBLIC_BASE_URL": platform.url, "LOG_JSON": "true",
            "REDIS_URL": redis_url(platform),
            "CONSUMER_NAME": f"drain-test-{self.port}", "GATEWAY_ADMIN_PORT": str(free_port()),
            "DRAIN_S": str(DRAIN_S), "SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S),
            **{f"{name.upper()}_URL": platform.service_url(name)
               for name in ("catalog", "seckill", "scheduler")},
            **env,
        })
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "coursestream", "serve", service, "--port", str(self.port)],
                env=child_env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(SHUTDOWN_TIMEOUT_S + 5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def _status(http: aiohttp.ClientSession, url: str) -> int | None:
    try:
        async with http.get(url) as response:
            return response.status
    except aiohttp.ClientConnectionError:
        return None


async def ready(http: aiohttp.ClientSession, *servers: Server) -> None:
    async def all_ready() -> bool:
        for server in servers:
            assert server.process.poll() is None, server.log()
        return all([await _status(http, s.url + "/readyz") == 200 for s in servers])

    await eventually(all_ready, within=60, every=0.2)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def redis_url(platform: Platform) -> str:
    return f"redis://127.0.0.1:{DEFAULT_PORT + platform.base_port - 8000}/0"


async def pending_ticket(platform: Platform, user_id: int) -> str:
    """A ticket that stays pending (no order request behind it), for its event stream."""
    ticket = f"1-{uuid.uuid4().hex}"
    redis = make_redis(redis_url(platform))
    key = Keys(SeckillSettings().seckill_partitions).ticket(ticket)
    await redis.hset(key, mapping={"status": "pending", "user_id": user_id, "item_id": 1,
                                   "order_id": "", "reason": ""})
    await redis.expire(key, 120)
    await redis.aclose()
    return ticket


@contextlib.asynccontextmanager
async def event_stream(http: aiohttp.ClientSession, url: str,
                       headers: dict[str, str]) -> AsyncIterator[asyncio.Queue[tuple[str, str]]]:
    """The stream's events `(event, data)` as they come; `("", "")` when it ends."""
    events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def read() -> None:
        async with http.get(url, headers=headers) as response:
            assert response.status == 200, await response.text()
            event = ""
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    await events.put((event, line.removeprefix("data: ")))
        await events.put(("", ""))

    reader = asyncio.create_task(read())
    try:
        yield events
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


class PausedWrites:
    """Redis holds every write (`CLIENT PAUSE ... WRITE`) until `resume`: an attempt's
    admission script waits there, so its request stays in flight as long as the test wants."""

    def __init__(self, platform: Platform) -> None:
        self.redis = make_redis(redis_url(platform))

    async def pause(self) -> None:
        await self.redis.execute_command("CLIENT", "PAUSE", 30_000, "WRITE")

    async def a_script_waits(self) -> bool:
        clients = await self.redis.client_list()
        return any("b" in c["flags"] and c["cmd"] in ("eval", "evalsha", "fcall")
                   for c in clients)

    async def resume(self) -> None:
        await self.redis.execute_command("CLIENT", "UNPAUSE")

    async def aclose(self) -> None:
        await self.resume()
        await self.redis.aclose()


@pytest.fixture
async def paused_writes(platform: Platform) -> AsyncIterator[PausedWrites]:
    paused = PausedWrites(platform)
    yield paused
    await paused.aclose()


async def new_live_item(http: aiohttp.ClientSession, platform: Platform,
                        admin_headers: dict[str, str]) -> int:
    now = datetime.now(UTC)
    item = {"course_id": 1, "title": "drain test", "price": "1.00", "stock": 5,
            "starts_at": (now - timedelta(seconds=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat()}
    async with http.post(f"{platform.url}/api/v1/seckill/items", json=item,
                         headers=admin_headers) as response:
        assert response.status == 201, await response.text()
        return int((await response.json())["id"])


async def attempt_in_flight(http: aiohttp.ClientSession, url: str, headers: dict[str, str],
                            paused: PausedWrites) -> asyncio.Task[int]:
    """An attempt that waits in paused Redis: its status once Redis resumes."""
    async def attempt() -> int:
        async with http.post(url, headers=headers) as response:
            return response.status

    task = asyncio.create_task(attempt())
    await eventually(paused.a_script_waits, within=10)
    return task


async def sigterm_and_check_drain(http: aiohttp.ClientSession, server: Server) -> None:
    """SIGTERM: /readyz 503 at once while a new request is still served, then new
    connections refused."""
    server.process.send_signal(signal.SIGTERM)

    async def not_ready() -> bool:
        return await _status(http, server.url + "/readyz") == 503

    await eventually(not_ready, within=DRAIN_S - 1, every=0.05)
    # A new connection, still served (/healthz: Redis holds writes, which an API request
    # through the gateway's rate limits would wait for).
    async with http.get(server.url + "/healthz") as response:
        assert response.status == 200

    async def refused() -> bool:
        return await _status(http, server.url + "/healthz") is None

    await eventually(refused, within=DRAIN_S + 5, every=0.1)


async def test_a_seckill_service_drains_behind_a_gateway(
    http: aiohttp.ClientSession, platform: Platform, servers: list[Server], tmp_path: Path,
    admin_headers: dict[str, str], paused_writes: PausedWrites,
) -> None:
    seckill = Server("seckill", platform, tmp_path)
    gateway = Server("gateway", platform, tmp_path, SECKILL_URL=seckill.url)
    servers += [gateway, seckill]
    await ready(http, seckill, gateway)
    item_id = await new_live_item(http, platform, admin_headers)
    user = await login(http, platform, "13900000000", "user12345")
    headers = {"Authorization": f"Bearer {user['access_token']}"}
    ticket = await pending_ticket(platform, user["user"]["id"])
    async with event_stream(http, f"{gateway.url}/api/v1/seckill/tickets/{ticket}/events",
                            headers) as events:
        first = await asyncio.wait_for(events.get(), 10)
        assert first[0] == "status" and json.loads(first[1])["status"] == "pending"
        await paused_writes.pause()
        attempt = await attempt_in_flight(
            http, f"{seckill.url}/api/v1/seckill/items/{item_id}/attempts", headers,
            paused_writes)
        await sigterm_and_check_drain(http, seckill)
        await paused_writes.resume()
        assert await asyncio.wait_for(attempt, 10) == 202  # in flight across the stop
        final = await asyncio.wait_for(events.get(), SHUTDOWN_TIMEOUT_S)
        assert final[0] == "shutdown" and json.loads(final[1])["status"] == "pending"
        assert await asyncio.wait_for(events.get(), 5) == ("", "")  # and the stream ended
    assert seckill.process.wait(SHUTDOWN_TIMEOUT_S) == 0, seckill.log()
    assert "stop deadline passed" not in seckill.log()


async def test_a_gateway_drains_and_ends_the_event_streams_it_relays(
    http: aiohttp.ClientSession, platform: Platform, servers: list[Server], tmp_path: Path,
    admin_headers: dict[str, str], paused_writes: PausedWrites,
) -> None:
    gateway = Server("gateway", platform, tmp_path)
    servers.append(gateway)
    await ready(http, gateway)
    item_id = await new_live_item(http, platform, admin_headers)
    user = await login(http, platform, "13900000000", "user12345")
    headers = {"Authorization": f"Bearer {user['access_token']}"}
    ticket = await pending_ticket(platform, user["user"]["id"])
    async with event_stream(http, f"{gateway.url}/api/v1/seckill/tickets/{ticket}/events",
                            headers) as events:
        assert (await asyncio.wait_for(events.get(), 10))[0] == "status"
        await paused_writes.pause()
        attempt = await attempt_in_flight(
            http, f"{gateway.url}/api/v1/seckill/items/{item_id}/attempts", headers,
            paused_writes)
        await sigterm_and_check_drain(http, gateway)
        await paused_writes.resume()
        assert await asyncio.wait_for(attempt, 10) == 202
        assert await asyncio.wait_for(events.get(), SHUTDOWN_TIMEOUT_S) == ("shutdown", "{}")
        assert await asyncio.wait_for(events.get(), 5) == ("", "")
    assert gateway.process.wait(SHUTDOWN_TIMEOUT_S) == 0, gateway.log()
    assert "stop deadline passed" not in gateway.log()
