"""Publishing the service's events and commands (several per batch, one round trip)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from shared.events import DEFAULT_MAXLEN, Envelope, encode_entry

SECKILL_EVENTS = "seckill.events"
SECKILL_COMMANDS = "seckill.commands"
SCHEDULER_REQUESTS = "scheduler.requests"

# seckill.events has no consumer group (audit, replay): capped at XADD time. Grouped streams
# are trimmed by their consumers (shared.streams.trim_stream), never here.
_CAPPED = {SECKILL_EVENTS: DEFAULT_MAXLEN}


async def publish_many(redis: Redis, entries: Sequence[tuple[str, Envelope]]) -> None:
    if not entries:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for stream, envelope in entries:
            fields: Any = encode_entry(envelope)
            maxlen = _CAPPED.get(stream)
            pipe.xadd(stream, fields, maxlen=maxlen, approximate=maxlen is not None)
        await pipe.execute()
