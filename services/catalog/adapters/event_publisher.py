"""The `EventPublisher` port on Redis: `catalog.events`, capped when written since no group
reads it (an approximate MAXLEN)."""

from __future__ import annotations

from services.catalog.streams import EVENTS_STREAM
from shared.events import Envelope, publish
from shared.redis import RedisClient


class RedisEventPublisher:
    def __init__(self, redis: RedisClient, maxlen: int) -> None:
        self.redis = redis
        self.maxlen = maxlen

    async def publish(self, envelope: Envelope) -> str:
        return await publish(self.redis, EVENTS_STREAM, envelope, maxlen=self.maxlen)
