"""Trimming keeps every entry some group still needs."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from shared.events import Envelope, publish
from shared.streams import oldest_unacknowledged, trim_stream

pytestmark = pytest.mark.integration


def key(entry_id: str | None) -> tuple[int, int]:
    assert entry_id is not None
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


async def fill(redis: Redis, n: int) -> list[str]:
    return [await publish(redis, "s", Envelope(type="t", producer="p", data={"n": i}))
            for i in range(n)]


async def test_trim_never_drops_pending_or_undelivered_entries(redis: Redis) -> None:
    ids = await fill(redis, 300)
    await redis.xgroup_create("s", "slow", id="0")
    await redis.xgroup_create("s", "fast", id="0")
    # "fast" has read and acked everything; "slow" has read 50 and acked none.
    await redis.xreadgroup("fast", "f", {"s": ">"}, count=1000)
    await redis.xack("s", "fast", *ids)
    await redis.xreadgroup("slow", "s1", {"s": ">"}, count=50)

    assert await oldest_unacknowledged(redis, "s") == ids[0]
    await trim_stream(redis, "s", maxlen=10)
    assert (await redis.xrange("s", count=1))[0][0].decode() == ids[0]

    await redis.xack("s", "slow", *ids[:50])  # slow now needs entry 50 onwards
    needed = await oldest_unacknowledged(redis, "s")
    assert key(ids[49]) < key(needed) <= key(ids[50])
    await trim_stream(redis, "s", maxlen=10)
    remaining = await redis.xlen("s")
    assert 250 <= remaining < 300  # approximate trim, never past entry 50
    first = (await redis.xrange("s", count=1))[0][0].decode()
    assert key(first) <= key(ids[50])


async def test_trim_without_groups_caps_length(redis: Redis) -> None:
    await fill(redis, 500)
    await trim_stream(redis, "s", maxlen=100)
    assert 100 <= await redis.xlen("s") < 500
