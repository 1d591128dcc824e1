"""The scheduler's composition root: API, leader loop, delay mover, requests consumer."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator

from aiohttp import web

from services.scheduler.adapters.delay_store import DelayStore
from services.scheduler.adapters.leader_lease import LeaderLease
from services.scheduler.adapters.repository import ScheduleRepository
from services.scheduler.adapters.run_publisher import RunPublisher
from services.scheduler.builtins import load_builtins, sync_builtins
from services.scheduler.delay_mover import DelayMover
from services.scheduler.election import Election
from services.scheduler.entrypoints.consumers import requests_consumer
from services.scheduler.entrypoints.http import HANDLERS_KEY, SETTINGS_KEY, setup_routes
from services.scheduler.handlers import SchedulerHandlers
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.runner import ScheduleRunner, utc_now
from services.scheduler.settings import Settings
from shared.auth import REVOCATIONS_KEY, VERIFIER_KEY, Revocations, make_verifier
from shared.broker import make_broker
from shared.consumers import ConsumerMetrics, running
from shared.db import make_engine
from shared.http import (
    METRICS_KEY,
    add_readiness_check,
    create_base_app,
    database_check,
    redis_check,
)
from shared.redis import make_redis

RUNNER_KEY = web.AppKey("scheduler_runner", ScheduleRunner)
ELECTION_KEY = web.AppKey("scheduler_election", Election)


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    app = create_base_app("scheduler")
    app[SETTINGS_KEY] = settings
    app[VERIFIER_KEY] = make_verifier(settings)
    setup_routes(app)
    app.cleanup_ctx.append(_resources)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    registry = app[METRICS_KEY].registry
    engine = make_engine(settings.database_url)
    redis = make_redis(settings.require_redis_url())
    metrics = SchedulerMetrics(registry)
    repo = ScheduleRepository(engine)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    election = Election(LeaderLease(redis, owner, settings.scheduler_lease_ms), metrics,
                        settings.scheduler_follower_poll_ms / 1000)
    runner = ScheduleRunner(repo, RunPublisher(redis, settings.scheduler_dedupe_ttl_s),
                            election, metrics, settings.scheduler_tick_ms / 1000)
    store = DelayStore(redis, settings.scheduler_delay_key_ttl_s)
    mover = DelayMover(store, metrics, settings.scheduler_delay_batch,
                       settings.scheduler_delay_poll_ms / 1000)
    handlers = SchedulerHandlers(repo, redis, store, metrics, settings.scheduler_target_streams,
                                 runner.wake, mover.wake)
    app[REVOCATIONS_KEY] = Revocations(redis, settings.revocation_cache_s)
    app[HANDLERS_KEY] = handlers
    app[RUNNER_KEY] = runner
    app[ELECTION_KEY] = election

    add_readiness_check(app, "database", database_check(engine))
    add_readiness_check(app, "redis", redis_check(redis))

    await sync_builtins(repo, load_builtins(settings.scheduler_builtin_file), utc_now())
    broker = make_broker(settings.require_redis_url())
    consumer = requests_consumer(
        redis, handlers, ConsumerMetrics(registry),
        settings.consumer_for("scheduler"),
        settings.scheduler_claim_idle_ms,
    )
    consumer.subscribe(broker)
    try:
        async with running(broker, [consumer]):
            loops = [asyncio.create_task(runner.run()), asyncio.create_task(mover.run())]
            election_task = asyncio.create_task(election.run())
            try:
                yield
            finally:
                # Stopped by flags, not cancelled mid-write; the lease is released last, once
                # this replica stopped firing.
                runner.stop()
                mover.stop()
                await _finish(loops)
                election.stop()
                await _finish([election_task])
    finally:
        await redis.aclose()
        await engine.dispose()


async def _finish(tasks: list[asyncio.Task[None]], grace_s: float = 10.0) -> None:
    _, late = await asyncio.wait(tasks, timeout=grace_s)
    for task in late:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
