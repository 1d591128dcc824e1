"""The Lua scripts under `lua/`, registered on a client (redis-py reloads them after a
Redis restart on its own)."""

from __future__ import annotations

from importlib.resources import files

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def load(redis: Redis, name: str) -> AsyncScript:
    source = (files("services.scheduler.adapters") / "lua" / f"{name}.lua").read_text()
    return redis.register_script(source)
