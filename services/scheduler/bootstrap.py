"""The scheduler's composition root: its adapters opened once from the settings, the handlers
on them, closed together. The app, its consumer and loops, the SMS sender, the CLI, the
benchmark and the tests all start from `bootstrap(settings)`."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.scheduler.adapters.delay_store import RedisDelayStore
from services.scheduler.adapters.leader_lease import RedisLeaderLease
from services.scheduler.adapters.repository import SqlScheduleRepository
from services.scheduler.adapters.run_publisher import RedisEventPublisher, RedisRunPublisher
from services.scheduler.handlers import SchedulerHandlers
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.settings import Settings
from shared.db import make_engine
from shared.redis import RedisClient, make_redis


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    redis: RedisClient
    repo: SqlScheduleRepository
    delays: RedisDelayStore
    lease: RedisLeaderLease
    metrics: SchedulerMetrics
    handlers: SchedulerHandlers


def lease_owner() -> str:
    """This process, as the lease names it: `<host>:<pid>:<nonce>`."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def bootstrap(
    settings: Settings, registry: CollectorRegistry | None = None
) -> AsyncIterator[Runtime]:
    """`registry`: where the scheduler's metrics go (the app's); by default a registry of
    their own that nobody serves."""
    engine = make_engine(settings.database_url)
    redis = make_redis(settings.require_redis_url())
    try:
        metrics = SchedulerMetrics(registry or CollectorRegistry())
        repo = SqlScheduleRepository(engine)
        delays = RedisDelayStore(redis, settings.scheduler_delay_key_ttl_s)
        handlers = SchedulerHandlers(
            repo=repo, delays=delays,
            runs=RedisRunPublisher(redis, settings.scheduler_dedupe_ttl_s),
            events=RedisEventPublisher(redis), metrics=metrics,
            target_streams=settings.scheduler_target_streams,
            wake_runner=asyncio.Event(), wake_mover=asyncio.Event(),
            backfill_max_runs=settings.scheduler_backfill_max_runs,
        )
        yield Runtime(
            settings=settings, engine=engine, redis=redis, repo=repo, delays=delays,
            lease=RedisLeaderLease(redis, lease_owner(), settings.scheduler_lease_ms),
            metrics=metrics, handlers=handlers,
        )
    finally:
        await redis.aclose()
        await engine.dispose()
