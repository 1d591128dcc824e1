"""The catalog's stream readers.

- `catalog.commands`, group `catalog`: `banners.rebuild-cache` (sent by the scheduler).
- `catalog.events`, no group, every replica: a `banner.changed` from any replica drops this
  replica's in-process banner copy at once. Freshness does not depend on it (every read checks
  the version in Redis); it only frees the stale copy early.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.exceptions import RedisError

from services.catalog.bootstrap import Runtime
from services.catalog.streams import (
    BANNER_CHANGED,
    COMMANDS_GROUP,
    COMMANDS_STREAM,
    COURSE_CHANGED,
    EVENTS_STREAM,
    REBUILD_BANNERS,
)
from shared.consumers import ConsumerMetrics, Delivery, StreamConsumer
from shared.events import decode_entry
from shared.logging import get_logger

log = get_logger(__name__)


def command_consumer(runtime: Runtime, poll_ms: int = 1000) -> StreamConsumer:
    async def handle(batch: Sequence[Delivery]) -> None:
        # A rebuild is idempotent, and one answers every rebuild request in the batch. It
        # ends the course pages' copies too (they are rebuilt as they are read), so rows
        # changed behind the API's back show there within one period of the schedule.
        if any(d.envelope.type == REBUILD_BANNERS for d in batch):
            banners = await runtime.banners.rebuild()
            await runtime.pages.invalidate()
            log.info("banner cache rebuilt, course pages invalidated", banners=len(banners))
        for delivery in batch:
            if delivery.envelope.type != REBUILD_BANNERS:
                log.warning("unknown command ignored", type=delivery.envelope.type)

    return StreamConsumer(
        redis=runtime.redis, stream=COMMANDS_STREAM, group=COMMANDS_GROUP,
        consumer=runtime.settings.consumer_for("catalog"), handle=handle,
        metrics=ConsumerMetrics(runtime.registry), poll_ms=poll_ms,
    )


async def follow_changes(runtime: Runtime, block_ms: int = 1000) -> None:
    """Read `catalog.events` from its current end, forever."""
    redis, banners, pages = runtime.redis, runtime.banners, runtime.pages
    last: str | None = None
    while True:
        try:
            if last is None:
                newest = await redis.xrevrange(EVENTS_STREAM, count=1)
                last = newest[0][0].decode() if newest else "0-0"
            reply = await redis.xread({EVENTS_STREAM: last}, block=block_ms, count=100)
        except (RedisError, OSError) as exc:
            log.warning("catalog.events unreadable; retrying", error=str(exc))
            banners.drop_local()
            pages.drop_local()
            await asyncio.sleep(1)
            continue
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                last = entry_id.decode()
                try:
                    envelope = decode_entry(fields)
                except ValueError:
                    continue
                if envelope.type == BANNER_CHANGED:
                    banners.drop_local()
                elif envelope.type == COURSE_CHANGED:
                    pages.drop_local()
