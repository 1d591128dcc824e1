"""`coursestream schedules ...` against a real database and Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from coursestream.cli import main
from services.scheduler.adapters.builtin_file import load_builtins
from services.scheduler.bootstrap import bootstrap
from services.scheduler.domain.schedules import ScheduleSpec
from services.scheduler.settings import Settings
from shared.events import decode_entry
from shared.redis import make_redis

pytestmark = pytest.mark.integration


async def _published(redis_url: str, stream: str) -> list[str]:
    redis = make_redis(redis_url)
    entries = await redis.xrange(stream)
    await redis.aclose()
    return [decode_entry(fields).id for _, fields in entries]


async def _add_builtins(redis_url: str, database_url: str) -> None:
    settings = Settings(redis_url=redis_url, database_url=database_url)
    async with bootstrap(settings) as runtime:
        await runtime.handlers.sync_builtins(load_builtins(settings.scheduler_builtin_file))


async def _add_minutely(redis_url: str, database_url: str) -> None:
    settings = Settings(redis_url=redis_url, database_url=database_url)
    async with bootstrap(settings) as runtime:
        await runtime.handlers.create_schedule(ScheduleSpec.model_validate({
            "id": "minutely", "trigger": {"type": "cron", "expr": "* * * * *"},
            "event": {"stream": "catalog.commands", "type": "banners.rebuild-cache"}}))


def test_ls_and_trigger(one_redis_url: str, one_database_url: str) -> None:
    asyncio.run(_add_builtins(one_redis_url, one_database_url))
    env = {"REDIS_URL": one_redis_url, "SCHEDULER_DATABASE_URL": one_database_url}
    runner = CliRunner()

    listed = runner.invoke(main, ["schedules", "ls"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "banners.rebuild-cache\tactive" in listed.output
    assert "2 schedules; 0 pending delays" in listed.output

    fired = runner.invoke(main, ["schedules", "trigger", "banners.rebuild-cache"], env=env)
    assert fired.exit_code == 0, fired.output

    async def published() -> list[str]:
        redis = make_redis(one_redis_url)
        entries = await redis.xrange("catalog.commands")
        await redis.aclose()
        return [decode_entry(fields).type for _, fields in entries]

    assert asyncio.run(published()) == ["banners.rebuild-cache"]
    unknown = runner.invoke(main, ["schedules", "trigger", "nope"], env=env)
    assert unknown.exit_code != 0 and "No schedule 'nope'" in unknown.output


def test_show_pause_runs_left_and_backfill(one_redis_url: str, one_database_url: str) -> None:
    asyncio.run(_add_builtins(one_redis_url, one_database_url))
    asyncio.run(_add_minutely(one_redis_url, one_database_url))
    env = {"REDIS_URL": one_redis_url, "SCHEDULER_DATABASE_URL": one_database_url}
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, ["schedules", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    shown = run("show", "banners.rebuild-cache", "--next", "3")
    assert "banners.rebuild-cache: active" in shown and shown.count("\n  20") == 3
    paused = run("pause", "orders.sweep-expired", "--note", "payments are down")
    assert "orders.sweep-expired: paused" in paused
    shown = run("show", "orders.sweep-expired")
    assert "by cli:" in shown and ": payments are down" in shown and "next runs: none" in shown
    assert "active" in run("resume", "orders.sweep-expired")
    assert "active, 2 runs left" in run("runs-left", "banners.rebuild-cache", "2")
    assert "active\n" in run("runs-left", "banners.rebuild-cache", "unlimited")

    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    window = [start.isoformat(), (start + timedelta(minutes=4)).isoformat()]
    assert "5 runs in the window; 5 published" in run("backfill", "minutely", *window)
    assert "5 runs in the window; 0 published" in run("backfill", "minutely", *window)
    published = asyncio.run(_published(one_redis_url, "catalog.commands"))
    assert len(published) == len(set(published)) == 5

    for bad in (["runs-left", "banners.rebuild-cache", "-1"],
                ["backfill", "banners.rebuild-cache", window[0], "2999-01-01T00:00:00Z"],
                ["backfill", "banners.rebuild-cache", "yesterday", window[1]],
                ["pause", "nope"]):
        refused = runner.invoke(main, ["schedules", *bad], env=env)
        assert refused.exit_code != 0 and "Error:" in refused.output, refused.output
