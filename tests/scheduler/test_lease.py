"""The leader lease and the fenced, deduplicated publish, against real Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from services.scheduler.adapters.leader_lease import RedisLeaderLease
from services.scheduler.adapters.run_publisher import RedisRunPublisher
from services.scheduler.domain.schedules import run_event_id
from shared.events import Envelope
from shared.redis import RedisClient

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

NOMINAL = datetime(2026, 1, 1, 8, tzinfo=UTC)


def run_envelope(schedule: str = "s") -> Envelope:
    event_id = run_event_id(schedule, NOMINAL)
    return Envelope(id=event_id, type="tick", producer="scheduler", data={})


async def test_one_leader_at_a_time_with_growing_fencing_tokens(redis: RedisClient) -> None:
    first, second = RedisLeaderLease(redis, "a", 300), RedisLeaderLease(redis, "b", 300)
    held = await first.acquire()
    assert held is not None and held.endswith(":a")
    assert await second.acquire() is None
    assert await first.acquire() == held  # its own lease, found again after a failed renew
    assert await first.renew(held)

    await asyncio.sleep(0.45)  # no renew: the lease lapses
    taken = await second.acquire()
    assert taken is not None and int(taken.split(":")[0]) > int(held.split(":")[0])
    assert not await first.renew(held)
    await first.release(held)  # a stale release does not drop the new leader's lease
    assert await second.renew(taken)


async def test_a_deposed_leader_is_fenced_and_a_run_publishes_once(redis: RedisClient) -> None:
    first, second = RedisLeaderLease(redis, "a", 200), RedisLeaderLease(redis, "b", 5000)
    publisher = RedisRunPublisher(redis, dedupe_ttl_s=60)
    old = await first.acquire()
    assert old is not None
    await asyncio.sleep(0.3)
    new = await second.acquire()
    assert new is not None

    assert await publisher.publish(old, [("test.out", run_envelope())]) == ["fenced"]
    assert await redis.xlen("test.out") == 0
    # Two streams (on a cluster, in other slots than the lease and each other).
    runs = [("test.out", run_envelope()), ("test.other", run_envelope("t"))]
    assert await publisher.publish(new, runs) == ["published", "published"]
    # The same nominal runs again (a leader that died before recording them): not republished,
    # by a leader or by a backfill (not fenced).
    assert await publisher.publish(new, runs) == ["duplicate", "duplicate"]
    assert await publisher.publish(None, runs) == ["duplicate", "duplicate"]
    assert await redis.xlen("test.out") == 1 and await redis.xlen("test.other") == 1
