"""Two seckill processes behind one more gateway, beside the platform: the load spreads, a
paused replica times out (a read is retried on the other, a write is not), a killed one is
ejected while traffic moves, and comes back."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import pytest

from shared.embedded_redis import free_port
from tests.support.platform import Platform
from tests.support.served import Served

pytestmark = pytest.mark.timeout(180)
ITEMS = "/api/v1/seckill/items"


@dataclass
class Replicas:
    gateway: Served
    admin_port: int
    seckill: list[Served]

    def gauge(self, name: str, replica: Served) -> float | None:
        text = _get(f"http://127.0.0.1:{self.admin_port}/metrics")
        found = re.search(rf'gateway_upstream_replica_{name}\{{replica="{replica.url}",'
                          rf'upstream="seckill"\}} (\S+)', text)
        return float(found.group(1)) if found else None

    def available(self, replica: Served) -> bool:
        return self.gauge("healthy", replica) == 1 and self.gauge("breaker", replica) == 0

    async def back(self, http: aiohttp.ClientSession, replica: Served) -> None:
        """Until `replica` passes its checks and (after a half-open probe) its breaker is
        closed, with reads going through the gateway to probe it."""
        deadline = time.monotonic() + 30
        while not self.available(replica):
            assert time.monotonic() < deadline, f"{replica.url} did not come back in 30 s"
            assert set(await statuses(http, self, "GET", 2)) == {200}
            await asyncio.sleep(0.2)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def served_reads(replica: Served) -> float:
    """GET /items answered by this process, from its own metrics."""
    text = _get(f"{replica.url}/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("http_requests_total{") and f'route="{ITEMS}"' in line
               and 'method="GET"' in line)


@pytest.fixture(scope="module")
def replicas(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    logs = tmp_path_factory.mktemp("replicas")
    seckill = [Served("seckill", platform, logs / f"seckill-{i}.log",
                      env={"CONSUMER_NAME": f"replica-{i}"}) for i in range(2)]
    admin_port = free_port()
    gateway = Served("gateway", platform, logs / "gateway.log", env={
        "UPSTREAM_SECKILL_URLS": json.dumps([s.url for s in seckill]),
        "CATALOG_URL": platform.service_url("catalog"),
        "SCHEDULER_URL": platform.service_url("scheduler"),
        "GATEWAY_ADMIN_PORT": str(admin_port), "RATE_LIMITS_ENABLED": "false",
        "UPSTREAM_CHECK_EVERY_S": "0.5", "UPSTREAM_UNHEALTHY_AFTER": "5",
        "UPSTREAM_EJECT_AFTER": "5", "UPSTREAM_EJECT_S": "1", "UPSTREAM_TRY_TIMEOUT_S": "1",
    })
    try:
        for process in (*seckill, gateway):
            process.start()
        yield Replicas(gateway, admin_port, seckill)
    finally:
        for process in (gateway, *seckill):
            process.stop()


async def statuses(http: aiohttp.ClientSession, replicas: Replicas, method: str,
                   count: int) -> list[int]:
    found = []
    for _ in range(count):
        async with http.request(method, replicas.gateway.url + ITEMS) as response:
            await response.read()
            found.append(response.status)
    return found


async def test_one_gateway_spreads_reads_over_two_seckill_processes(
    http: aiohttp.ClientSession, replicas: Replicas
) -> None:
    before = [served_reads(s) for s in replicas.seckill]

    async def reader() -> list[int]:
        return await statuses(http, replicas, "GET", 20)

    answers = await asyncio.gather(*(reader() for _ in range(4)))  # 4 pooled connections
    assert {s for batch in answers for s in batch} == {200}
    served = [served_reads(s) - b for s, b in zip(replicas.seckill, before, strict=True)]
    assert sum(served) == 80
    assert min(served) >= 20, served


async def test_a_paused_replica_times_out_reads_are_retried_writes_are_not(
    http: aiohttp.ClientSession, replicas: Replicas
) -> None:
    paused = replicas.seckill[0]
    paused.signal(signal.SIGSTOP)
    try:
        # An anonymous write is refused by a live replica (401) and changes nothing; one that
        # reached the paused replica is a 504, never tried again elsewhere.
        writes: list[int] = []
        while 504 not in writes and len(writes) < 12:
            writes += await statuses(http, replicas, "POST", 1)
        assert writes[-1] == 504 and set(writes) <= {401, 504}
        log = replicas.gateway.log
        retried = log().count("retrying upstream elsewhere")
        reads: list[int] = []
        while log().count("retrying upstream elsewhere") == retried and len(reads) < 12:
            reads += await statuses(http, replicas, "GET", 1)
        assert set(reads) == {200}
        assert log().count("retrying upstream elsewhere") > retried
    finally:
        paused.signal(signal.SIGCONT)
    await replicas.back(http, paused)


async def test_a_killed_replica_is_ejected_traffic_moves_and_it_comes_back(
    http: aiohttp.ClientSession, replicas: Replicas
) -> None:
    dead, alive = replicas.seckill
    for replica in replicas.seckill:
        await replicas.back(http, replica)
    dead.kill()
    # Refused connections are retried on the live replica: no client sees the death.
    reads: list[int] = []
    while replicas.available(dead):
        assert len(reads) < 200, "the dead replica was never ejected"
        reads += await statuses(http, replicas, "GET", 5)
    assert set(reads) == {200}
    assert replicas.gauge("breaker", dead) == 1 or replicas.gauge("healthy", dead) == 0
    before = served_reads(alive)
    assert set(await statuses(http, replicas, "GET", 20)) == {200}
    assert served_reads(alive) - before == 20

    dead.start()
    await replicas.back(http, dead)
    before = served_reads(dead)
    assert set(await statuses(http, replicas, "GET", 40)) == {200}
    assert served_reads(dead) - before >= 8
