"""The test cluster itself: 3 masters and 3 replicas of the embedded valkey-server, the
cluster client on it, and a master's failover (the ground issue 21's cluster tests stand on)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.seckill.adapters.keys import Keys
from shared.embedded_redis import EmbeddedCluster
from shared.redis import is_cluster_url, make_cluster_redis

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    server = EmbeddedCluster(Path(tmp_path_factory.mktemp("cluster"))).start()
    yield server
    server.stop()


async def test_the_seckill_partitions_spread_over_the_masters(cluster: EmbeddedCluster) -> None:
    assert is_cluster_url(cluster.url)
    client = make_cluster_redis(cluster.url)
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
    client = make_cluster_redis(cluster.url)
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
