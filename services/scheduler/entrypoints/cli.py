"""`coursestream schedules ls | show | pause | resume | runs-left | trigger | backfill`: look at
and operate schedules from a shell, straight on the database and Redis, through the same
handlers as the API.

Importing this module stays cheap: each command imports the service (SQLAlchemy, Redis) when
it runs."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from services.scheduler.bootstrap import Runtime
    from services.scheduler.domain.backfill import BackfilledRun
    from services.scheduler.domain.schedules import Schedule

T = TypeVar("T")


def _run(call: Callable[[Runtime], Awaitable[T]]) -> T:
    """One call on a Runtime opened from the settings; a refusal is the command's error."""
    from pydantic import ValidationError

    from services.scheduler.bootstrap import bootstrap
    from services.scheduler.settings import Settings
    from shared.errors import DomainError

    async def run() -> T:
        async with bootstrap(Settings()) as runtime:
            return await call(runtime)

    try:
        return asyncio.run(run())
    except DomainError as exc:
        raise click.ClickException(exc.detail) from exc
    except ValidationError as exc:
        raise click.ClickException("; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()
        )) from exc


def _state(schedule: Schedule) -> str:
    left = "" if schedule.runs_left is None else f", {schedule.runs_left} runs left"
    return f"{schedule.state}{left}"


@click.group()
def schedules() -> None:
    """Schedules of the scheduler service."""


@schedules.command("ls")
def list_schedules() -> None:
    """Every schedule: id, state, trigger, event, next nominal run."""

    async def call(runtime: Runtime) -> tuple[list[Schedule], int]:
        _, items = await runtime.repo.page(0, 10_000)
        return items, (await runtime.delays.peek())[1]

    items, pending = _run(call)
    for s in items:
        trigger = json.dumps(s.trigger.model_dump(mode="json", exclude_none=True))
        next_run = s.next_run_at.isoformat() if s.next_run_at else "-"
        click.echo(f"{s.id}\t{_state(s)}\t{trigger}\t{s.event.stream}:{s.event.type}\t"
                   f"next {next_run}{'  (built-in)' if s.builtin else ''}")
    click.echo(f"{len(items)} schedules; {pending} pending delays")


@schedules.command("show")
@click.argument("schedule_id")
@click.option("--next", "count", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="How many of the next fire times to list.")
def show(schedule_id: str, count: int) -> None:
    """One schedule, with its pause note and its next fire times in its time zone."""

    async def call(runtime: Runtime) -> Schedule:
        return await runtime.handlers.get_schedule(schedule_id)

    s = _run(call)
    click.echo(f"{s.id}: {_state(s)}{'  (built-in)' if s.builtin else ''}")
    click.echo(f"trigger {json.dumps(s.trigger.model_dump(mode='json', exclude_none=True))}")
    click.echo(f"event {s.event.stream}:{s.event.type} {json.dumps(s.event.data)}")
    if s.pause and not s.enabled:
        click.echo(f"paused at {s.pause.at.isoformat()} by {s.pause.by or 'the config file'}"
                   f"{': ' + s.pause.note if s.pause.note else ''}")
    upcoming = s.upcoming(count)
    click.echo("next runs:" if upcoming else "next runs: none")
    for at in upcoming:
        click.echo(f"  {at.isoformat()}")


def _by() -> str:
    return f"cli:{getpass.getuser()}"


@schedules.command("pause")
@click.argument("schedule_id")
@click.option("--note", default=None, help="Why (shown on the schedule).")
def pause(schedule_id: str, note: str | None) -> None:
    """Stop a schedule firing until it is resumed."""
    from services.scheduler.domain.schedules import PauseRequest

    async def call(runtime: Runtime) -> Schedule:
        checked = PauseRequest(note=note)
        return await runtime.handlers.pause(schedule_id, checked.note, _by())

    click.echo(f"{schedule_id}: {_state(_run(call))}")


@schedules.command("resume")
@click.argument("schedule_id")
def resume(schedule_id: str) -> None:
    """Fire again from the next run on (runs due while paused are not caught up)."""

    async def call(runtime: Runtime) -> Schedule:
        return await runtime.handlers.resume(schedule_id)

    s = _run(call)
    next_run = s.next_run_at.isoformat() if s.next_run_at else "-"
    click.echo(f"{schedule_id}: {_state(s)}, next {next_run}")


@schedules.command("runs-left")
@click.argument("schedule_id")
@click.argument("count")
def runs_left(schedule_id: str, count: str) -> None:
    """Limit a schedule to COUNT more scheduled fires (`unlimited` lifts the limit)."""
    from services.scheduler.domain.schedules import SchedulePatch

    async def call(runtime: Runtime) -> Schedule:
        value: Any = None if count == "unlimited" else count
        return await runtime.handlers.update_schedule(
            schedule_id, SchedulePatch.model_validate({"runs_left": value}), _by())

    click.echo(f"{schedule_id}: {_state(_run(call))}")


@schedules.command("trigger")
@click.argument("schedule_id")
def trigger(schedule_id: str) -> None:
    """Fire a schedule once now (recorded in its history as `triggered`)."""

    async def call(runtime: Runtime) -> str | None:
        return (await runtime.handlers.trigger_now(schedule_id)).event_id

    click.echo(f"{schedule_id}: published event {_run(call)}")


@schedules.command("backfill")
@click.argument("schedule_id")
@click.argument("start")
@click.argument("end")
def backfill(schedule_id: str, start: str, end: str) -> None:
    """Fire now, once each, the runs of the window START..END (RFC 3339 with offset, both
    included, END not in the future); runs fired already are not published again."""
    from services.scheduler.domain.backfill import BackfillRequest

    async def call(runtime: Runtime) -> list[BackfilledRun]:
        request = BackfillRequest.model_validate({"start": start, "end": end})
        return await runtime.handlers.backfill(schedule_id, request)

    runs = _run(call)
    for run in runs:
        click.echo(f"{run.nominal_at.isoformat()}\t{run.event_id}\t"
                   f"{'published' if run.published else 'already fired'}")
    click.echo(f"{len(runs)} runs in the window; {sum(r.published for r in runs)} published")


commands = [schedules]
