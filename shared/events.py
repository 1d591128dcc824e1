"""The stream event envelope and its one wire format, shared by Python and Lua writers.

An entry has one field, `__data__`, holding JSON `{"data": "<envelope JSON>", "headers": {...}}`.
FastStream reads that form (its message format: `shared.broker.JsonMessageFormat`), `XRANGE`
shows it as text, and a Lua script can write it with `cjson` (`LUA_ENCODE_ENTRY` below).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, Field
from ulid import ULID

from shared.redis import ScriptBatcher, text
from shared.tracing import current_or_new

if TYPE_CHECKING:
    from shared.redis import RedisClient

DATA_FIELD = "__data__"
DEFAULT_MAXLEN = 100_000


def new_event_id() -> str:
    """A unique, time-sortable id (ULID)."""
    return str(ULID())


def stable_event_id(millis: int, key: str) -> str:
    """The same id every time for one (time, key), for an event that may be published more
    than once (a scheduled run, an event published again on redelivery): readers drop the
    repeats by id. A ULID: the time in ms, then the first 10 bytes of SHA-256 of the key."""
    digest = hashlib.sha256(key.encode()).digest()[:10]
    return str(ULID.from_bytes(millis.to_bytes(6, "big") + digest))


class Envelope(BaseModel):
    """Every stream entry's payload."""

    id: str = Field(default_factory=new_event_id)
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    correlation_id: str | None = None
    # The W3C traceparent of the request or entry that caused this one (shared.tracing).
    traceparent: str | None = Field(default_factory=current_or_new)
    data: dict[str, Any] = Field(default_factory=dict)


def encode_entry(envelope: Envelope) -> dict[str, bytes]:
    """The stream fields for one envelope."""
    headers = {
        "correlation_id": envelope.correlation_id or envelope.id,
        "message_id": envelope.id,
        "content-type": "application/json",
    }
    body = envelope.model_dump_json()
    return {DATA_FIELD: orjson.dumps({"data": body, "headers": headers})}


def decode_entry(fields: Mapping[Any, Any]) -> Envelope:
    """The envelope of one stream entry, whoever wrote it."""
    raw = fields.get(DATA_FIELD.encode()) or fields.get(DATA_FIELD)
    if raw is None:
        raise ValueError("stream entry has no __data__ field")
    outer = orjson.loads(raw)
    return Envelope.model_validate_json(outer["data"])


async def publish(
    redis: RedisClient, stream: str, envelope: Envelope, *, maxlen: int | None = None
) -> str:
    """XADD one envelope. `maxlen` (approximate) only for streams no group consumes;
    grouped streams are trimmed by `shared.streams.trim_stream`, which keeps unacknowledged
    entries."""
    entry_id = await redis.xadd(
        stream, encode_entry(envelope), maxlen=maxlen, approximate=maxlen is not None
    )
    return text(entry_id)


def hash_tag(key: str) -> str:
    """What Redis Cluster hashes of `key`: the first non-empty `{...}`, else the whole key."""
    start = key.find("{")
    end = key.find("}", start + 1) if start != -1 else -1
    return key[start + 1:end] if end > start + 1 else key


def dedupe_key(stream: str, event_id: str) -> str:
    """Marks `event_id` as published to `stream`; it carries the stream's hash tag, so the
    two share a cluster slot."""
    return f"{{{hash_tag(stream)}}}:published:{event_id}"


PUBLISH_ONCE = """
-- KEYS[1] the event's dedupe key, KEYS[2] the stream (one slot: shared.events.dedupe_key).
-- ARGV[1] dedupe TTL in s, ARGV[2] the entry's __data__, ARGV[3] approximate MAXLEN or 0.
-- Returns the new entry's id, or false when the event was published before.
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then return false end
if ARGV[3] ~= '0' then
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', '__data__', ARGV[2])
end
return redis.call('XADD', KEYS[2], '*', '__data__', ARGV[2])
"""


class OncePublisher:
    """XADD each envelope unless its id was published to that stream in the last `ttl_s`:
    an event published again (a redelivery, a retried fire, a crash between two steps) gets
    one entry. The dedupe key and the stream share a slot, so this works on a cluster; the
    entries of one call share one round trip. `maxlen` caps streams no group consumes."""

    def __init__(
        self, redis: RedisClient, ttl_s: int, maxlen: Mapping[str, int] | None = None
    ) -> None:
        self._script = ScriptBatcher(redis, redis.register_script(PUBLISH_ONCE))
        self._ttl_s = ttl_s
        self._maxlen = dict(maxlen or {})

    async def publish_many(self, entries: Sequence[tuple[str, Envelope]]) -> list[str | None]:
        """The entry id of each envelope, or None for one published before."""
        return await self.publish_encoded(
            [(stream, envelope.id, encode_entry(envelope)[DATA_FIELD])
             for stream, envelope in entries])

    async def publish_encoded(
        self, entries: Sequence[tuple[str, str, bytes | str]]
    ) -> list[str | None]:
        """`publish_many` for (stream, event id, `__data__` as `encode_entry` makes it)."""
        replies = await asyncio.gather(*(
            self._script([dedupe_key(stream, event_id), stream],
                         [self._ttl_s, data, self._maxlen.get(stream, 0)])
            for stream, event_id, data in entries))
        return [None if reply is None else text(reply) for reply in replies]


# Prepend to a Lua script (or Redis function library) that writes stream entries itself.
# `occurred_ms` is Redis TIME in milliseconds; `data` a Lua table; `traceparent` the
# caller's (`shared.tracing.current_or_new()`; nil or '' for none). It produces exactly the
# fields `encode_entry` produces, so `decode_entry` and FastStream read both alike.
LUA_ENCODE_ENTRY = """
local function encode_entry(id, event_type, producer, correlation_id, occurred_ms, data,
                            traceparent)
  if traceparent == '' then traceparent = nil end
  local envelope = cjson.encode({
    id = id, type = event_type, version = 1, occurred_at = occurred_ms,
    producer = producer, correlation_id = correlation_id or cjson.null,
    traceparent = traceparent or cjson.null, data = data,
  })
  return cjson.encode({data = envelope, headers = {
    correlation_id = correlation_id or id, message_id = id,
    ["content-type"] = "application/json",
  }})
end
"""
