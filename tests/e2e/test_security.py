"""Issue 15's defects 1-3 through the gateway with every process running: no password for an
SMS-only account, parallel guesses verified at most up to the limit, rate limits with their
headers. Each test speaks for addresses of its own (the platform trusts the test client as a
balancer)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.support.platform import Platform
from tests.support.waiting import eventually


def from_address(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.51.{n // 250}.{n % 250 + 1}"}


async def sent_code(platform: Platform, phone: str) -> str:
    """The newest code the SMS sender (console provider) wrote for this phone."""
    codes: list[str] = []

    async def arrived() -> bool:
        codes[:] = [m["params"]["code"] for m in platform.sent_sms(phone)]
        return bool(codes)

    await eventually(arrived, within=15)
    return codes[-1]


async def test_an_sms_only_account_cannot_be_entered_by_password(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    phone, headers = "13600000001", from_address(1)
    async with http.post(f"{platform.url}/api/v1/auth/sms-codes", json={"phone": phone},
                         headers=headers) as response:
        assert response.status == 202, await response.text()
    code = await sent_code(platform, phone)
    async with http.post(f"{platform.url}/api/v1/auth/tokens", json={"phone": phone,
                         "code": code}, headers=headers) as response:
        assert response.status == 200, await response.text()
    for guess in ("not-a-real-password", "password123"):
        async with http.post(f"{platform.url}/api/v1/auth/tokens", json={
                "phone": phone, "password": guess}, headers=headers) as response:
            assert response.status == 401, await response.text()


async def test_forty_parallel_guesses_verify_at_most_the_limit(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    """From forty addresses at once, for the demo user: ten (PASSWORD_FAILURES_PER_PHONE)
    are checked, thirty are refused unchecked."""

    async def guess(n: int) -> int:
        async with http.post(f"{platform.url}/api/v1/auth/tokens", json={
                "phone": "13900000009", "password": f"guess-{n:04d}"},
                headers=from_address(100 + n)) as response:
            return response.status

    statuses = sorted(await asyncio.gather(*(guess(n) for n in range(40))))
    assert statuses == [401] * 10 + [429] * 30


async def test_seckill_attempts_are_limited_per_user_with_headers(
    http: aiohttp.ClientSession, platform: Platform, user_headers: dict[str, str]
) -> None:
    """Three attempts a second per user (an item that does not exist: the service answers
    404, the gateway counts them all the same)."""
    url = f"{platform.url}/api/v1/seckill/items/999999/attempts"
    answers: list[tuple[int, Any]] = []
    for _ in range(5):
        async with http.post(url, headers=user_headers) as response:
            answers.append((response.status, response.headers))
    statuses = [status for status, _ in answers]
    assert statuses[:3] == [404, 404, 404] and 429 in statuses[3:], statuses
    refused = next(headers for status, headers in answers if status == 429)
    assert refused["RateLimit-Policy"] == '"attempts";q=3;w=1'
    assert refused["RateLimit"].startswith('"attempts";r=0;')
    assert int(refused["Retry-After"]) >= 1


async def test_event_streams_past_the_users_rate_are_refused(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    """Opening a ticket's event stream again and again: the gateway lets a user open twenty
    a minute (`events` class), then 429; the seckill service also caps the streams a user
    holds open at once (tests/seckill/test_ticket_events.py)."""
    phone, address = "13600000002", from_address(2)
    async with http.post(f"{platform.url}/api/v1/auth/sms-codes", json={"phone": phone},
                         headers=address) as response:
        assert response.status == 202, await response.text()
    async with http.post(f"{platform.url}/api/v1/auth/tokens", json={
            "phone": phone, "code": await sent_code(platform, phone)},
            headers=address) as response:
        assert response.status == 200, await response.text()
        headers = {"Authorization": f"Bearer {(await response.json())['access_token']}"}
    async with http.post(f"{platform.url}/api/v1/seckill/items/1/attempts",
                         headers=headers) as response:  # the demo sale, live
        assert response.status == 202, await response.text()
        events_url = (await response.json())["links"]["events"]
    statuses = []
    for _ in range(21):
        async with http.get(events_url, headers=headers) as response:
            statuses.append(response.status)
            if response.status == 429:
                assert response.headers["RateLimit-Policy"] == '"events";q=20;w=60'
            await response.read()  # the ticket turns final at once; the stream ends
    assert statuses == [200] * 20 + [429]
