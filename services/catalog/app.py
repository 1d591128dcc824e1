"""The catalog's HTTP app: the runtime from `bootstrap`, its stream readers, its routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from services.catalog.bootstrap import Runtime, bootstrap
from services.catalog.entrypoints.consumers import command_consumer, follow_changes
from services.catalog.entrypoints.http import RUNTIME_KEY, setup_routes
from services.catalog.entrypoints.problems import PROBLEMS
from services.catalog.settings import Settings
from services.catalog.streams import COMMANDS_GROUP, COMMANDS_STREAM, EVENTS_STREAM
from shared.auth import REVOCATIONS_KEY, VERIFIER_KEY, Revocations, make_verifier
from shared.broker import make_broker
from shared.consumers import running
from shared.http import (
    METRICS_KEY,
    add_readiness_check,
    create_base_app,
    database_check,
    redis_check,
)
from shared.redis import text


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    app = create_base_app("catalog", problems=PROBLEMS)
    app[VERIFIER_KEY] = make_verifier(settings)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with bootstrap(settings, app[METRICS_KEY].registry) as runtime:
            app[RUNTIME_KEY] = runtime
            app[REVOCATIONS_KEY] = Revocations(runtime.redis, settings.revocation_cache_s)
            async with _streams(app, runtime):
                yield

    app.cleanup_ctx.append(resources)
    setup_routes(app)
    return app


@contextlib.asynccontextmanager
async def _streams(app: web.Application, runtime: Runtime) -> AsyncIterator[None]:
    """The command consumer (group `catalog`) and the `catalog.events` follower, with the
    readiness checks that watch them."""
    broker = make_broker(runtime.settings.require_redis_url())
    consumers = [command_consumer(runtime)]
    for consumer in consumers:
        consumer.subscribe(broker)
    # Copies in Redis may come from another database (restored, or reset to demo data).
    await runtime.banners.invalidate()
    await runtime.pages.invalidate()
    follower = asyncio.create_task(follow_changes(runtime))

    async def streams() -> None:
        if follower.done():
            raise RuntimeError("catalog.events reader stopped")
        # FastStream stops a subscriber whose group vanished (Redis flushed or restarted empty).
        groups = await runtime.redis.xinfo_groups(COMMANDS_STREAM)
        if not any(text(g["name"]) == COMMANDS_GROUP for g in groups):
            raise RuntimeError(f"group {COMMANDS_GROUP} on {COMMANDS_STREAM} is gone")

    add_readiness_check(app, "database", database_check(runtime.engine))
    add_readiness_check(app, "redis", redis_check(runtime.redis))
    add_readiness_check(app, "consumers", streams)
    try:
        async with running(broker, consumers, also_streams=[EVENTS_STREAM],
                           health_every_s=runtime.settings.stream_health_every_s):
            yield
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
