"""Checks several seckill tests share: the stock invariant, counts in the database."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, select

from services.seckill import handlers
from services.seckill.adapters.keys import Keys
from services.seckill.adapters.orm import orders
from services.seckill.adapters.repository import Repository
from services.seckill.adapters.sale_store import SaleStore
from services.seckill.domain import ItemFigures
from services.seckill.settings import Settings
from shared.db import make_engine
from shared.redis import make_redis


class Inspector:
    """Reads the service's database and Redis the way an operator would."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis: Redis = make_redis(settings.require_redis_url())
        self.engine = make_engine(settings.database_url)
        self.keys = Keys(settings.seckill_partitions)
        self.repo = Repository(self.engine)
        self.store = SaleStore(self.redis, self.keys, settings.ticket_ttl_s)

    async def close(self) -> None:
        await self.redis.aclose()
        await self.engine.dispose()

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
