"""Stream health (shared.stream_health) on real Redis, read from a real /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from shared.broker import make_broker
from shared.consumers import ConsumerMetrics, running
from shared.embedded_redis import free_port
from shared.events import Envelope, publish
from shared.stream_health import StreamHealthCollector, read_health, watch_health
from shared.streams import dead_letter
from shared.worker import serve_metrics
from tests.shared.test_consumers import GROUP, STREAM, Recorder, make_consumer, put
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@contextlib.asynccontextmanager
async def served(registry: CollectorRegistry) -> AsyncIterator[str]:
    port = free_port()
    async with serve_metrics(registry, "127.0.0.1", port):
        yield f"http://127.0.0.1:{port}/metrics"


async def scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        body = await response.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def group_value(samples: Samples, name: str, stream: str, group: str) -> float | None:
    return samples.get((name, (("group", group), ("stream", stream))))


async def test_a_stopped_group_shows_its_lag_pending_and_dead_letters(redis: Redis) -> None:
    ids = [await publish(redis, "orders", Envelope(type="t", producer="p", data={"n": n}))
           for n in range(2)]
    await redis.xgroup_create("orders", "writer", id="0")
    # A consumer read the two entries, then stopped without acknowledging them.
    await redis.xreadgroup("writer", "crashed", {"orders": ">"}, count=2)
    for n in range(3):  # published while nobody reads
        await publish(redis, "orders", Envelope(type="t", producer="p", data={"n": n}))
    await dead_letter(redis, "orders", "writer", ids[0], {"__data__": "x"}, "boom", 5)
    await asyncio.sleep(0.05)  # the oldest pending entry is at least this old

    registry = CollectorRegistry()
    collector = StreamHealthCollector(registry)
    watch = asyncio.create_task(
        watch_health(redis, {"orders": ["writer"]}, collector, every_s=0.05))
    try:
        async with served(registry) as url:
            async def figures_in() -> bool:
                return group_value(await scrape(url), "stream_group_lag", "orders",
                                   "writer") is not None

            await eventually(figures_in)
            samples = await scrape(url)
    finally:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)

    def value(name: str) -> float | None:
        return group_value(samples, name, "orders", "writer")

    assert samples[("stream_length", (("stream", "orders"),))] == 5
    assert value("stream_group_lag") == 3
    assert value("stream_group_pending") == 1  # one of the two went to the dead letters
    assert value("stream_group_consumers") == 1
    assert value("stream_dead_letters") == 1
    oldest = value("stream_group_oldest_pending_seconds")
    assert oldest is not None and 0.05 <= oldest < 30


async def test_every_consumer_process_exports_its_groups_from_running(
    redis: Redis, redis_url: str
) -> None:
    """The hook in shared.consumers.running: a consumer whose database is down keeps what it
    read pending, and its own /metrics says so; once it is back, the figures go to 0."""
    handle = Recorder()
    handle.down = True
    registry = CollectorRegistry()
    consumer = dataclasses.replace(make_consumer(redis, handle),
                                   metrics=ConsumerMetrics(registry))
    broker = make_broker(redis_url)
    consumer.subscribe(broker)
    async with (served(registry) as url,
                running(broker, [consumer], health_every_s=0.05, also_streams=["other"])):
        await put(redis, 1, 2, 3)

        async def shows(name: str, expected: float) -> bool:
            return group_value(await scrape(url), name, STREAM, GROUP) == expected

        await eventually(lambda: shows("stream_group_pending", 3))
        assert await shows("stream_group_lag", 0) and await shows("stream_group_consumers", 1)
        handle.down = False
        await eventually(lambda: shows("stream_group_pending", 0), within=15)
        # `other` does not exist: nothing is made up for it.
        assert not any(key[1] == (("stream", "other"),) for key in await scrape(url))


async def test_dead_letters_are_counted_per_group_when_groups_share_a_stream(
    redis: Redis,
) -> None:
    entry = await publish(redis, "s", Envelope(type="t", producer="p", data={}))
    for group in ("a", "b"):
        await redis.xgroup_create("s", group, id="0")
        await redis.xreadgroup(group, "c", {"s": ">"})
    await dead_letter(redis, "s", "a", entry, {"__data__": "x"}, "boom", 5)
    [health] = await read_health(redis, {"s": None, "missing": None})
    assert {g.group: (g.dead_letters, g.pending) for g in health.groups} == {
        "a": (1, 0), "b": (0, 1)}
