"""The metrics the issue asks for, read from the real /metrics endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import generate_latest

from services.seckill.entrypoints.order_writer import Instruments, _sample, order_writer
from services.seckill.metrics import OrderWriterMetrics
from services.seckill.settings import Settings
from shared.metrics import Metrics
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
    await inspector.redis.xgroup_create(stream, "order-writer", id="0")
    gauges = OrderWriterMetrics(Metrics("probe").registry)
    await _sample(inspector.redis, stream, gauges)
    assert gauges.lag.labels(stream)._value.get() == 1  # written, not yet read

    instruments = Instruments.create()
    async with order_writer(settings, instruments):
        async def written() -> bool:
            return await inspector.order_count(item["id"]) == 1

        await eventually(written)
    exported = generate_latest(instruments.metrics.registry).decode()
    assert "seckill_order_writer_batch_size_count 1.0" in exported
    assert 'seckill_orders_written_total{result="created"} 1.0' in exported
    await _sample(inspector.redis, stream, gauges)
    assert gauges.lag.labels(stream)._value.get() == 0
    assert gauges.pending.labels(stream)._value.get() == 0
