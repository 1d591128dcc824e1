"""The seckill service's composition root: its adapters opened once from its settings.

The HTTP app, the order writer, the CLI commands, the demo data, the benchmarks and the
tests all take a `Runtime` from `bootstrap(settings)`; nothing else builds a connection.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.seckill.adapters.event_log import EventLog
from services.seckill.adapters.keys import Keys
from services.seckill.adapters.repository import Repository
from services.seckill.adapters.sale_store import SaleStore
from services.seckill.adapters.ticket_channels import TicketChannels
from services.seckill.domain import OpenStreams
from services.seckill.metrics import AdmissionMetrics
from services.seckill.settings import Settings
from shared.db import make_engine
from shared.redis import RedisClient, make_redis


@dataclass(frozen=True)
class Runtime:
    """What the service runs on. `store`, `repo` and `publisher` are the handlers' ports;
    the ticket channels are started by the HTTP app only (the event streams listen on
    them), and the admission metrics count on the registry given to `bootstrap`."""

    settings: Settings
    redis: RedisClient
    engine: AsyncEngine
    keys: Keys
    repo: Repository
    store: SaleStore
    publisher: EventLog
    ticket_channels: TicketChannels
    open_streams: OpenStreams
    admission_metrics: AdmissionMetrics


@contextlib.asynccontextmanager
async def bootstrap(
    settings: Settings, registry: CollectorRegistry | None = None
) -> AsyncIterator[Runtime]:
    """Open Redis and the database engine (both connect on first use) and build the
    adapters on them; close everything when the block exits."""
    redis = make_redis(settings.require_redis_url(), settings.seckill_redis_max_connections)
    engine = make_engine(settings.database_url)
    keys = Keys(settings.seckill_partitions)
    ticket_channels = TicketChannels(redis)
    try:
        yield Runtime(
            settings=settings, redis=redis, engine=engine, keys=keys,
            repo=Repository(engine), store=SaleStore(redis, keys, settings.ticket_ttl_s),
            publisher=EventLog(redis), ticket_channels=ticket_channels,
            # By the end of the event streams' timeout each of a user's streams has ended.
            open_streams=OpenStreams(settings.ticket_events_per_user,
                                     retry_after_s=math.ceil(settings.ticket_events_timeout_s)),
            admission_metrics=AdmissionMetrics(registry or CollectorRegistry()),
        )
    finally:
        await ticket_channels.aclose()
        await redis.aclose()
        await engine.dispose()

