"""What several seckill tests share: buying over HTTP, the stock invariant, counts in the
database."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from redis.exceptions import ResponseError
from sqlalchemy import func, select

from services.seckill import handlers
from services.seckill.adapters.orm import orders
from services.seckill.bootstrap import Runtime
from services.seckill.domain import ItemFigures
from services.seckill.streams import SECKILL_COMMANDS
from shared.consumers import Delivery
from shared.events import Envelope, decode_entry, publish
from shared.redis import RedisClient
from tests.seckill.conftest import BASE
from tests.support.tokens import Tokens
from tests.support.waiting import eventually


class Inspector:
    """Reads the service's database and Redis the way an operator would, on a runtime of
    its own (`bootstrap`)."""

    def __init__(self, runtime: Runtime) -> None:
        self.settings = runtime.settings
        self.redis: RedisClient = runtime.redis
        self.engine = runtime.engine
        self.keys = runtime.keys
        self.repo = runtime.repo
        self.store = runtime.store
        self.publisher = runtime.publisher

    async def orders(self, item_id: int) -> list[Any]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(orders).where(orders.c.item_id == item_id))
            return list(rows)

    async def order_count(self, item_id: int) -> int:
        async with self.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(orders).where(orders.c.item_id == item_id)
            )
            return int(count or 0)

    async def figures(self, item_id: int) -> ItemFigures:
        [found] = [f for f in await handlers.reconcile(self.repo, self.store)
                   if f.item_id == item_id]
        return found

    async def pending(self, item_id: int) -> int:
        summary: Any = await self.redis.xpending(self.keys.orders_stream_of(item_id),
                                                 "order-writer")
        return int(summary["pending"])


async def buy(client: TestClient[Any, Any], tokens: Tokens, item_id: int, user: int) -> str:
    response = await client.post(f"{BASE}/items/{item_id}/attempts", headers=tokens.headers(user))
    assert response.status == 202, await response.text()
    return str((await response.json())["ticket"])


async def order_of(
    client: TestClient[Any, Any], tokens: Tokens, ticket: str, user: int
) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def written() -> bool:
        body = await (await client.get(f"{BASE}/tickets/{ticket}",
                                       headers=tokens.headers(user))).json()
        found.update(body)
        return body["status"] != "pending"

    await eventually(written, within=20)
    assert found["status"] == "success", found
    response = await client.get(f"{BASE}/orders/{found['order_id']}", headers=tokens.headers(user))
    assert response.status == 200
    return await response.json()


async def expire_command(inspector: Inspector, order_id: int) -> None:
    await publish(inspector.redis, SECKILL_COMMANDS,
                  Envelope(type="order.expire", producer="test", data={"order_id": order_id}))


async def read_requests(inspector: Inspector, item_id: int) -> list[Delivery]:
    """The item's new order requests, read into `order-writer` as a writer would (pending
    until acknowledged)."""
    stream = inspector.keys.orders_stream_of(item_id)
    try:
        await inspector.redis.xgroup_create(stream, "order-writer", id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    reply = await inspector.redis.xreadgroup("order-writer", "test-writer", {stream: ">"})
    entries = reply[0][1] if reply else []
    return [Delivery(i.decode(), decode_entry(f), f) for i, f in entries]
