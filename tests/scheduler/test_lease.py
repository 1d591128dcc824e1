"""The leader lease and the fenced, deduplicated publish, against real Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from services.scheduler.adapters.leader_lease import RedisLeaderLease
from services.scheduler.adapters.run_publisher import RedisRunPublisher
from services.scheduler.domain.schedules import run_event_id
from shared.events import Envelope

pytestmark = pytest.mark.integration

NOMINAL = datetime(2026, 1, 1, 8, tzinfo=UTC)


def run_envelope() -> Envelope:
    event_id = run_event_id("s", NOMINAL)
    return Envelope(id=event_id, type="tick", producer="scheduler", data={})


async def test_one_leader_at_a_time_with_growing_fencing_tokens(redis: Redis) -> None:
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


async def test_a_deposed_leader_is_fenced_and_a_run_publishes_once(redis: Redis) -> None:
    first, second = RedisLeaderLease(redis, "a", 200), RedisLeaderLease(redis, "b", 5000)
    publisher = RedisRunPublisher(redis, dedupe_ttl_s=60)
    old = await first.acquire()
    assert old is not None
    await asyncio.sleep(0.3)
    new = await second.acquire()
    assert new is not None

    assert await publisher.publish(old, [("test.out", run_envelope())]) == ["fenced"]
    assert await redis.xlen("test.out") == 0
    assert await publisher.publish(new, [("test.out", run_envelope())]) == ["published"]
    # The same nominal run again (a leader that died before recording it): not republished.
    assert await publisher.publish(new, [("test.out", run_envelope())]) == ["duplicate"]
    assert await redis.xlen("test.out") == 1
