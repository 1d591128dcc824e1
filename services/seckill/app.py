"""The seckill HTTP app: the runtime from `bootstrap`, the routes, the commands consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from functools import partial

from aiohttp import web

from services.seckill import handlers
from services.seckill.bootstrap import bootstrap
from services.seckill.domain import DatabaseUnavailable
from services.seckill.entrypoints.http import RUNTIME_KEY, end_event_streams, setup_routes
from services.seckill.entrypoints.invariant_watch import watch_invariant
from services.seckill.entrypoints.problems import PROBLEMS
from services.seckill.metrics import InvariantMetrics
from services.seckill.settings import Settings
from services.seckill.streams import COMMANDS_GROUP, SECKILL_COMMANDS, SECKILL_EVENTS
from shared.auth import REVOCATIONS_KEY, VERIFIER_KEY, Revocations, make_verifier
from shared.broker import make_broker
from shared.consumers import ConsumerMetrics, StreamConsumer, running
from shared.http import (
    METRICS_KEY,
    add_readiness_check,
    create_base_app,
    database_check,
    redis_check,
)


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    app = create_base_app("seckill", problems=PROBLEMS)
    app[VERIFIER_KEY] = make_verifier(settings)
    app.cleanup_ctx.append(_resources(settings))
    app.on_shutdown.append(end_event_streams)  # after create_base_app's: Drain.stopping set
    setup_routes(app)
    return app


def _resources(
    settings: Settings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def resources(app: web.Application) -> AsyncIterator[None]:
        registry = app[METRICS_KEY].registry
        async with bootstrap(settings, registry) as runtime:
            app[RUNTIME_KEY] = runtime
            app[REVOCATIONS_KEY] = Revocations(runtime.redis, settings.revocation_cache_s)
            add_readiness_check(app, "redis", redis_check(runtime.redis))
            add_readiness_check(app, "database", database_check(runtime.engine))

            broker = make_broker(settings.require_redis_url())
            commands = StreamConsumer(
                redis=runtime.redis, stream=SECKILL_COMMANDS, group=COMMANDS_GROUP,
                consumer=settings.consumer_for("seckill"),
                handle=partial(handlers.handle_commands, repo=runtime.repo,
                               store=runtime.store, publisher=runtime.publisher),
                metrics=ConsumerMetrics(registry), transient=(DatabaseUnavailable,),
            )
            commands.subscribe(broker)
            runtime.ticket_channels.start()
            every_s = settings.seckill_invariant_every_s
            invariant = (asyncio.create_task(
                watch_invariant(runtime, InvariantMetrics(registry), every_s))
                if every_s else None)
            try:
                async with running(broker, [commands], also_streams=[SECKILL_EVENTS],
                                   health_every_s=settings.stream_health_every_s):
                    yield
            finally:
                if invariant is not None:
                    invariant.cancel()
                    await asyncio.gather(invariant, return_exceptions=True)

    return resources
