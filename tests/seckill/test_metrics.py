"""The metrics the issue asks for, read from the real /metrics endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest

from services.seckill.app import create_app
from services.seckill.entrypoints.order_writer import Instruments, order_writer
from services.seckill.settings import Settings
from tests.seckill.conftest import BASE, Tokens, create_item
from tests.seckill.helpers import Inspector
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_attempt_outcomes_latency_and_writer_figures_are_exported(
    client: TestClient[Any, Any], tokens: Tokens, settings: Settings, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=1)
    for user in (1, 1, 2):
        await client.post(f"{BASE}/items/{item['id']}/attempts", headers=tokens.headers(user))
    text = await (await client.get("/metrics")).text()
    assert 'seckill_attempts_total{outcome="admitted"} 1.0' in text
    assert 'seckill_attempts_total{outcome="already-purchased"} 1.0' in text
    assert 'seckill_attempts_total{outcome="sold-out"} 1.0' in text
    assert "seckill_admission_seconds_count 3.0" in text

    stream = inspector.keys.orders_stream_of(item["id"])
    instruments = Instruments.create()
    async with order_writer(settings, instruments):
        async def written() -> bool:
            return await inspector.order_count(item["id"]) == 1

        await eventually(written)
    exported = generate_latest(instruments.metrics.registry).decode()
    assert "seckill_order_writer_batch_size_count 1.0" in exported
    assert 'seckill_orders_written_total{result="created"} 1.0' in exported
    # The shared stream-health gauges, from the writer's first pass (at its start).
    labels = f'{{group="order-writer",stream="{stream}"}}'
    assert f"stream_group_consumers{labels} 1.0" in exported
    assert f"stream_length{{stream=\"{stream}\"}} 1.0" in exported


async def test_the_invariant_drift_gauge_shows_units_redis_misses(
    settings: Settings, tokens: Tokens, inspector: Inspector,
) -> None:
    fast = settings.model_copy(update={"seckill_invariant_every_s": 0.05})
    async with TestClient(TestServer(create_app(fast))) as client:
        item = await create_item(client, tokens, stock=5)
        gauge = f'seckill_invariant_drift{{item="{item["id"]}"}}'

        async def drift_is(value: float) -> bool:
            return f"{gauge} {value}" in await (await client.get("/metrics")).text()

        await eventually(lambda: drift_is(0.0))
        await inspector.store.adjust_remaining(item["id"], -2)  # two units lost from Redis
        await eventually(lambda: drift_is(2.0))
        await inspector.store.adjust_remaining(item["id"], 2)
        await eventually(lambda: drift_is(0.0))
