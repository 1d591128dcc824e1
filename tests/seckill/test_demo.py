"""The demo sale `coursestream up` loads: once, live at once, stock in Redis."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from services.seckill.demo import DEMO_COURSE_ID, load_demo_data
from services.seckill.settings import Settings
from tests.seckill.conftest import BASE, Tokens

pytestmark = pytest.mark.integration


async def test_the_demo_sale_is_loaded_once_and_is_live(
    client: TestClient[Any, Any], settings: Settings, tokens: Tokens,
) -> None:
    assert await load_demo_data(settings) is True
    assert await load_demo_data(settings) is False
    body = await (await client.get(f"{BASE}/items")).json()
    assert body["count"] == 1
    [item] = body["results"]
    assert (item["course_id"], item["price"], item["stock"], item["remaining"], item["state"]) \
        == (DEMO_COURSE_ID, "9.90", 100, 100, "live")
    response = await client.post(f"{BASE}/items/{item['id']}/attempts", headers=tokens.headers(5))
    assert response.status == 202, await response.text()
