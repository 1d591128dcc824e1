"""End to end: an SMS-code login through the gateway, the code delivered by the SMS sender's
console provider (`var/sms-outbox.jsonl`), as a person running the platform would read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.support.platform import Platform, running_platform
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AUTH = "/api/v1/auth"


def outbox_codes(platform: Platform, phone: str) -> list[str]:
    outbox = platform.var_dir / "sms-outbox.jsonl"
    if not outbox.exists():
        return []
    lines = [orjson.loads(line) for line in outbox.read_bytes().splitlines()]
    return [line["params"]["code"] for line in lines if line["phone"] == phone]


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with session.post(url, json=body) as response:
        return response.status, await response.json(content_type=None)


async def ask_code(session: aiohttp.ClientSession, platform: Platform, phone: str) -> str:
    status, _ = await post(session, f"{platform.url}{AUTH}/sms-codes", {"phone": phone})
    assert status == 202

    async def delivered() -> bool:
        return bool(outbox_codes(platform, phone))

    await eventually(delivered, within=20)
    [code] = outbox_codes(platform, phone)
    return code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_sms_code_login_from_request_to_token(tmp_path: Path) -> None:
    with running_platform(tmp_path) as platform:
        async with aiohttp.ClientSession() as session:
            phone = "13912345678"
            code = await ask_code(session, platform, phone)
            status, body = await post(session, f"{platform.url}{AUTH}/sms-codes",
                                      {"phone": phone})
            assert status == 429 and body["type"].endswith("/code-recently-sent")

            status, body = await post(session, f"{platform.url}{AUTH}/tokens",
                                      {"phone": phone, "code": wrong(code)})
            assert status == 401
            status, body = await post(session, f"{platform.url}{AUTH}/tokens",
                                      {"phone": phone, "code": code})
            assert status == 200, body
            assert body["user"]["phone"] == phone and body["token_type"] == "Bearer"
            headers = {"Authorization": f"Bearer {body['access_token']}"}
            async with session.get(f"{platform.url}{AUTH}/me", headers=headers) as response:
                assert response.status == 200
            # Used once: the same code does not log in again.
            status, _ = await post(session, f"{platform.url}{AUTH}/tokens",
                                   {"phone": phone, "code": code})
            assert status == 401

            # Five wrong tries void the code: the right one is refused after them.
            other = "13987654321"
            code = await ask_code(session, platform, other)
            for _ in range(5):
                status, _ = await post(session, f"{platform.url}{AUTH}/tokens",
                                       {"phone": other, "code": wrong(code)})
                assert status == 401
            status, _ = await post(session, f"{platform.url}{AUTH}/tokens",
                                   {"phone": other, "code": code})
            assert status == 401
            # One line per code asked: the refused second request sent nothing.
            assert len(outbox_codes(platform, phone)) == len(outbox_codes(platform, other)) == 1
