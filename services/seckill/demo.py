"""Demo data: one flash sale, open for a week from the platform's first start, so `./dev up`
has a sale to try (the catalog's demo banner "Flash sale" points at it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.seckill import handlers
from services.seckill.adapters.keys import Keys
from services.seckill.adapters.repository import Repository
from services.seckill.adapters.sale_store import SaleStore
from services.seckill.entrypoints.schemas import ItemIn
from services.seckill.settings import Settings
from shared.db import make_engine
from shared.redis import make_redis

DEMO_COURSE_ID = 13  # the catalog's first hands-on course (39.90), here at 9.90
SALE_DAYS = 7


async def load_demo_data(settings: Settings) -> bool:
    """Create the demo sale (stock in Redis too); False when the service has items already."""
    engine = make_engine(settings.database_url)
    redis = make_redis(settings.require_redis_url())
    try:
        repo = Repository(engine)
        if await repo.all_items():
            return False
        starts_at = datetime.now(UTC)
        item = ItemIn(course_id=DEMO_COURSE_ID, title="Flash sale: a hands-on course at 9.90",
                      price=Decimal("9.90"), stock=100, starts_at=starts_at,
                      ends_at=starts_at + timedelta(days=SALE_DAYS))
        store = SaleStore(redis, Keys(settings.seckill_partitions), settings.ticket_ttl_s)
        await handlers.create_item(repo, store, item.model_dump())
        return True
    finally:
        await redis.aclose()
        await engine.dispose()
