"""Gateway fixtures: a signing key, real upstream servers, the gateway app on a test server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from redis.asyncio import Redis

from services.gateway.app import create_app
from services.gateway.settings import Settings
from services.gateway.streams import NOTIFY_SMS
from shared.auth import new_signing_key
from shared.embedded_redis import EmbeddedRedis, free_port
from shared.events import decode_entry
from shared.redis import make_redis
from tests.gateway.upstreams import Upstream
from tests.support.databases import DatabaseFactory

GatewayFactory = Callable[..., Awaitable[TestClient]]


def private_pem() -> str:
    return new_signing_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def signing_key() -> str:
    return private_pem()


@pytest.fixture
async def upstreams() -> AsyncIterator[dict[str, Upstream]]:
    servers = {name: await Upstream(name).start() for name in ("catalog", "seckill")}
    yield servers
    for server in servers.values():
        await server.stop()


def gateway_settings(tmp_path: Path, signing_key: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test", "var_dir": tmp_path / "var", "jwt_private_key": signing_key,
        "gateway_admin_port": free_port(), "log_json": False,
        # Nothing listens there: the scheduler upstream is "down" unless a test overrides it.
        "scheduler_url": f"http://127.0.0.1:{free_port()}",
        "proxy_read_timeout_s": 1.0,
        # Tests of other limits would meet these first; tests/gateway/test_rate_limits.py
        # turns them on.
        "rate_limits_enabled": False,
        # Never the repository's web/dist, which exists only where someone built it;
        # tests/gateway/test_web.py builds its own.
        "web_dist_dir": tmp_path / "web-dist",
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
async def make_gateway(
    tmp_path: Path, signing_key: str, database_factory: DatabaseFactory,
    embedded_redis: EmbeddedRedis,
) -> AsyncIterator[GatewayFactory]:
    """Start a gateway: SQLite and the embedded Redis unless a test passes its own."""
    clients: list[TestClient] = []

    async def make(**overrides: Any) -> TestClient:
        if "database_url" not in overrides:
            overrides["database_url"] = await database_factory.new("gateway", "sqlite")
        if "redis_url" not in overrides:
            overrides["redis_url"] = embedded_redis.url
            client = make_redis(embedded_redis.url)
            await client.flushdb()  # no counters left over from another test
            await client.aclose()
        client = TestClient(TestServer(create_app(gateway_settings(
            tmp_path, signing_key, **overrides))))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def gateway(
    make_gateway: GatewayFactory, upstreams: dict[str, Upstream]
) -> TestClient:
    return await make_gateway(
        catalog_url=upstreams["catalog"].url, seckill_url=upstreams["seckill"].url
    )


async def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    assert body["type"] == f"https://coursestream.dev/problems/{slug}"
    assert body["title"] and body["detail"]
    return body


CODES = "/api/v1/auth/sms-codes"


async def sent_codes(redis: Redis) -> list[dict[str, Any]]:
    return [decode_entry(fields).model_dump() for _, fields in await redis.xrange(NOTIFY_SMS)]


async def ask_code(gateway: TestClient, redis: Redis, phone: str) -> str:
    response = await gateway.post(CODES, json={"phone": phone})
    assert response.status == 202, await response.text()
    assert set(await response.json()) == {"expires_in", "resend_after"}
    last = (await sent_codes(redis))[-1]
    assert last["data"]["phone"] == phone
    code: str = last["data"]["params"]["code"]
    return code
