"""`coursestream catalog ...` against a real Redis."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner
from redis.asyncio import Redis

from services.catalog.entrypoints.cli import catalog
from shared.events import decode_entry

pytestmark = pytest.mark.integration


async def test_rebuild_banners_sends_the_command_and_banner_cache_reports(
    redis: Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, catalog, ["rebuild-banners"])
    assert result.exit_code == 0, result.output
    [(_, fields)] = await redis.xrange("catalog.commands")
    assert decode_entry(fields).type == "banners.rebuild-cache"

    result = await asyncio.to_thread(runner.invoke, catalog, ["banner-cache"])
    assert result.exit_code == 0, result.output
    assert "version: (none)" in result.output and "copy: (none)" in result.output
