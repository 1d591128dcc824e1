"""The test cluster itself: 3 masters and 3 replicas of the embedded valkey-server, the
cluster client on it, and a master's failover (the ground issue 21's cluster tests stand on)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from faststream.redis import RedisClusterBroker, StreamSub
from redis.asyncio.cluster import RedisCluster

from services.seckill.adapters.keys import Keys
from shared.broker import make_broker
from shared.embedded_redis import EmbeddedCluster
from shared.redis import is_cluster_url, make_redis

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.timeout(90)]


async def test_the_seckill_partitions_spread_over_the_masters(
    embedded_cluster: EmbeddedCluster,
) -> None:
    cluster = embedded_cluster
    assert is_cluster_url(cluster.url)
    client = make_redis(cluster.url)
    assert isinstance(client, RedisCluster)
    try:
        keys = Keys(partitions=8)
        owners = set()
        for partition in range(8):
            stream = keys.orders_stream(partition)
            await client.xadd(stream, {"n": str(partition)})
            node = client.get_node_from_key(stream)
            assert node is not None
            owners.add(node.port)
        assert len(owners) == 3  # 8 hash tags land on all three masters
        assert {n.port for n in cluster.master_nodes()} >= owners
    finally:
        await client.aclose()


async def test_a_killed_master_fails_over_and_the_client_follows(
    tmp_path: Path,
) -> None:
    cluster = EmbeddedCluster(tmp_path).start()
    client = make_redis(cluster.url)
    try:
        key = "seckill:{p0}:item:0"
        await client.hset(key, "remaining", "5")
        owner = client.get_node_from_key(key)
        # the write is on the replica before the kill (WAIT on the key's master itself)
        assert await client.execute_command("WAIT", 1, 2000, target_nodes=owner) == 1
        port = owner.port
        victim = next(n for n in cluster.nodes if n.port == port)
        victim.kill()
        deadline = time.monotonic() + 30
        while True:
            try:
                assert await client.hget(key, "remaining") == b"5"
                break
            except Exception:  # redis-py raises connection and cluster-down errors meanwhile
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        assert client.get_node_from_key(key).port != port
    finally:
        await client.aclose()
        cluster.stop()


async def test_the_broker_of_a_cluster_url_consumes_a_group_on_every_master(
    embedded_cluster: EmbeddedCluster,
) -> None:
    """`make_broker` gives FastStream's cluster broker: a grouped subscriber per partition
    stream (the partitions on different masters) reads what was published to each."""
    keys = Keys(partitions=3)
    streams = [keys.orders_stream(p) for p in range(3)]
    client = make_redis(embedded_cluster.url)
    await client.initialize()  # the slot map
    assert len({client.get_node_from_key(s).port for s in streams}) > 1
    broker = make_broker(embedded_cluster.url)
    assert isinstance(broker, RedisClusterBroker)
    seen: list[str] = []
    done = asyncio.Event()
    for stream in streams:

        @broker.subscriber(stream=StreamSub(stream, group="test", consumer="c1"))
        async def handle(body: dict[str, str]) -> None:
            seen.append(body["n"])
            if len(seen) == len(streams):
                done.set()

    try:
        async with broker:
            await broker.start()
            for n, stream in enumerate(streams):
                await broker.publish({"n": str(n)}, stream=stream)
            await asyncio.wait_for(done.wait(), 10)
        assert sorted(seen) == ["0", "1", "2"]
        for stream in streams:  # acknowledged in its group
            assert (await client.xpending(stream, "test"))["pending"] == 0
    finally:
        for stream in streams:
            await client.delete(stream)
        await client.aclose()
