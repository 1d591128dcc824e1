"""The Redis client every service builds from `REDIS_URL`, and reading its replies.

`REDIS_URL` names one server (`redis://`, `rediss://`, `unix://`) or a Redis Cluster
(`redis+cluster://host:port[,host:port...]`); `make_redis` answers the matching client and the
rest of the code does not ask which (docs/decisions.md, "Redis Cluster")."""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

CLUSTER_SCHEME = "redis+cluster://"
NODE_MAX_CLIENTS = 10_000  # a Redis or Valkey server's default `maxclients`

# Redis out of reach for a moment (a restart, a cluster failover, a slot migrating): the
# request may be retried; an HTTP answer is 503 (`shared.http`).
REDIS_UNAVAILABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError,
                     redis_errors.ClusterDownError, redis_errors.TryAgainError)

# What `make_redis` answers. Both speak the same commands; a cluster refuses a script or a
# transaction whose keys are in more than one slot (each key set shares a hash tag).
RedisClient: TypeAlias = Redis | RedisCluster


def make_redis(url: str, max_connections: int = 200) -> RedisClient:
    """An asyncio client with bytes replies. One server: its pool waits (up to 5 s) for a free
    connection under load instead of failing, so `max_connections` bounds it. A cluster URL:
    redis-py's cluster client, whose per-node pools cannot wait (a full one fails the command
    with MaxConnectionsError), so each may grow to a node's default `maxclients`: a failed
    admission costs more than a connection, and the load is bounded upstream (the gateway's
    connector limit) (docs/decisions.md, "Redis Cluster")."""
    if is_cluster_url(url):
        return RedisCluster(startup_nodes=cluster_nodes(url),
                            max_connections=NODE_MAX_CLIENTS, health_check_interval=30)
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=5, health_check_interval=30
    )
    return Redis(connection_pool=pool)


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def cluster_nodes(url: str) -> list[ClusterNode]:
    """The startup nodes of `redis+cluster://host:port[,host:port...]`: any one that answers
    gives the slot map; the client follows MOVED and ASK redirections and, after a failover,
    reloads the map by itself."""
    hosts = url.removeprefix(CLUSTER_SCHEME).split("/", 1)[0]
    return [
        ClusterNode(host, int(port))
        for host, _, port in (entry.rpartition(":") for entry in hosts.split(",") if entry)
    ]


def text(value: Any) -> str:
    """A reply as `str`: the clients answer bytes (an int or a str is rendered as is)."""
    return value.decode() if isinstance(value, bytes) else str(value)


Call = tuple[list[Any], list[Any], "asyncio.Future[Any]"]


class ScriptBatcher:
    """Runs one script for many callers, the calls of one event-loop turn in one pipeline.

    Each call is still its own EVALSHA, decided alone by the script; only the round trip is
    shared. A sale's attempts arrive together, and one redis-py call per attempt (connection
    from the pool, retry wrapper, one socket write and read each) was about a fifth of the
    seckill service's CPU per attempt (its admission script), and of the gateway's (its
    rate limit). The first call of a turn schedules the send; every call made
    before it runs joins the same pipeline, so no call waits longer than one loop turn.
    """

    def __init__(self, redis: RedisClient, script: AsyncScript) -> None:
        self._redis = redis
        self._script = script
        self._calls: list[Call] = []
        self._sending: set[asyncio.Task[None]] = set()  # strong references until done

    async def __call__(self, keys: list[Any], args: list[Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.append((keys, args, future))
        if len(self._calls) == 1:
            task = asyncio.create_task(self._send())
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return await future

    async def _send(self) -> None:
        calls, self._calls = self._calls, []
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, args, _ in calls:
                    pipe.evalsha(self._script.sha, len(keys), *keys, *args)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # connection lost, pool timeout: every caller sees it
            replies = [exc] * len(calls)
        except asyncio.CancelledError:  # shutting down
            for *_, future in calls:
                future.cancel()
            raise
        lost_script = []
        for (keys, args, future), reply in zip(calls, replies, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(reply, NoScriptError):
                lost_script.append((keys, args, future))
            elif isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
        # Redis lost its script cache (restart, SCRIPT FLUSH): nothing ran for these calls;
        # the script object loads the script again and runs each.
        for keys, args, future in lost_script:
            try:
                reply = await self._script(keys=keys, args=args)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(reply)
