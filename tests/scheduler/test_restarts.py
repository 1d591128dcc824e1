"""What survives a restart: delays (of the scheduler and of Redis with AOF), built-ins and
their pause; and delays asked for by event on `scheduler.requests`."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from services.scheduler.app import create_app
from shared.embedded_redis import EmbeddedRedis, free_port
from shared.events import Envelope, decode_entry, publish
from shared.redis import make_redis
from tests.scheduler.conftest import BASE, SettingsFactory, events
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.fault]


async def test_a_delay_survives_a_restart_of_the_scheduler_and_of_redis(
    make_settings: SettingsFactory, one_database_url: str, tmp_path: Path, admin: dict[str, str]
) -> None:
    # appendfsync always: every write is on disk before Redis answers, so even SIGKILL
    # loses nothing acknowledged.
    server = EmbeddedRedis(tmp_path / "aof", port=free_port(), aof=True,
                           extra_args=["--appendfsync", "always"]).start()
    try:
        settings = make_settings(server.url, one_database_url)
        async with TestClient(TestServer(create_app(settings))) as client:
            response = await client.post(f"{BASE}/delays", headers=admin, json={
                "stream": "test.out", "type": "order.expire", "data": {"order_id": 1},
                "delay_s": 2.5, "key": "order-1"})
            delay = await response.json()
        server.kill()
        server.start()
        redis = make_redis(server.url)
        assert await redis.xlen("test.out") == 0  # not due yet, and not lost
        async with TestClient(TestServer(create_app(settings))) as client:
            async def fired() -> bool:
                return await redis.exists("test.out") == 1

            await eventually(fired, within=15)
            await asyncio.sleep(0.5)  # a second move, had it happened, would be here by now
            [(_, envelope)] = await events(redis, "test.out")
            assert envelope.id == delay["id"] and envelope.data == {"order_id": 1}
            again = await client.post(f"{BASE}/delays", headers=admin, json={
                "stream": "test.out", "type": "order.expire", "delay_s": 1, "key": "order-1"})
            assert (await again.json())["id"] == delay["id"]
        await redis.aclose()
    finally:
        server.stop()


async def test_builtins_are_not_duplicated_and_a_pause_survives_a_restart(
    make_settings: SettingsFactory, one_redis_url: str, one_database_url: str,
    admin: dict[str, str],
) -> None:
    settings = make_settings(one_redis_url, one_database_url)
    async with TestClient(TestServer(create_app(settings))) as client:
        paused = await client.post(f"{BASE}/schedules/banners.rebuild-cache/pause", headers=admin)
        assert (await paused.json())["enabled"] is False
    async with TestClient(TestServer(create_app(settings))) as client:
        listing = await (await client.get(f"{BASE}/schedules", headers=admin)).json()
        assert listing["count"] == 2
        by_id = {s["id"]: s for s in listing["results"]}
        assert by_id["banners.rebuild-cache"]["enabled"] is False
        assert by_id["banners.rebuild-cache"]["trigger"] == {"type": "interval", "every_s": 300}
        assert by_id["banners.rebuild-cache"]["event"]["stream"] == "catalog.commands"
        assert by_id["orders.sweep-expired"]["enabled"] is True
        assert by_id["orders.sweep-expired"]["builtin"] is True


def request(data: dict[str, Any], kind: str = "delay.requested") -> Envelope:
    return Envelope(type=kind, producer="seckill", data=data)


async def test_delays_requested_and_cancelled_by_event(
    client: Any, redis: Redis
) -> None:
    asked = request({"stream": "test.out", "type": "order.expire", "data": {"order_id": 7},
                     "delay_s": 0.2})
    await publish(redis, "scheduler.requests", asked)
    await publish(redis, "scheduler.requests", asked)  # redelivered: still one delay
    await publish(redis, "scheduler.requests", request(
        {"stream": "test.out", "type": "order.expire", "delay_s": 0.5, "key": "order-8",
         "data": {"order_id": 8}}))
    await publish(redis, "scheduler.requests", request({"key": "order-8"}, "delay.cancelled"))
    await publish(redis, "scheduler.requests", request({"stream": "nowhere", "type": "x.y",
                                                        "delay_s": 1}))

    async def settled() -> bool:
        groups = await redis.xinfo_groups("scheduler.requests")
        return (await redis.exists("test.out") == 1 and groups[0]["pending"] == 0
                and groups[0]["entries-read"] == 5)

    await eventually(settled)
    await asyncio.sleep(0.8)  # past the cancelled delay's time
    published = await events(redis, "test.out")
    assert [e.data for _, e in published] == [{"order_id": 7}]
    assert published[0][1].producer == "seckill"
    assert published[0][1].correlation_id == asked.id
    [(_, dead)] = await redis.xrange("scheduler.requests.dead")
    assert decode_entry(dead).data["stream"] == "nowhere"


@pytest.mark.parametrize("coalesce, outcomes", [
    (True, {"coalesced", "fired"}),
    (False, {"missed", "fired"}),
])
async def test_runs_missed_while_the_scheduler_was_down(
    make_settings: SettingsFactory, one_redis_url: str, one_database_url: str,
    admin: dict[str, str], coalesce: bool, outcomes: set[str],
) -> None:
    settings = make_settings(one_redis_url, one_database_url)
    body = {"id": "often", "trigger": {"type": "interval", "every_s": 0.5},
            "event": {"stream": "test.out", "type": "tick"}, "coalesce": coalesce,
            "misfire_grace_s": 1}
    async with TestClient(TestServer(create_app(settings))) as client:
        assert (await client.post(f"{BASE}/schedules", headers=admin, json=body)).status == 201
    await asyncio.sleep(3.5)  # down: about 7 runs come due, most past the 1 s grace
    redis = make_redis(one_redis_url)
    async with TestClient(TestServer(create_app(settings))) as client:
        async def recorded() -> list[dict[str, Any]]:
            results: list[dict[str, Any]] = (await (await client.get(
                f"{BASE}/schedules/often/runs?page_size=100", headers=admin)).json())["results"]
            return results

        async def caught_up() -> bool:
            # Published first, recorded right after: wait for both.
            return await redis.exists("test.out") == 1 and any(
                r["outcome"] == "fired" for r in await recorded())

        await eventually(caught_up)
        runs = await recorded()
    await redis.aclose()
    runs.sort(key=lambda r: r["nominal_at"])
    sequence = " ".join(r["outcome"] for r in runs)
    # Fired before the stop, then the outage, then fired again: with coalesce the outage is
    # one fire (its latest run); without, runs past the grace are missed, the rest fire.
    late = "coalesced" if coalesce else "missed"
    assert re.fullmatch(rf"(fired )*({late} ){{4,}}fired( fired)*", sequence), sequence
    assert {r["outcome"] for r in runs} == outcomes
    for run in runs:
        if run["outcome"] == "fired":
            assert run["lateness_ms"] <= 1000 or coalesce
        else:
            assert run["fired_at"] is None and run["event_id"] is None
