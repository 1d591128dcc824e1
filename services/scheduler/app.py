"""The scheduler's HTTP app: API, leader loop, delay mover, requests consumer, on the
adapters `bootstrap` opens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

from aiohttp import web

from services.scheduler.adapters.builtin_file import load_builtins
from services.scheduler.bootstrap import bootstrap
from services.scheduler.entrypoints.consumers import requests_consumer
from services.scheduler.entrypoints.http import RUNTIME_KEY, setup_routes
from services.scheduler.entrypoints.loops import running_loops
from services.scheduler.entrypoints.problems import PROBLEMS
from services.scheduler.settings import Settings
from shared.auth import REVOCATIONS_KEY, VERIFIER_KEY, Revocations, make_verifier
from shared.broker import make_broker
from shared.consumers import ConsumerMetrics, running
from shared.http import (
    METRICS_KEY,
    add_readiness_check,
    create_base_app,
    database_check,
    redis_check,
)


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    app = create_base_app("scheduler", problems=PROBLEMS)
    app[VERIFIER_KEY] = make_verifier(settings)
    setup_routes(app)
    app.cleanup_ctx.append(partial(_resources, settings))
    return app


async def _resources(settings: Settings, app: web.Application) -> AsyncIterator[None]:
    registry = app[METRICS_KEY].registry
    async with bootstrap(settings, registry) as runtime:
        app[RUNTIME_KEY] = runtime
        app[REVOCATIONS_KEY] = Revocations(runtime.redis, settings.revocation_cache_s)
        add_readiness_check(app, "database", database_check(runtime.engine))
        add_readiness_check(app, "redis", redis_check(runtime.redis))

        await runtime.handlers.sync_builtins(load_builtins(settings.scheduler_builtin_file))
        broker = make_broker(settings.require_redis_url())
        consumer = requests_consumer(
            runtime.redis, runtime.handlers, ConsumerMetrics(registry),
            settings.consumer_for("scheduler"), settings.scheduler_claim_idle_ms,
        )
        consumer.subscribe(broker)
        async with (
            running(broker, [consumer], health_every_s=settings.stream_health_every_s),
            running_loops(runtime),
        ):
            yield
