"""`coursestream schedules ls | trigger ID`: look at and fire schedules from a shell.

Importing this module stays cheap: each command imports the service (SQLAlchemy, Redis) when
it runs."""

from __future__ import annotations

import asyncio
import json

import click


@click.group()
def schedules() -> None:
    """Schedules of the scheduler service."""


@schedules.command("ls")
def list_schedules() -> None:
    """Every schedule: id, state, trigger, event, next nominal run."""
    from services.scheduler.bootstrap import bootstrap
    from services.scheduler.settings import Settings

    async def run() -> None:
        async with bootstrap(Settings()) as runtime:
            _, items = await runtime.repo.page(0, 10_000)
            pending = await runtime.delays.peek()
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
    from services.scheduler.bootstrap import bootstrap
    from services.scheduler.settings import Settings
    from shared.errors import DomainError

    async def run() -> None:
        async with bootstrap(Settings()) as runtime:
            try:
                record = await runtime.handlers.trigger_now(schedule_id)
            except DomainError as exc:
                raise click.ClickException(exc.detail) from exc
        click.echo(f"{schedule_id}: published event {record.event_id}")

    asyncio.run(run())


commands = [schedules]
