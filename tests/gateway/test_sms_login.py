"""SMS-code login against real Redis: the code is read back from the notify.sms stream."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from services.gateway.adapters.sms_codes import SmsCodes
from tests.gateway.conftest import CODES, GatewayFactory, ask_code, assert_problem, sent_codes

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

PHONE = "13700000001"
TOKENS = "/api/v1/auth/tokens"


@pytest.fixture
async def gateway(make_gateway: GatewayFactory, redis_url: str) -> TestClient:
    return await make_gateway(redis_url=redis_url)


async def test_code_login_makes_a_new_user_once(gateway: TestClient, redis: Redis) -> None:
    response = await gateway.post(CODES, json={"phone": PHONE},
                                  headers={"X-Request-ID": "sms-1"})
    assert response.status == 202
    assert await response.json() == {"expires_in": 300, "resend_after": 60}
    (entry,) = await sent_codes(redis)
    assert entry["type"] == "sms.send" and entry["producer"] == "gateway"
    assert entry["correlation_id"] == "sms-1"
    assert entry["data"]["template"] == "login_code"
    code = entry["data"]["params"]["code"]
    assert len(code) == 6 and code.isdigit()
    # Only a keyed hash of the code is kept.
    stored = await redis.hgetall(f"gateway:sms-code:{{{PHONE}}}")
    assert code.encode() not in b"".join(stored.values())
    # It keeps the day's count of codes sent, so it outlives the code.
    assert 300_000 < await redis.pttl(f"gateway:sms-code:{{{PHONE}}}") <= 24 * 3600_000

    response = await gateway.post(TOKENS, json={"phone": PHONE, "code": code})
    assert response.status == 200, await response.text()
    token = await response.json()
    assert token["user"]["phone"] == PHONE and token["user"]["roles"] == ["user"]
    me = await gateway.get("/api/v1/auth/me",
                           headers={"Authorization": f"Bearer {token['access_token']}"})
    assert (await me.json())["id"] == token["user"]["id"]

    # Single use.
    await assert_problem(await gateway.post(TOKENS, json={"phone": PHONE, "code": code}),
                         401, "invalid-credentials")


async def test_an_existing_user_logs_in_as_themselves(
    make_gateway: GatewayFactory, redis_url: str, redis: Redis
) -> None:
    gateway = await make_gateway(redis_url=redis_url, sms_code_cooldown_s=1)
    first = await gateway.post(TOKENS, json={"phone": PHONE, "code": await ask_code(
        gateway, redis, PHONE)})
    user_id = (await first.json())["user"]["id"]
    await asyncio.sleep(1.1)  # past the (shortened) cooldown
    again = await gateway.post(TOKENS, json={"phone": PHONE, "code": await ask_code(
        gateway, redis, PHONE)})
    assert again.status == 200
    assert (await again.json())["user"]["id"] == user_id


async def test_five_wrong_tries_void_the_code(gateway: TestClient, redis: Redis) -> None:
    code = await ask_code(gateway, redis, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        await assert_problem(await gateway.post(TOKENS, json={"phone": PHONE, "code": wrong}),
                             401, "invalid-credentials")
    await assert_problem(await gateway.post(TOKENS, json={"phone": PHONE, "code": code}),
                         401, "invalid-credentials")


async def test_the_right_code_on_the_fifth_try_still_works(
    gateway: TestClient, redis: Redis
) -> None:
    code = await ask_code(gateway, redis, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        response = await gateway.post(TOKENS, json={"phone": PHONE, "code": wrong})
        assert response.status == 401
    assert (await gateway.post(TOKENS, json={"phone": PHONE, "code": code})).status == 200


async def test_concurrent_tries_cannot_pass_the_limit(redis: Redis) -> None:
    codes = SmsCodes(redis, "secret", ttl_s=300, cooldown_s=60, max_tries=5, ip_limit=100,
                     ip_window_s=60)
    code = await codes.issue(PHONE, "198.51.100.1")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    results = await asyncio.gather(*(codes.check(PHONE, wrong) for _ in range(20)))
    assert not any(results)
    assert not await codes.check(PHONE, code)
    # And of concurrent right answers, exactly one wins.
    other = "13700000002"
    code = await codes.issue(other, "198.51.100.1")
    results = await asyncio.gather(*(codes.check(other, code) for _ in range(5)))
    assert results.count(True) == 1


async def test_one_code_per_phone_per_minute(gateway: TestClient, redis: Redis) -> None:
    await ask_code(gateway, redis, PHONE)
    response = await gateway.post(CODES, json={"phone": PHONE})
    await assert_problem(response, 429, "code-recently-sent")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert len(await sent_codes(redis)) == 1
    # Another phone is not held back.
    await ask_code(gateway, redis, "13700000002")


async def test_per_address_limit(make_gateway: GatewayFactory, redis_url: str,
                                 redis: Redis) -> None:
    gateway = await make_gateway(redis_url=redis_url, sms_ip_limit=3)
    for n in range(3):
        await ask_code(gateway, redis, f"1370000001{n}")
    response = await gateway.post(CODES, json={"phone": "13700000019"})
    await assert_problem(response, 429, "too-many-requests")
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert len(await sent_codes(redis)) == 3
    assert not await redis.exists("gateway:sms-code:{13700000019}")


async def test_a_phone_gets_its_days_codes_and_no_more(
    make_gateway: GatewayFactory, redis_url: str, redis: Redis
) -> None:
    gateway = await make_gateway(redis_url=redis_url, sms_code_cooldown_s=1,
                                 sms_codes_per_phone_per_day=2)
    await ask_code(gateway, redis, PHONE)
    await asyncio.sleep(1.1)
    await ask_code(gateway, redis, PHONE)
    await asyncio.sleep(1.1)
    response = await gateway.post(CODES, json={"phone": PHONE})
    await assert_problem(response, 429, "too-many-codes-for-phone")
    assert 3600 < int(response.headers["Retry-After"]) <= 24 * 3600
    assert len(await sent_codes(redis)) == 2
    await ask_code(gateway, redis, "13700000002")  # another phone is not held back


async def test_an_address_gets_its_days_codes_and_no_more(
    make_gateway: GatewayFactory, redis_url: str, redis: Redis
) -> None:
    gateway = await make_gateway(redis_url=redis_url, sms_codes_per_ip_per_day=2)
    for n in range(2):
        await ask_code(gateway, redis, f"1370000001{n}")
    response = await gateway.post(CODES, json={"phone": "13700000019"})
    await assert_problem(response, 429, "too-many-requests")
    assert 3600 < int(response.headers["Retry-After"]) <= 24 * 3600


async def test_wrong_codes_count_across_new_codes(
    make_gateway: GatewayFactory, redis_url: str, redis: Redis
) -> None:
    """Five tries per code, but ten wrong ones per phone in a day whatever the codes: asking
    for a new code gives no new guesses."""
    gateway = await make_gateway(redis_url=redis_url, sms_code_cooldown_s=1,
                                 sms_code_failures_per_phone=6)
    code = await ask_code(gateway, redis, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        await assert_problem(await gateway.post(TOKENS, json={"phone": PHONE, "code": wrong}),
                             401, "invalid-credentials")
    await asyncio.sleep(1.1)
    code = await ask_code(gateway, redis, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(2):
        await assert_problem(await gateway.post(TOKENS, json={"phone": PHONE, "code": wrong}),
                             401, "invalid-credentials")
    # Six wrong in all: even the right code of this new one is refused now.
    await assert_problem(await gateway.post(TOKENS, json={"phone": PHONE, "code": code}),
                         401, "invalid-credentials")


async def test_a_right_code_is_not_a_wrong_one(
    make_gateway: GatewayFactory, redis_url: str, redis: Redis
) -> None:
    gateway = await make_gateway(redis_url=redis_url, sms_code_cooldown_s=1,
                                 sms_code_failures_per_phone=2)
    for _ in range(3):
        code = await ask_code(gateway, redis, PHONE)
        assert (await gateway.post(TOKENS, json={"phone": PHONE, "code": code})).status == 200
        await asyncio.sleep(1.1)


async def test_an_expired_code_is_refused(make_gateway: GatewayFactory, redis_url: str,
                                          redis: Redis) -> None:
    gateway = await make_gateway(redis_url=redis_url, sms_code_ttl_s=1)
    code = await ask_code(gateway, redis, PHONE)
    await asyncio.sleep(1.2)
    await assert_problem(await gateway.post(TOKENS, json={"phone": PHONE, "code": code}),
                         401, "invalid-credentials")


@pytest.mark.parametrize("body", [{"phone": "12345"}, {}, {"phone": PHONE, "extra": 1}, [PHONE]])
async def test_bad_code_requests_are_422_and_send_nothing(
    gateway: TestClient, redis: Redis, body: object
) -> None:
    await assert_problem(await gateway.post(CODES, json=body), 422, "validation-error")
    assert await sent_codes(redis) == []
    assert await redis.keys("gateway:*") == []


async def test_a_user_made_by_code_login_never_logs_in_by_password(
    gateway: TestClient, redis: Redis
) -> None:
    """Such a user has no password: no password logs in, the timing-equalisation dummy's own
    plaintext included (it used to: anyone could enter every SMS-only account)."""
    first = await gateway.post(TOKENS, json={"phone": PHONE, "code": await ask_code(
        gateway, redis, PHONE)})
    assert first.status == 200, await first.text()
    for guess in ("not-a-real-password", "password123", "user12345"):
        await assert_problem(await gateway.post(TOKENS, json={"phone": PHONE, "password": guess}),
                             401, "invalid-credentials")
