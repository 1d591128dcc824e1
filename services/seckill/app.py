"""The seckill service's composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

from aiohttp import web

from services.seckill import handlers
from services.seckill.adapters.event_log import SECKILL_COMMANDS
from services.seckill.adapters.keys import Keys
from services.seckill.adapters.repository import Repository
from services.seckill.adapters.sale_store import SaleStore
from services.seckill.adapters.ticket_channels import TicketChannels
from services.seckill.domain import OpenStreams
from services.seckill.entrypoints.http import setup_routes
from services.seckill.metrics import AdmissionMetrics
from services.seckill.settings import Settings
from services.seckill.state import STATE_KEY, State
from shared.auth import REVOCATIONS_KEY, VERIFIER_KEY, Revocations, make_verifier
from shared.broker import make_broker
from shared.consumers import ConsumerMetrics, StreamConsumer, running
from shared.db import make_engine
from shared.http import (
    METRICS_KEY,
    add_readiness_check,
    create_base_app,
    database_check,
    redis_check,
)
from shared.redis import make_redis

COMMANDS_GROUP = "seckill"
SETTINGS_KEY = web.AppKey("seckill_settings", Settings)


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    app = create_base_app("seckill")
    app[SETTINGS_KEY] = settings
    app[VERIFIER_KEY] = make_verifier(settings)
    app.cleanup_ctx.append(_resources)
    setup_routes(app)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    redis_url = settings.require_redis_url()
    redis = make_redis(redis_url, settings.seckill_redis_max_connections)
    engine = make_engine(settings.database_url)
    registry = app[METRICS_KEY].registry
    repo = Repository(engine)
    store = SaleStore(redis, Keys(settings.seckill_partitions), settings.ticket_ttl_s)
    app[REVOCATIONS_KEY] = Revocations(redis, settings.revocation_cache_s)
    ticket_channels = TicketChannels(redis)
    app[STATE_KEY] = State(settings, redis, repo, store, AdmissionMetrics(registry),
                           ticket_channels, OpenStreams(settings.ticket_events_per_user))

    add_readiness_check(app, "redis", redis_check(redis))
    add_readiness_check(app, "database", database_check(engine))

    broker = make_broker(redis_url)
    commands = StreamConsumer(
        redis=redis, stream=SECKILL_COMMANDS, group=COMMANDS_GROUP,
        consumer=settings.consumer_for("seckill"),
        handle=partial(handlers.handle_commands, repo=repo, store=store, redis=redis),
        metrics=ConsumerMetrics(registry), transient=(handlers.DatabaseUnavailable,),
    )
    commands.subscribe(broker)
    ticket_channels.start()
    try:
        async with running(broker, [commands]):
            yield
    finally:
        await ticket_channels.aclose()
        await redis.aclose()
        await engine.dispose()
