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
-- Events of one stream: KEYS[1] the stream, KEYS[2..] each event's dedupe key (in the
-- stream's slot: shared.events.dedupe_key). ARGV[1] dedupe TTL in s, ARGV[2] approximate
-- MAXLEN or 0, ARGV[3..] each event's __data__, in the order of its key.
-- Returns, for each event, its new entry's id, or false when it was published before.
local ttl, maxlen = tonumber(ARGV[1]), ARGV[2]
local ids = {}
for i = 2, #KEYS do
  if not redis.call('SET', KEYS[i], '1', 'NX', 'EX', ttl) then
    ids[i - 1] = false
  elseif maxlen ~= '0' then
    ids[i - 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', '__data__', ARGV[i + 1])
  else
    ids[i - 1] = redis.call('XADD', KEYS[1], '*', '__data__', ARGV[i + 1])
  end
end
return ids
"""


class OncePublisher:
    """XADD each envelope unless its id was published to that stream in the last `ttl_s`:
    an event published again (a redelivery, a retried fire, a crash between two steps) gets
    one entry. The dedupe key and the stream share a slot, so this works on a cluster; the
    entries of one call share one round trip, and those of one stream one script call (a
    script call per event cost the delay mover more than half of its CPU per delay: packing,
    a task and a reply each). `maxlen` caps streams no group consumes."""

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
        by_stream: dict[str, list[int]] = {}
        for index, (stream, _, _) in enumerate(entries):
            by_stream.setdefault(stream, []).append(index)
        replies = await asyncio.gather(*(
            self._script([stream, *(dedupe_key(stream, entries[i][1]) for i in indexes)],
                         [self._ttl_s, self._maxlen.get(stream, 0),
                          *(entries[i][2] for i in indexes)])
            for stream, indexes in by_stream.items()))
        published: list[str | None] = [None] * len(entries)
        for indexes, reply in zip(by_stream.values(), replies, strict=True):
            for index, entry_id in zip(indexes, reply, strict=True):
                published[index] = None if entry_id is None else text(entry_id)
        return published


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
