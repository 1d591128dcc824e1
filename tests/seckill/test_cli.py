"""`coursestream seckill warm | reconcile` through the `coursestream` command."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from coursestream.cli import main
from services.seckill.settings import Settings
from tests.seckill.conftest import BASE, Tokens, WriterFactory, create_item
from tests.seckill.helpers import Inspector
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

async def run(settings: Settings, *args: str) -> tuple[int, str]:
    """The command in-process (its own event loop, in a thread), as the CLI wires it."""
    env = {"REDIS_URL": settings.require_redis_url(),
           "SECKILL_DATABASE_URL": settings.database_url, "VAR_DIR": str(settings.var_dir)}
    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["seckill", *args], env=env, catch_exceptions=False
    )
    return result.exit_code, result.output


async def attempt(client: TestClient[Any, Any], item_id: int, headers: dict[str, str]) -> Any:
    response = await client.post(f"{BASE}/items/{item_id}/attempts", headers=headers)
    return response.status, await response.json()


def row(output: str, item_id: int) -> list[str]:
    [line] = [ln for ln in output.splitlines() if ln.split()[:1] == [str(item_id)]]
    return line.split()


async def test_warm_reloads_stock_and_buyers_after_a_redis_loss(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory,
    inspector: Inspector, settings: Settings,
) -> None:
    item = await create_item(client, tokens, stock=10)
    for user in (1, 2, 3):
        assert (await attempt(client, item["id"], tokens.headers(user)))[0] == 202
    async with writer():
        async def written() -> bool:
            return await inspector.order_count(item["id"]) == 3

        await eventually(written)
    await inspector.redis.flushdb()  # Redis lost everything
    status, body = await attempt(client, item["id"], tokens.headers(4))
    assert status == 503 and body["type"].endswith("/not-ready")

    code, out = await run(settings, "warm")
    assert code == 0, out
    assert "remaining 7 of 10" in out
    assert (await inspector.store.remaining([item["id"]]))[item["id"]] == 7
    status, body = await attempt(client, item["id"], tokens.headers(2))
    assert status == 409 and body["type"].endswith("/already-purchased")
    assert (await attempt(client, item["id"], tokens.headers(4)))[0] == 202
    code, out = await run(settings, "warm")  # a second warm leaves a running sale alone
    assert "already loaded" in out
    assert (await inspector.store.remaining([item["id"]]))[item["id"]] == 6


async def test_reconcile_counts_pending_requests_and_repairs_drift(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory,
    inspector: Inspector, settings: Settings,
) -> None:
    item = await create_item(client, tokens, stock=10)
    for user in (1, 2):
        await attempt(client, item["id"], tokens.headers(user))
    async with writer():
        async def written() -> bool:
            return await inspector.order_count(item["id"]) == 2

        await eventually(written)
    for user in (3, 4, 5):  # admitted, not yet written: pending requests
        await attempt(client, item["id"], tokens.headers(user))

    code, out = await run(settings, "reconcile")
    assert code == 0, out
    assert row(out, item["id"]) == [str(item["id"]), "10", "2", "5", "3", "+0"]

    await inspector.redis.hincrby(inspector.keys.item(item["id"]), "remaining", 4)  # drift
    code, out = await run(settings, "reconcile")
    assert code == 1 and row(out, item["id"])[-1] == "+4"
    code, out = await run(settings, "reconcile", "--fix")
    assert code == 0 and "fixed" in out
    code, out = await run(settings, "reconcile")
    assert code == 0 and row(out, item["id"])[-1] == "+0"
    assert (await inspector.store.remaining([item["id"]]))[item["id"]] == 5
