"""The envelope's one wire format, written by Python and by Lua, read by both paths."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from ulid import ULID

from shared.broker import JsonMessageFormat
from shared.events import (
    LUA_ENCODE_ENTRY,
    Envelope,
    OncePublisher,
    decode_entry,
    publish,
    stable_event_id,
)
from shared.tracing import new_traceparent

pytestmark = pytest.mark.integration

LUA_WRITER = LUA_ENCODE_ENTRY + """
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('XADD', KEYS[1], '*', '__data__',
  encode_entry(ARGV[1], 'order.requested', 'seckill', ARGV[2], ms,
               {item_id = 7, user_id = 42, ticket = ARGV[3]}, ARGV[4]))
"""


async def test_python_and_lua_entries_decode_alike(redis: Redis) -> None:
    traceparent = new_traceparent()
    py = Envelope(type="order.requested", producer="seckill", correlation_id="c-1",
                  traceparent=traceparent, data={"item_id": 7, "user_id": 42, "ticket": "t-1"})
    await publish(redis, "s", py)
    await redis.eval(LUA_WRITER, 1, "s", "01JLUAID", "c-1", "t-1", traceparent)

    (_, py_fields), (_, lua_fields) = await redis.xrange("s")
    from_py, from_lua = decode_entry(py_fields), decode_entry(lua_fields)

    assert from_lua.id == "01JLUAID"
    assert from_lua.traceparent == traceparent
    assert from_lua.model_dump(exclude={"id", "occurred_at"}) == from_py.model_dump(
        exclude={"id", "occurred_at"}
    )
    assert abs((from_lua.occurred_at - from_py.occurred_at).total_seconds()) < 5
    assert from_lua.occurred_at.utcoffset() is not None
    # FastStream's parser sees the same body for both.
    body_py, headers_py = JsonMessageFormat.parse(py_fields[b"__data__"])
    body_lua, headers_lua = JsonMessageFormat.parse(lua_fields[b"__data__"])
    assert Envelope.model_validate_json(body_lua).data == Envelope.model_validate_json(body_py).data
    assert headers_py["correlation_id"] == headers_lua["correlation_id"] == "c-1"


def test_decode_rejects_an_entry_without_data() -> None:
    with pytest.raises(ValueError):
        decode_entry({b"other": b"1"})


def test_stable_event_ids_repeat_for_the_same_time_and_key_only() -> None:
    first = stable_event_id(1795531443381, "01JSOURCE|order.created")
    assert first == stable_event_id(1795531443381, "01JSOURCE|order.created")
    assert ULID.from_str(first).milliseconds == 1795531443381  # sorts by its time
    others = {stable_event_id(1795531443381, "01JSOURCE|delay.requested"),
              stable_event_id(1795531443382, "01JSOURCE|order.created")}
    assert first not in others and len(others) == 2


async def test_each_event_is_published_once_in_its_order(redis: Redis) -> None:
    """`OncePublisher`: the events of one call, of several streams, keep their order in each
    stream and come back in the call's order; one published before gets None."""
    once = OncePublisher(redis, ttl_s=60)
    a = [Envelope(type="t", producer="p", data={"n": n}) for n in range(4)]
    b = Envelope(type="t", producer="p", data={"n": "b"})
    first = await once.publish_many([("s:a", a[0]), ("s:b", b), ("s:a", a[1])])
    again = await once.publish_many([("s:b", b), ("s:a", a[2]), ("s:a", a[0]), ("s:a", a[3])])

    assert None not in first and again[0] is None and again[2] is None
    entries = await redis.xrange("s:a")
    assert [decode_entry(fields).id for _, fields in entries] == [a[0].id, a[1].id, a[2].id,
                                                                  a[3].id]
    assert [entry_id.decode() for entry_id, _ in entries] == [first[0], first[2], again[1],
                                                              again[3]]
    assert [decode_entry(f).id for _, f in await redis.xrange("s:b")] == [b.id]
    assert await once.publish_many([]) == []
