"""Seckill fixtures: a signing key pair, tokens, settings on real Redis and real databases,
the HTTP app on a real server, and the order writer in-process."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.seckill.app import create_app
from services.seckill.bootstrap import bootstrap
from services.seckill.entrypoints.order_writer import order_writer
from services.seckill.settings import Settings
from tests.support.tokens import Tokens

BASE = "/api/v1/seckill"


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens()


@pytest.fixture
async def database_url(database_factory: Any, db_backend: str) -> str:
    return str(await database_factory.new("seckill", db_backend))


@pytest.fixture
def settings(redis_url: str, database_url: str, tokens: Tokens, tmp_path: Any) -> Settings:
    return Settings(
        env="test", var_dir=tmp_path, redis_url=redis_url, database_url=database_url,
        jwt_public_key=tokens.public_pem, order_writer_poll_ms=50,
        order_writer_claim_idle_ms=1_000, order_writer_metrics_port=0,
        consumer_name=f"test-{time.monotonic_ns()}", ticket_events_timeout_s=10,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


WriterFactory = Callable[..., AbstractAsyncContextManager[None]]


@pytest.fixture
def writer(settings: Settings) -> WriterFactory:
    """`async with writer():` runs the order writer in this process."""

    def make(**overrides: Any) -> AbstractAsyncContextManager[None]:
        return order_writer(settings.model_copy(update=overrides))

    return make


def window(starts_in_s: float = -60, lasts_s: float = 3600) -> dict[str, str]:
    start = datetime.now(UTC) + timedelta(seconds=starts_in_s)
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(seconds=lasts_s))
            .isoformat()}


async def create_item(
    client: TestClient[Any, Any], tokens: Tokens, stock: int = 10, price: str = "39.90",
    **times: Any,
) -> dict[str, Any]:
    body = {"course_id": 7, "title": "Python in a week", "price": price, "stock": stock,
            **window(**times)}
    response = await client.post(f"{BASE}/items", json=body, headers=tokens.headers(1, "admin"))
    assert response.status == 201, await response.text()
    return await response.json()


@pytest.fixture
async def inspector(settings: Settings) -> AsyncIterator[Any]:
    from tests.seckill.helpers import Inspector

    async with bootstrap(settings) as runtime:
        yield Inspector(runtime)
