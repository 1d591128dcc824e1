"""The Redis client every service builds from `REDIS_URL`, and reading its replies."""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEME = "redis+cluster://"


def make_redis(url: str, max_connections: int = 200) -> Redis:
    """An asyncio client whose pool waits (up to 5 s) for a free connection under load
    instead of failing, with bytes replies."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=5, health_check_interval=30
    )
    return Redis(connection_pool=pool)


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def make_cluster_redis(url: str, max_connections: int = 200) -> RedisCluster:
    """redis-py's cluster client for `redis+cluster://host:port[,host:port...]`: every listed
    node is a startup node (any one that answers gives the slot map); it follows MOVED and ASK
    redirections and, after a failover, reloads the slot map by itself."""
    hosts = url.removeprefix(CLUSTER_SCHEME).split("/", 1)[0]
    nodes = [ClusterNode(host, int(port)) for host, _, port in
             (entry.rpartition(":") for entry in hosts.split(",") if entry)]
    return RedisCluster(
        startup_nodes=nodes, max_connections=max_connections, health_check_interval=30
    )


def text(value: Any) -> str:
    """A reply as `str`: the clients answer bytes (an int or a str is rendered as is)."""
    return value.decode() if isinstance(value, bytes) else str(value)
