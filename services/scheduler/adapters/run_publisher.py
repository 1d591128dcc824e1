"""Publishing scheduled runs exactly once (the leader's fence checked, then each run's event
published once by its id), and a run triggered by hand (a plain XADD)."""

from __future__ import annotations

from collections.abc import Sequence

from services.scheduler.adapters.leader_lease import LEASE_KEY
from services.scheduler.ports import PublishResult
from shared.events import Envelope, OncePublisher, publish
from shared.redis import RedisClient, text


class RedisRunPublisher:
    """Two steps, each in one cluster slot (the lease's, then each target stream's): the
    lease is read and compared, then each run is published once by its deterministic event
    id (`shared.events.OncePublisher`). A leader deposed between the two steps may still
    publish a run it planned; the run's id makes it the same entry the new leader would
    publish, so it is never there twice (docs/scheduler.md, "Redis Cluster")."""

    def __init__(self, redis: RedisClient, dedupe_ttl_s: int) -> None:
        self._redis = redis
        self._once = OncePublisher(redis, dedupe_ttl_s)

    async def publish(
        self, lease_value: str | None, runs: Sequence[tuple[str, Envelope]]
    ) -> list[PublishResult]:
        """With a lease value, nothing is published unless the lease still holds it (every
        run answers `fenced`); a backfill (None) is not fenced. Then one round trip."""
        if not runs:
            return []
        if lease_value is not None:
            current = await self._redis.get(LEASE_KEY)
            if current is None or text(current) != lease_value:
                return ["fenced"] * len(runs)
        published = await self._once.publish_many(runs)
        return ["duplicate" if entry is None else "published" for entry in published]


class RedisEventPublisher:
    """Not fenced, not deduplicated: for runs triggered by hand, on any replica."""

    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis

    async def publish(self, stream: str, envelope: Envelope) -> str:
        return await publish(self.redis, stream, envelope)
