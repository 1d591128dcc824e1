"""The catalog's composition root: its adapters, opened once from the settings.

The HTTP app (with its stream readers), the CLI, the demo data and the tests all take what
they need from the `Runtime` that `bootstrap` yields; nothing else builds an engine, a Redis
client, the read caches (banners, course pages) or a publisher.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.catalog.adapters.event_publisher import RedisEventPublisher
from services.catalog.adapters.page_cache import (
    PAGES_TAG,
    BannerCache,
    CacheMetrics,
    Load,
    VersionedCache,
    page_metrics,
)
from services.catalog.adapters.repository import SqlCatalogStore
from services.catalog.entrypoints import serializers
from services.catalog.handlers import Handlers
from services.catalog.settings import Settings
from shared.db import make_engine, make_sessionmaker
from shared.redis import RedisClient, make_redis


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    registry: CollectorRegistry  # where the adapters count (the app's /metrics)
    engine: AsyncEngine
    redis: RedisClient
    store: SqlCatalogStore
    banners: BannerCache
    events: RedisEventPublisher
    handlers: Handlers
    pages: VersionedCache  # the course lists and details (`entrypoints/http.py` keys them)

    @property
    def base_url(self) -> str:
        return self.settings.public_base_url


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[tuple[AsyncEngine, SqlCatalogStore]]:
    """The database alone (the demo data without Redis); `bootstrap` opens it too."""
    engine = make_engine(settings.database_url)
    try:
        yield engine, SqlCatalogStore(make_sessionmaker(engine))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def bootstrap(
    settings: Settings, registry: CollectorRegistry | None = None
) -> AsyncIterator[Runtime]:
    """Every adapter of the catalog; `registry`: the app's metrics registry (else a new one).
    Opening connects nothing: the first use does."""
    registry = registry or CollectorRegistry()
    redis = make_redis(settings.require_redis_url())
    try:
        async with database(settings) as (engine, store):
            tuning = {"lease_ms": settings.banner_lease_ms, "wait_ms": settings.banner_wait_ms,
                      "poll_ms": settings.banner_poll_ms}
            banners = BannerCache(
                redis, _banner_loader(store, settings.public_base_url),
                CacheMetrics(registry), ttl_ms=settings.banner_cache_ttl_s * 1000, **tuning,
            )
            pages = VersionedCache(
                redis, page_metrics(registry), tag=PAGES_TAG,
                ttl_ms=settings.page_cache_ttl_s * 1000,
                local_size=settings.page_cache_local_size, **tuning,
            )
            events = RedisEventPublisher(redis, settings.events_maxlen)
            yield Runtime(settings, registry, engine, redis, store, banners, events,
                          Handlers(store, banners, events, pages), pages)
    finally:
        await redis.aclose()


def _banner_loader(store: SqlCatalogStore, base_url: str) -> Load:
    """The database side of the banner cache: one query, rendered as `GET /banners` answers
    (so the cached copy is the body, absolute image URLs included)."""

    async def load() -> list[serializers.BannerOut]:
        async with store.reading() as repo:
            return serializers.banners(await repo.banners(), base_url)

    return load
