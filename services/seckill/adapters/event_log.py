"""Publishing the service's events and commands (several per batch, one round trip)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.seckill.streams import SECKILL_EVENTS
from shared.events import DEFAULT_MAXLEN, Envelope, encode_entry
from shared.redis import RedisClient

# seckill.events has no consumer group (audit, replay): capped at XADD time. Grouped streams
# are trimmed by their consumers (shared.streams.trim_stream), never here.
_CAPPED = {SECKILL_EVENTS: DEFAULT_MAXLEN}


class EventLog:
    """The service's publisher (`ports.Publisher`) on Redis Streams."""

    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis

    async def publish_many(self, entries: Sequence[tuple[str, Envelope]]) -> None:
        if not entries:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream, envelope in entries:
                fields: Any = encode_entry(envelope)
                maxlen = _CAPPED.get(stream)
                pipe.xadd(stream, fields, maxlen=maxlen, approximate=maxlen is not None)
            await pipe.execute()
