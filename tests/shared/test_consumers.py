"""At-least-once consumption against real Redis and a real FastStream broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from shared.broker import make_broker
from shared.consumers import ConsumerMetrics, Delivery, StreamConsumer, running
from shared.events import Envelope, decode_entry, publish
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

STREAM, GROUP = "test.events", "testers"


class Flaky(Exception):
    """Stands for a database that is down."""


class Recorder:
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.poison: set[int] = set()
        self.down = False

    async def __call__(self, batch: Sequence[Delivery]) -> None:
        if self.down:
            raise Flaky("database unreachable")
        for delivery in batch:
            if delivery.envelope.data["n"] in self.poison:
                raise ValueError(f"cannot handle {delivery.envelope.data['n']}")
        self.seen.extend(d.envelope.data["n"] for d in batch)


def make_consumer(redis: Redis, handle: Recorder, name: str = "c1") -> StreamConsumer:
    return StreamConsumer(
        redis=redis, stream=STREAM, group=GROUP, consumer=name, handle=handle,
        metrics=ConsumerMetrics(CollectorRegistry()), batch_size=10, poll_ms=50,
        claim_idle_ms=150, max_deliveries=3, transient=(Flaky,),
    )


async def put(redis: Redis, *numbers: int) -> None:
    for n in numbers:
        await publish(redis, STREAM, Envelope(type="t", producer="test", data={"n": n}))


async def pending(redis: Redis) -> int:
    return int((await redis.xpending(STREAM, GROUP))["pending"])


async def test_reads_entries_written_before_start_and_acks_them(
    redis: Redis, redis_url: str
) -> None:
    await put(redis, 1, 2, 3)
    handle = Recorder()
    consumer, broker = make_consumer(redis, handle), make_broker(redis_url)
    consumer.subscribe(broker)
    async with running(broker, [consumer]):
        await put(redis, 4)

        async def done() -> bool:
            return sorted(handle.seen) == [1, 2, 3, 4] and await pending(redis) == 0

        await eventually(done)


async def test_own_pending_entries_are_recovered_after_a_crash(
    redis: Redis, redis_url: str
) -> None:
    handle = Recorder()
    consumer = make_consumer(redis, handle)
    await consumer.ensure_group()
    await put(redis, 1, 2)
    # The crashed process read both entries under the same consumer name, then died.
    await redis.xreadgroup(GROUP, "c1", {STREAM: ">"})
    assert await pending(redis) == 2

    broker = make_broker(redis_url)
    consumer.subscribe(broker)
    async with running(broker, [consumer]):
        assert sorted(handle.seen) == [1, 2]  # handled before the broker even started
        assert await pending(redis) == 0


async def test_entries_of_a_dead_consumer_are_claimed(redis: Redis, redis_url: str) -> None:
    handle = Recorder()
    consumer = make_consumer(redis, handle)
    await consumer.ensure_group()
    await put(redis, 5)
    await redis.xreadgroup(GROUP, "gone-for-good", {STREAM: ">"})

    broker = make_broker(redis_url)
    consumer.subscribe(broker)
    async with running(broker, [consumer]):
        async def done() -> bool:
            return handle.seen == [5] and await pending(redis) == 0

        await eventually(done)


async def test_a_poison_entry_goes_dead_and_the_others_are_written(
    redis: Redis, redis_url: str
) -> None:
    handle = Recorder()
    handle.poison = {2}
    consumer, broker = make_consumer(redis, handle), make_broker(redis_url)
    consumer.subscribe(broker)
    async with running(broker, [consumer]):
        await put(redis, 1, 2, 3)

        async def done() -> bool:
            return await redis.xlen(f"{STREAM}.dead") == 1 and await pending(redis) == 0

        await eventually(done)
    assert sorted(handle.seen) == [1, 3]
    [(_, dead)] = await redis.xrange(f"{STREAM}.dead")
    assert decode_entry(dead).data == {"n": 2}
    assert b"cannot handle 2" in dead[b"error"]
    assert int(dead[b"deliveries"]) >= 3


async def test_transient_failures_wait_in_the_pending_list_and_are_never_dead(
    redis: Redis, redis_url: str
) -> None:
    handle = Recorder()
    handle.down = True
    consumer, broker = make_consumer(redis, handle), make_broker(redis_url)
    consumer.subscribe(broker)
    async with running(broker, [consumer]):
        await put(redis, 1, 2)

        async def redelivered_often() -> bool:
            entries = await redis.xpending_range(STREAM, GROUP, "-", "+", 10)
            return len(entries) == 2 and all(e["times_delivered"] > 4 for e in entries)

        await eventually(redelivered_often)
        assert await redis.xlen(f"{STREAM}.dead") == 0
        handle.down = False

        async def written() -> bool:
            return sorted(handle.seen) == [1, 2] and await pending(redis) == 0

        await eventually(written)
    assert await redis.exists(f"{STREAM}.dead") == 0


async def test_a_consumer_whose_group_vanished_comes_back(redis: Redis, redis_url: str) -> None:
    handle = Recorder()
    consumer, broker = make_consumer(redis, handle), make_broker(redis_url)
    consumer.revive_every_s = 0.1
    consumer.subscribe(broker)
    async with running(broker, [consumer]):
        await put(redis, 1)

        def seen(n: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return n in handle.seen
            return check

        await eventually(seen(1))
        # The group goes with the stream: FastStream stops its subscribers on NOGROUP.
        await redis.delete(STREAM)
        await put(redis, 2)
        await eventually(seen(2))
    assert handle.seen == [1, 2]
    assert await pending(redis) == 0


async def test_a_poison_entry_left_in_its_own_pending_list_does_not_stop_a_start(
    redis: Redis, redis_url: str
) -> None:
    """A crash left a poison entry among this consumer's own pending entries: the consumer
    starts anyway, handles the good ones, and the poison entry goes to the dead letters by the
    claim path's rule (its `max_deliveries`-th delivery); a restart does not see it again."""
    handle = Recorder()
    handle.poison = {2}
    consumer = make_consumer(redis, handle)
    await consumer.ensure_group()
    await put(redis, 1, 2, 3)
    await redis.xreadgroup(GROUP, "c1", {STREAM: ">"})  # the crashed process read all three

    broker = make_broker(redis_url)
    consumer.subscribe(broker)
    async with running(broker, [consumer]):
        assert sorted(handle.seen) == [1, 3]  # handled before the broker even started
        await put(redis, 4)

        async def done() -> bool:
            return (4 in handle.seen and await redis.xlen(f"{STREAM}.dead") == 1
                    and await pending(redis) == 0)

        await eventually(done)
    [(_, dead)] = await redis.xrange(f"{STREAM}.dead")
    assert decode_entry(dead).data == {"n": 2}
    assert b"cannot handle 2" in dead[b"error"]
    assert int(dead[b"deliveries"]) == 3

    again = Recorder()
    restarted, broker = make_consumer(redis, again), make_broker(redis_url)
    restarted.subscribe(broker)
    async with running(broker, [restarted]):
        await put(redis, 5)

        async def five() -> bool:
            return again.seen == [5] and await pending(redis) == 0

        await eventually(five)
    assert await redis.xlen(f"{STREAM}.dead") == 1


async def test_a_poison_entry_on_its_last_delivery_is_dead_before_the_consumer_starts(
    redis: Redis, redis_url: str
) -> None:
    """A crash loop delivered it `max_deliveries - 1` times already: the start-up read is its
    last delivery, so it is dead-lettered (and acknowledged) then and there."""
    handle = Recorder()
    handle.poison = {2}
    consumer = make_consumer(redis, handle)
    await consumer.ensure_group()
    await put(redis, 1, 2)
    await redis.xreadgroup(GROUP, "c1", {STREAM: ">"})
    await redis.xreadgroup(GROUP, "c1", {STREAM: "0"})  # read again by a start that crashed

    broker = make_broker(redis_url)
    consumer.subscribe(broker)
    async with running(broker, [consumer]):
        assert handle.seen == [1]
        assert await pending(redis) == 0
        [(_, dead)] = await redis.xrange(f"{STREAM}.dead")
        assert decode_entry(dead).data == {"n": 2}
        assert int(dead[b"deliveries"]) == 3
