"""`coursestream schedules ls | trigger ID`: look at and fire schedules from a shell."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import click
from prometheus_client import CollectorRegistry

from services.scheduler.adapters.delay_store import DelayStore
from services.scheduler.adapters.repository import ScheduleRepository
from services.scheduler.handlers import SchedulerHandlers
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.settings import Settings
from shared.db import make_engine
from shared.problems import Problem
from shared.redis import make_redis


@asynccontextmanager
async def handlers() -> AsyncIterator[SchedulerHandlers]:
    settings = Settings()
    engine = make_engine(settings.database_url)
    redis = make_redis(settings.require_redis_url())
    try:
        yield SchedulerHandlers(
            ScheduleRepository(engine), redis, DelayStore(redis),
            SchedulerMetrics(CollectorRegistry()), settings.scheduler_target_streams,
            asyncio.Event(), asyncio.Event(),
        )
    finally:
        await redis.aclose()
        await engine.dispose()


@click.group()
def schedules() -> None:
    """Schedules of the scheduler service."""


@schedules.command("ls")
def list_schedules() -> None:
    """Every schedule: id, state, trigger, event, next nominal run."""

    async def run() -> None:
        async with handlers() as h:
            _, items = await h.repo.page(0, 10_000)
            pending = await h.delays.peek()
        for s in items:
            state = "enabled" if s.enabled else "paused"
            trigger = json.dumps(s.trigger.model_dump(mode="json", exclude_none=True))
            next_run = s.next_nominal_at.isoformat() if s.next_nominal_at else "-"
            click.echo(f"{s.id}\t{state}\t{trigger}\t{s.event.stream}:{s.event.type}\t"
                       f"next {next_run}{'  (built-in)' if s.builtin else ''}")
        click.echo(f"{len(items)} schedules; {pending[1]} pending delays")

    asyncio.run(run())


@schedules.command("trigger")
@click.argument("schedule_id")
def trigger(schedule_id: str) -> None:
    """Fire a schedule once now (recorded in its history as `triggered`)."""

    async def run() -> None:
        async with handlers() as h:
            try:
                record = await h.trigger_now(schedule_id)
            except Problem as exc:
                raise click.ClickException(exc.detail) from exc
        click.echo(f"{schedule_id}: published event {record.event_id}")

    asyncio.run(run())


commands = [schedules]
