"""Publishing the service's events and commands (several per batch, one round trip), each
event once by its id."""

from __future__ import annotations

from collections.abc import Sequence

from services.seckill.streams import SECKILL_EVENTS
from shared.events import DEFAULT_MAXLEN, Envelope, OncePublisher
from shared.redis import RedisClient

# seckill.events has no consumer group (audit, replay): capped at XADD time. Grouped streams
# are trimmed by their consumers (shared.streams.trim_stream), never here.
_CAPPED = {SECKILL_EVENTS: DEFAULT_MAXLEN}
# How long an event's id is remembered: a redelivery or a retry comes within minutes.
DEDUPE_TTL_S = 24 * 3600


class EventLog:
    """The service's publisher (`ports.Publisher`) on Redis Streams: an envelope published
    again with the same id (the order writer's events on redelivery, `handlers._sale_event`)
    gets no second entry."""

    def __init__(self, redis: RedisClient) -> None:
        self._once = OncePublisher(redis, DEDUPE_TTL_S, _CAPPED)

    async def publish_many(self, entries: Sequence[tuple[str, Envelope]]) -> None:
        if entries:
            await self._once.publish_many(entries)
