"""Delayed events in Redis: a sorted set by due time and a hash of payloads, under one hash
tag so each script below works on one slot; due entries move to their streams atomically."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from services.scheduler.adapters.lua_scripts import load
from services.scheduler.domain.delays import Moved, StoredDelay
from services.scheduler.ports import PendingDelay
from shared.events import DATA_FIELD, Envelope, encode_entry
from shared.redis import RedisClient, text

TAG = "{scheduler:delays}"
DUE, PAYLOAD, KEYS, KEY_EXPIRY, STREAMS = (
    f"{TAG}:due", f"{TAG}:payload", f"{TAG}:keys", f"{TAG}:key-expiry", f"{TAG}:streams"
)
STORE_KEYS = [DUE, PAYLOAD, KEYS, KEY_EXPIRY, STREAMS]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _add_args(stream: str, envelope: Envelope, due_at: datetime, key: str) -> list[Any]:
    payload = orjson.dumps({
        "s": stream, "k": key, "e": encode_entry(envelope)[DATA_FIELD].decode(),
    })
    return [envelope.id, _ms(due_at), stream, key, payload]


class RedisDelayStore:
    def __init__(self, redis: RedisClient, key_ttl_s: int = 24 * 3600) -> None:
        self.redis = redis
        self.key_ttl_ms = key_ttl_s * 1000
        self._add = load(redis, "delay_add")
        self._move = load(redis, "delay_move")
        self._cancel = load(redis, "delay_cancel")

    async def add(self, stream: str, envelope: Envelope, due_at: datetime, key: str) -> StoredDelay:
        """Store the envelope to be written to `stream` at `due_at`; its id is the delay's.
        With a `key` already in use, nothing is stored and that delay is returned."""
        delay_id, due_ms, created = await self._add(
            keys=STORE_KEYS, args=_add_args(stream, envelope, due_at, key)
        )
        return StoredDelay(
            text(delay_id), datetime.fromtimestamp(int(due_ms) / 1000, UTC), bool(created)
        )

    async def add_many(self, delays: Sequence[tuple[str, Envelope, datetime, str]]) -> None:
        """`add` for each (stream, envelope, due_at, key), the same script in one pipeline
        round trip (a bulk load, such as bench/scheduler.py's million)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for delay in delays:
                await self._add(keys=STORE_KEYS, args=_add_args(*delay), client=pipe)
            await pipe.execute()

    async def cancel(self, delay_id: str = "", key: str = "") -> bool:
        return bool(await self._cancel(keys=STORE_KEYS[:4], args=[delay_id, key]))

    async def get(self, delay_id: str) -> PendingDelay | None:
        """A pending delay as the API shows it; None once fired or cancelled."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zscore(DUE, delay_id)
            pipe.hget(PAYLOAD, delay_id)
            score, raw = await pipe.execute()
        if score is None or raw is None:
            return None
        payload = orjson.loads(raw)
        envelope = Envelope.model_validate_json(orjson.loads(payload["e"])["data"])
        return {
            "id": delay_id, "due_at": datetime.fromtimestamp(score / 1000, UTC),
            "stream": payload["s"], "type": envelope.type, "data": envelope.data,
            "key": payload["k"] or None,
        }

    async def move_due(self, batch: int) -> Moved:
        streams = sorted(text(s) for s in await self.redis.smembers(STREAMS))
        reply = await self._move(keys=[*STORE_KEYS, *streams], args=[batch, self.key_ttl_ms])
        return Moved(int(reply[0]), int(reply[1]), [int(x) for x in reply[2:]])

    async def peek(self) -> tuple[int | None, int]:
        """The due time (ms) of the next delay, and how many are pending."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(DUE, 0, 0, withscores=True)
            pipe.zcard(DUE)
            first, pending = await pipe.execute()
        return (int(first[0][1]) if first else None), int(pending)
