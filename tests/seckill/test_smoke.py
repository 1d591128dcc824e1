from __future__ import annotations

from typing import Any

import pytest

from tests.seckill.conftest import BASE, Tokens, WriterFactory, create_item
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_attempt_becomes_an_order(client: Any, tokens: Tokens, writer: WriterFactory) -> None:
    item = await create_item(client, tokens, stock=2)
    r = await client.post(f"{BASE}/items/{item['id']}/attempts", headers=tokens.headers(42))
    assert r.status == 202, await r.text()
    ticket = (await r.json())["ticket"]
    async with writer():
        async def done() -> bool:
            r = await client.get(f"{BASE}/tickets/{ticket}", headers=tokens.headers(42))
            return (await r.json())["status"] == "success"
        await eventually(done)
    r = await client.get(f"{BASE}/orders", headers=tokens.headers(42))
    body = await r.json()
    assert body["count"] == 1
    print(body)
