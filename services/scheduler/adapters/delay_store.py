"""Delayed events in Redis: a sorted set by due time and a hash of payloads, under one hash
tag so each script below works on one slot. Due entries reach their streams in two steps
(taken into an in-flight set, then each published once by its id and removed), so a cluster
can hold the streams in other slots and a crash in between neither loses nor repeats one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from services.scheduler.adapters.lua_scripts import load
from services.scheduler.domain.delays import Moved, StoredDelay
from services.scheduler.ports import PendingDelay
from shared.events import DATA_FIELD, Envelope, OncePublisher, encode_entry
from shared.redis import RedisClient, text

TAG = "{scheduler:delays}"
DUE, PAYLOAD, KEYS, KEY_EXPIRY, IN_FLIGHT = (
    f"{TAG}:due", f"{TAG}:payload", f"{TAG}:keys", f"{TAG}:key-expiry", f"{TAG}:in-flight"
)
STORE_KEYS = [DUE, PAYLOAD, KEYS, KEY_EXPIRY, IN_FLIGHT]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _add_args(stream: str, envelope: Envelope, due_at: datetime, key: str) -> list[Any]:
    payload = orjson.dumps({
        "s": stream, "k": key, "d": _ms(due_at), "e": encode_entry(envelope)[DATA_FIELD].decode(),
    })
    return [envelope.id, _ms(due_at), key, payload]


@dataclass(frozen=True, slots=True)
class TakenDelay:
    id: str
    payload: dict[str, Any]  # {"s": stream, "k": key, "d": due ms, "e": encoded entry}
    lateness_ms: int


@dataclass(frozen=True, slots=True)
class Taken:
    """One take: how many due delays it looked at, and the delays now in this mover's hands."""

    looked_at: int
    delays: list[TakenDelay]


class RedisDelayStore:
    def __init__(
        self, redis: RedisClient, key_ttl_s: int = 24 * 3600, retake_after_ms: int = 5_000
    ) -> None:
        self.redis = redis
        self.key_ttl_ms = key_ttl_s * 1000
        self.retake_after_ms = retake_after_ms
        self._add = load(redis, "delay_add")
        self._take = load(redis, "delay_take")
        self._cancel = load(redis, "delay_cancel")
        # A delay is published once per id while its dedupe key lives (the key's TTL).
        self._once = OncePublisher(redis, key_ttl_s)

    async def add(self, stream: str, envelope: Envelope, due_at: datetime, key: str) -> StoredDelay:
        """Store the envelope to be written to `stream` at `due_at`; its id is the delay's.
        With a `key` already in use, nothing is stored and that delay is returned."""
        delay_id, due_ms, created = await self._add(
            keys=STORE_KEYS[:4], args=_add_args(stream, envelope, due_at, key)
        )
        return StoredDelay(
            text(delay_id), datetime.fromtimestamp(int(due_ms) / 1000, UTC), bool(created)
        )

    async def add_many(self, delays: Sequence[tuple[str, Envelope, datetime, str]]) -> None:
        """`add` for each (stream, envelope, due_at, key), the same script in one pipeline
        round trip (a bulk load, such as bench/scheduler.py's million)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for delay in delays:
                await self._add(keys=STORE_KEYS[:4], args=_add_args(*delay), client=pipe)
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
        """Take a batch, publish each, mark them done: three round trips, each in one slot.
        A delay published before (taken again after a crash) counts as moved, not twice."""
        taken = await self.take(batch)
        await self.publish(taken)
        await self.done(taken)
        return Moved(len(taken.delays), taken.looked_at, [d.lateness_ms for d in taken.delays])

    async def take(self, batch: int) -> Taken:
        """Step 1: the due delays (and those in flight past `retake_after_ms`, whose mover
        died) move to the in-flight set, for this mover alone until then."""
        reply = await self._take(
            keys=STORE_KEYS, args=[batch, self.key_ttl_ms, self.retake_after_ms])
        return Taken(int(reply[0]), [
            TakenDelay(text(reply[i]), orjson.loads(reply[i + 1]), int(reply[i + 2]))
            for i in range(1, len(reply), 3)])

    async def publish(self, taken: Taken) -> None:
        """Step 2: each delay's envelope to its stream, once by its id."""
        await self._once.publish_encoded(
            [(d.payload["s"], d.id, d.payload["e"]) for d in taken.delays])

    async def done(self, taken: Taken) -> None:
        """Step 3: published delays leave the in-flight set and their payloads go."""
        if ids := [d.id for d in taken.delays]:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(IN_FLIGHT, *ids)
                pipe.hdel(PAYLOAD, *ids)
                await pipe.execute()

    async def peek(self) -> tuple[int | None, int]:
        """The due time (ms) of the next delay, and how many are pending."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(DUE, 0, 0, withscores=True)
            pipe.zcard(DUE)
            first, pending = await pipe.execute()
        return (int(first[0][1]) if first else None), int(pending)
