"""The Redis client every service builds from `REDIS_URL`."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis


def make_redis(url: str, max_connections: int = 200) -> Redis:
    """An asyncio client whose pool waits (up to 5 s) for a free connection under load
    instead of failing, with bytes replies."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=5, health_check_interval=30
    )
    return Redis(connection_pool=pool)
