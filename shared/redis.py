"""The Redis client every service builds from `REDIS_URL`, and reading its replies."""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis


def make_redis(url: str, max_connections: int = 200) -> Redis:
    """An asyncio client whose pool waits (up to 5 s) for a free connection under load
    instead of failing, with bytes replies."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=5, health_check_interval=30
    )
    return Redis(connection_pool=pool)


def text(value: Any) -> str:
    """A reply as `str`: the clients answer bytes (an int or a str is rendered as is)."""
    return value.decode() if isinstance(value, bytes) else str(value)
