"""The Lua scripts under `lua/`, registered on a client (redis-py reloads them after a
Redis restart on its own)."""

from __future__ import annotations

from importlib.resources import files

from redis.commands.core import AsyncScript

from shared.redis import RedisClient


def load(redis: RedisClient, name: str) -> AsyncScript:
    source = (files("services.scheduler.adapters") / "lua" / f"{name}.lua").read_text()
    return redis.register_script(source)
