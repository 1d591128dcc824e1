"""Publishing a scheduled run exactly once (lease check, dedupe key and XADD in one script),
and a run triggered by hand (a plain XADD)."""

from __future__ import annotations

from collections.abc import Sequence

from services.scheduler.adapters.leader_lease import LEASE_KEY
from services.scheduler.adapters.lua_scripts import load
from services.scheduler.ports import PublishResult
from shared.events import DATA_FIELD, Envelope, encode_entry, publish
from shared.redis import RedisClient, text


def dedupe_key(event_id: str) -> str:
    return f"scheduler:fired:{event_id}"


class RedisRunPublisher:
    """Standalone Redis: the script touches the lease, the dedupe key and the target stream,
    which a Redis Cluster would put in different slots (see docs/scheduler.md)."""

    def __init__(self, redis: RedisClient, dedupe_ttl_s: int) -> None:
        self._redis = redis
        self._script = load(redis, "fire")
        self._ttl = dedupe_ttl_s

    async def publish(
        self, lease_value: str | None, runs: Sequence[tuple[str, Envelope]]
    ) -> list[PublishResult]:
        """One script call per run, all in one pipeline round trip (not a transaction: each
        call checks the lease itself; with no lease, a backfill's, none is checked)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream, envelope in runs:
                await self._script(
                    keys=[LEASE_KEY, dedupe_key(envelope.id), stream],
                    args=[lease_value or "", self._ttl, encode_entry(envelope)[DATA_FIELD]],
                    client=pipe,
                )
            replies = await pipe.execute()
        statuses = [text(reply[0]) for reply in replies]
        assert set(statuses) <= {"published", "duplicate", "fenced"}, statuses
        return statuses  # type: ignore[return-value]


class RedisEventPublisher:
    """Not fenced, not deduplicated: for runs triggered by hand, on any replica."""

    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis

    async def publish(self, stream: str, envelope: Envelope) -> str:
        return await publish(self.redis, stream, envelope)
