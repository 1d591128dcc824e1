"""`coursestream schedules ls | trigger ID` against a real database and Redis."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from coursestream.cli import main
from services.scheduler.adapters.builtin_file import load_builtins
from services.scheduler.bootstrap import bootstrap
from services.scheduler.settings import Settings
from shared.events import decode_entry
from shared.redis import make_redis

pytestmark = pytest.mark.integration


async def _add_builtins(redis_url: str, database_url: str) -> None:
    settings = Settings(redis_url=redis_url, database_url=database_url)
    async with bootstrap(settings) as runtime:
        await runtime.handlers.sync_builtins(load_builtins(settings.scheduler_builtin_file))


def test_ls_and_trigger(one_redis_url: str, one_database_url: str) -> None:
    asyncio.run(_add_builtins(one_redis_url, one_database_url))
    env = {"REDIS_URL": one_redis_url, "SCHEDULER_DATABASE_URL": one_database_url}
    runner = CliRunner()

    listed = runner.invoke(main, ["schedules", "ls"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "banners.rebuild-cache\tenabled" in listed.output
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
