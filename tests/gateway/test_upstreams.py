"""Replicas behind the proxy, against real upstream HTTP servers: spread, breaker, retries,
deadlines, the in-flight cap and the gauges."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from shared.embedded_redis import free_port
from tests.gateway.conftest import GatewayFactory, assert_problem
from tests.gateway.upstreams import Upstream

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
async def replicas() -> AsyncIterator[list[Upstream]]:
    servers = [await Upstream("seckill").start() for _ in range(2)]
    yield servers
    for server in servers:
        await server.stop()


async def replicated(make_gateway: GatewayFactory, replicas: list[Upstream],
                     **overrides: Any) -> TestClient:
    return await make_gateway(upstream_seckill_urls=[r.url for r in replicas], **overrides)


async def answered_by(gateway: TestClient, method: str = "GET") -> tuple[int, int]:
    """(status, port of the replica) of one request."""
    response = await gateway.request(method, "/api/v1/seckill/items")
    port = int((await response.json())["headers"]["host"].rsplit(":", 1)[1]) \
        if response.status == 200 else 0
    return response.status, port


async def gauges(admin_port: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://127.0.0.1:{admin_port}/metrics") as response:
        text = await response.text()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("gateway_upstream_replica_")}


async def test_requests_spread_over_both_replicas(
    make_gateway: GatewayFactory, replicas: list[Upstream]
) -> None:
    gateway = await replicated(make_gateway, replicas)
    ports = Counter([(await answered_by(gateway))[1] for _ in range(40)])
    assert set(ports) == {r.port for r in replicas}
    assert min(ports.values()) >= 8


async def test_a_killed_replica_is_ejected_traffic_moves_and_it_comes_back(
    make_gateway: GatewayFactory, replicas: list[Upstream]
) -> None:
    admin_port = free_port()
    gateway = await replicated(make_gateway, replicas, gateway_admin_port=admin_port,
                               upstream_eject_after=2, upstream_eject_s=0.5,
                               upstream_check_every_s=60)
    dead, alive = replicas
    await dead.stop()
    # Refused connections are retried on the other replica, whatever the method.
    for method in ("GET", "POST") * 5:
        assert await answered_by(gateway, method) == (200, alive.port)
    breaker = f'gateway_upstream_replica_breaker{{replica="{dead.url}",upstream="seckill"}}'
    assert (await gauges(admin_port))[breaker] == 1.0  # open

    await dead.start()
    await asyncio.sleep(0.6)  # past the ejection: one half-open probe, then closed
    ports = Counter([(await answered_by(gateway))[1] for _ in range(40)])
    assert ports[dead.port] >= 5
    assert (await gauges(admin_port))[breaker] == 0.0


async def test_a_replica_whose_readyz_outlasts_the_check_timeout_is_taken_out(
    make_gateway: GatewayFactory, replicas: list[Upstream]
) -> None:
    admin_port = free_port()
    gateway = await replicated(make_gateway, replicas, gateway_admin_port=admin_port,
                               upstream_check_every_s=0.1, upstream_check_timeout_s=0.2,
                               upstream_unhealthy_after=1, upstream_eject_after=100)
    slow, fast = replicas
    slow.delay_s = 1.0  # every answer, /readyz included, comes after the check gave up
    healthy = f'gateway_upstream_replica_healthy{{replica="{slow.url}",upstream="seckill"}}'
    for _ in range(50):
        if (await gauges(admin_port))[healthy] == 0.0:
            break
        await asyncio.sleep(0.1)
    assert (await gauges(admin_port))[healthy] == 0.0
    assert {await answered_by(gateway) for _ in range(10)} == {(200, fast.port)}


async def test_a_slow_replica_times_out_and_only_reads_are_retried(
    make_gateway: GatewayFactory, replicas: list[Upstream], capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = await replicated(make_gateway, replicas, upstream_try_timeout_s=0.3,
                               upstream_eject_after=100)
    slow, fast = replicas
    slow.delay_s = 2.0
    reads: list[tuple[int, int]] = []
    retried = False
    while not retried and len(reads) < 30:
        reads.append(await answered_by(gateway))
        retried = "retrying upstream elsewhere" in capsys.readouterr().out
    assert retried and set(reads) == {(200, fast.port)}  # the slow one tried, then the other
    writes: list[tuple[int, int]] = []
    while len(set(writes)) < 2 and len(writes) < 30:
        writes.append(await answered_by(gateway, "POST"))
    assert set(writes) == {(200, fast.port), (504, 0)}  # a write that timed out stays so


async def test_the_route_deadline_is_a_504_problem(
    make_gateway: GatewayFactory, replicas: list[Upstream]
) -> None:
    gateway = await replicated(make_gateway, replicas, upstream_deadlines_s={"seckill": 0.3})
    for replica in replicas:
        replica.delay_s = 2.0
    await assert_problem(await gateway.get("/api/v1/seckill/items"), 504, "upstream-timeout")


async def test_the_route_deadline_cuts_a_streamed_answer_but_not_an_event_stream(
    make_gateway: GatewayFactory, replicas: list[Upstream]
) -> None:
    gateway = await replicated(make_gateway, replicas, upstream_deadlines_s={"seckill": 0.5})
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await gateway.get("/api/v1/seckill/dribble")
    assert response.status == 200  # begun before the deadline: only closing it is left
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    assert loop.time() - started < 2.0  # the upstream would have gone on for 5 s

    events = await gateway.get("/api/v1/seckill/tickets/t1/events")
    assert events.headers["Content-Type"].startswith("text/event-stream")
    await asyncio.sleep(0.8)  # past the route's deadline
    for replica in replicas:
        replica.release.set()
    assert (await events.read()).endswith(b"data: success\n\n")


async def test_the_route_deadline_bounds_a_slow_upload_with_a_504_problem(
    make_gateway: GatewayFactory, replicas: list[Upstream]
) -> None:
    gateway = await replicated(make_gateway, replicas, upstream_deadlines_s={"seckill": 0.5})

    async def dribbled() -> AsyncIterator[bytes]:
        for _ in range(30):  # 6 s of upload
            yield b"x" * 10
            await asyncio.sleep(0.2)

    started = asyncio.get_running_loop().time()
    response = await gateway.post("/api/v1/seckill/items", data=dribbled())
    await assert_problem(response, 504, "request-timeout")
    assert asyncio.get_running_loop().time() - started < 2.0
    assert sum(replica.echoed for replica in replicas) == 0  # nothing was forwarded


async def test_past_the_in_flight_cap_a_503_with_retry_after_event_streams_counted(
    make_gateway: GatewayFactory, replicas: list[Upstream]
) -> None:
    gateway = await replicated(make_gateway, replicas[:1], upstream_max_in_flight=1)
    stream = await gateway.get("/api/v1/seckill/tickets/t1/events")
    assert await stream.content.readuntil(b"\n\n") == b"event: status\ndata: pending\n\n"
    response = await gateway.get("/api/v1/seckill/items")
    await assert_problem(response, 503, "upstream-busy")
    assert response.headers["Retry-After"] == "1"
    replicas[0].release.set()
    await stream.read()
    assert (await answered_by(gateway))[0] == 200


async def test_a_hostname_is_resolved_into_replicas_of_its_addresses(
    make_gateway: GatewayFactory, replicas: list[Upstream]
) -> None:
    admin_port = free_port()
    gateway = await make_gateway(gateway_admin_port=admin_port, upstream_seckill_urls=[
        f"http://localhost:{replicas[0].port}", replicas[1].url])
    assert (await answered_by(gateway))[0] == 200
    # localhost is 127.0.0.1 here (and ::1 where /etc/hosts says so: a replica more).
    found = {key for key in await gauges(admin_port) if key.startswith(
        "gateway_upstream_replica_healthy") and 'upstream="seckill"' in key}
    assert {f'gateway_upstream_replica_healthy{{replica="{r.url}",upstream="seckill"}}'
            for r in replicas} <= found
    assert not any("localhost" in key for key in found)


async def test_the_api_document_comes_from_a_replica_that_answers(
    make_gateway: GatewayFactory, replicas: list[Upstream]
) -> None:
    gateway = await replicated(make_gateway, replicas)
    await replicas[0].stop()  # the first listed is down: the second gives the document
    document = await (await gateway.get("/api/v1/openapi.json")).json()
    assert "/api/v1/seckill/items" in document["paths"]
    assert "seckill" not in document["info"].get("x-missing", [])
