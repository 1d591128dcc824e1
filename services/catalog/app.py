"""The catalog's composition root: settings, engine, Redis, banner cache, broker, routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from services.catalog.adapters.banner_cache import BannerCache, BannerCacheMetrics
from services.catalog.domain import COMMANDS_GROUP, COMMANDS_STREAM
from services.catalog.entrypoints.consumers import command_consumer, follow_changes
from services.catalog.entrypoints.http import CATALOG_KEY, setup_routes
from services.catalog.handlers import Catalog, load_banners
from services.catalog.settings import Settings
from shared.auth import REVOCATIONS_KEY, VERIFIER_KEY, Revocations, make_verifier
from shared.broker import make_broker
from shared.consumers import running
from shared.db import make_engine, make_sessionmaker
from shared.http import (
    METRICS_KEY,
    add_readiness_check,
    create_base_app,
    database_check,
    redis_check,
)
from shared.redis import make_redis, text

SETTINGS_KEY = web.AppKey("settings", Settings)
ENGINE_KEY = web.AppKey("engine", AsyncEngine)



def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    app = create_base_app("catalog")
    app[SETTINGS_KEY] = settings
    app[VERIFIER_KEY] = make_verifier(settings)
    app.cleanup_ctx.append(_resources)
    setup_routes(app)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    redis_url = settings.require_redis_url()
    engine = make_engine(settings.database_url)
    redis = make_redis(redis_url)
    sessions = make_sessionmaker(engine)
    registry = app[METRICS_KEY].registry
    cache = BannerCache(
        redis, partial(load_banners, sessions, settings.public_base_url),
        BannerCacheMetrics(registry), ttl_ms=settings.banner_cache_ttl_s * 1000,
        lease_ms=settings.banner_lease_ms, wait_ms=settings.banner_wait_ms,
        poll_ms=settings.banner_poll_ms,
    )
    app[REVOCATIONS_KEY] = Revocations(redis, settings.revocation_cache_s)
    app[ENGINE_KEY] = engine
    app[CATALOG_KEY] = Catalog(sessions, redis, cache, settings)
    broker = make_broker(redis_url)
    consumer_name = settings.consumer_for("catalog")
    consumers = [command_consumer(redis, cache, registry, consumer_name)]
    for consumer in consumers:
        consumer.subscribe(broker)
    # Copies in Redis may come from another database (restored, or reset to demo data).
    await cache.invalidate()
    follower = asyncio.create_task(follow_changes(redis, cache))

    async def streams() -> None:
        if follower.done():
            raise RuntimeError("catalog.events reader stopped")
        # FastStream stops a subscriber whose group vanished (Redis flushed or restarted empty).
        groups = await redis.xinfo_groups(COMMANDS_STREAM)
        if not any(text(g["name"]) == COMMANDS_GROUP for g in groups):
            raise RuntimeError(f"group {COMMANDS_GROUP} on {COMMANDS_STREAM} is gone")

    add_readiness_check(app, "database", database_check(engine))
    add_readiness_check(app, "redis", redis_check(redis))
    add_readiness_check(app, "consumers", streams)
    try:
        async with running(broker, consumers):
            yield
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        await redis.aclose()
        await engine.dispose()
