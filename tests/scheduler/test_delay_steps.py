"""The delay mover's two steps on real Redis and on the cluster (target streams in other
slots than the delays): a mover killed after taking a batch, or after publishing it, leaves
nothing lost and nothing twice; the next mover finishes its work."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.scheduler.adapters.delay_store import RedisDelayStore
from services.scheduler.handlers import utc_now
from shared.events import Envelope, decode_entry
from shared.redis import RedisClient

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

STREAMS = ["catalog.commands", "seckill.commands", "notify.sms"]  # three slots on a cluster
RETAKE_MS = 300


async def written(redis: RedisClient, stream: str) -> list[str]:
    return [decode_entry(fields).id for _, fields in await redis.xrange(stream)]


async def add_due(store: RedisDelayStore) -> list[str]:
    ids = []
    for n, stream in enumerate(STREAMS):
        envelope = Envelope(type="test", producer="test", data={"n": n})
        stored = await store.add(stream, envelope, utc_now() - timedelta(seconds=1), f"k{n}")
        ids.append(stored.id)
    return ids


async def test_due_delays_reach_streams_in_other_slots_once(redis: RedisClient) -> None:
    store = RedisDelayStore(redis)
    ids = await add_due(store)
    moved = await store.move_due(100)
    assert (moved.moved, moved.looked_at) == (3, 3)
    assert [await written(redis, s) for s in STREAMS] == [[i] for i in ids]
    assert (await store.move_due(100)).moved == 0
    assert await store.peek() == (None, 0)


@pytest.mark.parametrize("died_after", ["take", "publish"])
async def test_a_mover_that_died_between_steps_is_finished_by_the_next_once(
    redis: RedisClient, died_after: str,
) -> None:
    dead, alive = (RedisDelayStore(redis, retake_after_ms=RETAKE_MS) for _ in range(2))
    ids = await add_due(dead)
    taken = await dead.take(100)
    if died_after == "publish":
        await dead.publish(taken)
    # Its delays stay in its hands until the retake time: the other mover sees none.
    assert (await alive.move_due(100)).moved == 0
    await asyncio.sleep(RETAKE_MS / 1000 + 0.1)
    moved = await alive.move_due(100)
    assert moved.moved == 3 and min(moved.lateness_ms) >= 1000  # late from their due time
    assert [await written(redis, s) for s in STREAMS] == [[i] for i in ids]
    await asyncio.sleep(RETAKE_MS / 1000 + 0.1)
    assert (await alive.move_due(100)).moved == 0  # done: nothing is taken again
    assert all([await alive.get(i) is None for i in ids])
    # Each key still names its fired delay.
    again = await alive.add(STREAMS[0], Envelope(type="test", producer="test"), utc_now(), "k0")
    assert (again.id, again.created) == (ids[0], False)
