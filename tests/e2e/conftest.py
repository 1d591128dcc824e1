"""One running platform (`coursestream up`) for the end-to-end tests of a session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.support.platform import Platform, running_platform


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    # Orders expire after 8 s here, so the flash-sale test sees the scheduler expire one (with
    # 3 s, a loaded machine once let the order expire before the test's second attempt, which
    # then was admitted instead of refused as already purchased).
    # The tests' client is trusted as a balancer, so the security tests can speak for
    # addresses of their own (X-Forwarded-For) and leave 127.0.0.1's login limits alone.
    # One foreign origin may call the API (tests/e2e/test_http.py, CORS).
    env = {"SECKILL_PAY_TIMEOUT_S": "8", "TRUSTED_PROXIES": '["127.0.0.1/32"]',
           "CORS_ALLOWED_ORIGINS": '["https://app.example.com"]'}
    with running_platform(tmp_path_factory.mktemp("platform"), env=env) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def login(http: aiohttp.ClientSession, platform: Platform, phone: str,
                password: str) -> dict[str, Any]:
    async with http.post(f"{platform.url}/api/v1/auth/tokens",
                         json={"phone": phone, "password": password}) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


@pytest.fixture
async def admin_headers(http: aiohttp.ClientSession, platform: Platform) -> dict[str, str]:
    token = await login(http, platform, "13800000000", "admin12345")
    return {"Authorization": f"Bearer {token['access_token']}"}


@pytest.fixture
async def user_headers(http: aiohttp.ClientSession, platform: Platform) -> dict[str, str]:
    token = await login(http, platform, "13900000000", "user12345")
    return {"Authorization": f"Bearer {token['access_token']}"}
