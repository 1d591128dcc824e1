"""A service refuses a token that verifies but was revoked (the user's version moved on, or
its session logged out), asking the same Redis the gateway writes; without Redis it cannot
tell, and refuses with 503."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.seckill.app import create_app
from services.seckill.settings import Settings
from shared.auth import Revocations
from shared.redis import make_redis
from tests.seckill.conftest import BASE, create_item
from tests.support import redis_servers
from tests.support.tokens import Tokens

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


async def attempt(client: TestClient[Any, Any], item_id: int, headers: dict[str, str]) -> Any:
    return await client.post(f"{BASE}/items/{item_id}/attempts", headers=headers)


async def test_revoked_tokens_are_refused_within_the_cache_time(
    settings: Settings, tokens: Tokens, redis_url: str
) -> None:
    redis = make_redis(redis_url)
    revocations = Revocations(redis)
    async with TestClient(TestServer(create_app(
            settings.model_copy(update={"revocation_cache_s": 0})))) as client:
        item = await create_item(client, tokens, stock=10)
        user_7, user_8 = tokens.headers(7), tokens.headers(8)
        assert (await attempt(client, item["id"], user_7)).status == 202
        await revocations.revoke_user(7)  # disabled, or roles changed
        refused = await attempt(client, item["id"], user_7)
        assert refused.status == 401, await refused.text()
        assert (await refused.json())["type"].endswith("/invalid-token")
        await revocations.log_out(8, "s8", 3600)  # tokens.headers(8) is session "s8"
        assert (await attempt(client, item["id"], user_8)).status == 401
        assert (await attempt(client, item["id"], tokens.headers(9))).status == 202
    await redis.aclose()


async def test_without_redis_an_authenticated_request_is_503(
    settings: Settings, tokens: Tokens, tmp_path: Path
) -> None:
    """Redis goes away after the service started: the token verifies, its revocation cannot
    be read, and the answer is a 503 problem, not a pass."""
    server = redis_servers.start_embedded(tmp_path / "valkey")
    try:
        app = create_app(settings.model_copy(update={"redis_url": server.url}))
        async with TestClient(TestServer(app)) as client:
            server.kill()
            response = await client.get(f"{BASE}/orders", headers=tokens.headers(7))
            assert response.status == 503, await response.text()
            assert response.content_type == "application/problem+json"
    finally:
        server.stop()
