"""The sale's state in Redis: stock, buyers, tickets, and the scripts that change them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from importlib.resources import files

from services.seckill.adapters.keys import Keys
from services.seckill.domain import Admission, Failure, money
from services.seckill.ports import LoadedItem, Ticket, TicketMark
from services.seckill.streams import ORDER_WRITER_GROUP
from shared.events import LUA_ENCODE_ENTRY
from shared.redis import RedisClient, ScriptBatcher, text
from shared.tracing import current_or_new

PRODUCER = "seckill"


def _lua(name: str) -> str:
    return (files("services.seckill.adapters") / "lua" / name).read_text()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class SaleStore:
    """`ports.SaleStore` on Redis: each change one Lua script or pipeline on one slot."""

    def __init__(self, redis: RedisClient, keys: Keys, ticket_ttl_s: int = 86_400) -> None:
        self.redis = redis
        self.keys = keys
        self.ticket_ttl_s = ticket_ttl_s
        self._admit = ScriptBatcher(
            redis, redis.register_script(LUA_ENCODE_ENTRY + _lua("admit.lua")))
        self._release = redis.register_script(_lua("release.lua"))
        self._readmit = redis.register_script(_lua("readmit.lua"))
        self._snapshot = redis.register_script(_lua("snapshot.lua"))

    async def load_item(
        self, item: LoadedItem, buyers: Iterable[int] = (), released: Iterable[str] = ()
    ) -> None:
        """(Re)write one item's hash, buyers and released tickets, and mark it loaded."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(k.item(item.id), k.buyers(item.id), k.released(item.id))
            pipe.hset(k.item(item.id), mapping={
                "stock": item.stock, "remaining": item.remaining,
                "starts_at_ms": _ms(item.starts_at), "ends_at_ms": _ms(item.ends_at),
                "price": money(item.price), "course_id": item.course_id,
            })
            buyer_ids, released_tickets = list(buyers), list(released)
            if buyer_ids:
                pipe.sadd(k.buyers(item.id), *buyer_ids)
            if released_tickets:
                pipe.sadd(k.released(item.id), *released_tickets)
            pipe.sadd(k.index(item.id), item.id)
            pipe.set(k.loaded(item.id), 1)
            await pipe.execute()
        # Every partition now answers 404 for unknown ids instead of 503 (one slot each).
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(k.partitions):
                pipe.set(k.partition_loaded(partition), 1)
            await pipe.execute()

    async def set_window(self, item_id: int, starts_at: datetime, ends_at: datetime) -> bool:
        """Move a loaded item's sale window (stock and buyers untouched); False when the item
        is not loaded, for `warm` to load it whole."""
        key = self.keys.item(item_id)
        if not await self.redis.exists(key):
            return False
        await self.redis.hset(key, mapping={"starts_at_ms": _ms(starts_at),
                                            "ends_at_ms": _ms(ends_at)})
        return True

    async def is_loaded(self, item_id: int) -> bool:
        return bool(await self.redis.exists(self.keys.item(item_id)))

    async def admit(
        self, item_id: int, user_id: int, ticket: str, event_id: str,
        correlation_id: str, idempotency_key: str | None = None,
    ) -> Admission:
        k = self.keys
        keys = [k.item(item_id), k.buyers(item_id), k.ticket(ticket),
                k.orders_stream_of(item_id), k.index(item_id), k.loaded(item_id)]
        if idempotency_key:
            keys.append(k.idempotency(item_id, user_id, idempotency_key))
        reply = await self._admit(keys, [
            item_id, user_id, ticket, event_id, PRODUCER, correlation_id, self.ticket_ttl_s,
            current_or_new(),
        ])
        outcome = text(reply[0])
        return Admission(outcome, text(reply[1]) if len(reply) > 1 else None)

    async def remaining(self, item_ids: Sequence[int]) -> dict[int, int | None]:
        """Remaining stock per item; None where the item is not loaded."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for item_id in item_ids:
                pipe.hget(self.keys.item(item_id), "remaining")
            values = await pipe.execute()
        return {i: None if v is None else int(v) for i, v in zip(item_ids, values, strict=True)}

    async def ticket(self, ticket: str) -> Ticket | None:
        raw = await self.redis.hgetall(self.keys.ticket(ticket))
        if not raw:
            return None
        fields = {text(k): text(v) for k, v in raw.items()}
        return Ticket(
            ticket=ticket, status=fields["status"], user_id=int(fields["user_id"]),
            item_id=int(fields["item_id"]),
            order_id=int(fields["order_id"]) if fields.get("order_id") else None,
            reason=fields.get("reason") or None,
        )

    async def mark_tickets(self, marks: Sequence[TicketMark]) -> None:
        """Set final statuses (keeping each ticket's expiry) and wake their listeners."""
        if not marks:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for mark in marks:
                key = self.keys.ticket(mark.ticket)
                pipe.hset(key, mapping={
                    "status": mark.status.value, "order_id": mark.order_id or "",
                    "reason": mark.reason or "",
                })
                pipe.expire(key, self.ticket_ttl_s, nx=True)
                # Through `execute_command`: redis-py's cluster pipeline refuses `publish` (a
                # command without a key goes to any node), which is what a channel needs here
                # (classic pub/sub reaches subscribers on every node of a cluster).
                pipe.execute_command(
                    "PUBLISH", self.keys.ticket_channel(mark.ticket), mark.status.value)
            await pipe.execute()

    async def release(self, item_id: int, ticket: str, buyer: int) -> bool:
        """An expired order's unit back to stock, its buyer free to buy again; True the
        first time for this ticket (see `_undo`)."""
        return await self._undo(item_id, ticket, buyer, unit_back=True)

    async def fail(self, item_id: int, ticket: str, user_id: int, failure: Failure) -> bool:
        """Fail an admitted request that gets no order and undo its admission as `failure`
        says; True the first time for this ticket (see `_undo`)."""
        return await self._undo(item_id, ticket, user_id if failure.frees_buyer else None,
                                unit_back=failure.unit_back, reason=failure.reason)

    async def _undo(
        self, item_id: int, ticket: str, buyer: int | None, unit_back: bool,
        reason: str | None = None,
    ) -> bool:
        """At most once per ticket, whatever path asks (rejection, refusal for stock, dead
        letter, expiry): the released set remembers every ticket undone."""
        k = self.keys
        done = await self._release(
            keys=[k.item(item_id), k.buyers(item_id), k.released(item_id), k.ticket(ticket)],
            args=[ticket, "" if buyer is None else buyer, int(unit_back), reason or "",
                  self.ticket_ttl_s],
        )
        return bool(done)

    async def readmit(self, dead_stream: str, entry_id: str, data: bytes, user_id: int,
                      item_id: int, ticket: str) -> str:
        """Admit a dead order request again and put it back on its stream, or refuse it (the
        outcome; see `readmit.lua`)."""
        k = self.keys
        outcome = await self._readmit(
            keys=[dead_stream, k.orders_stream_of(item_id), k.item(item_id), k.buyers(item_id),
                  k.released(item_id), k.ticket(ticket)],
            args=[entry_id, data, user_id, item_id, ticket, self.ticket_ttl_s],
        )
        return text(outcome)

    async def snapshot(self, item_id: int) -> tuple[int | None, list[str]]:
        """Remaining stock and the tickets of unacknowledged order requests not undone
        already, at one instant."""
        k = self.keys
        remaining, tickets = await self._snapshot(
            keys=[k.item(item_id), k.orders_stream_of(item_id), k.released(item_id)],
            args=[ORDER_WRITER_GROUP, item_id],
        )
        return (None if remaining is None else int(remaining)), [text(t) for t in tickets]

    async def adjust_remaining(self, item_id: int, delta: int) -> int:
        """Shift remaining stock by `delta` (an increment keeps concurrent admissions)."""
        return int(await self.redis.hincrby(self.keys.item(item_id), "remaining", delta))
