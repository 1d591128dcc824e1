"""Password login, tokens and /auth/me through the gateway app, on both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from redis.asyncio import Redis
from sqlalchemy import func, select

from services.gateway.adapters.orm import users as users_table
from services.gateway.adapters.tokens import TokenIssuer
from services.gateway.bootstrap import bootstrap
from services.gateway.domain import NewUser, User
from shared.auth import TokenVerifier, key_id
from shared.db import make_engine
from tests.gateway.conftest import (
    GatewayFactory,
    ask_code,
    assert_problem,
    gateway_settings,
    private_pem,
)
from tests.support.databases import DatabaseFactory

pytestmark = pytest.mark.integration

ADMIN = NewUser(phone="13800000000", password="admin12345", admin=True)
USER = NewUser(phone="13900000000", password="user12345")


async def count_users(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(
                select(func.count()).select_from(users_table))).scalar_one())
    finally:
        await engine.dispose()


@pytest.fixture
async def database_url(
    database_factory: DatabaseFactory, db_backend: str, tmp_path: Path, signing_key: str
) -> str:
    url = await database_factory.new("gateway", db_backend)
    async with bootstrap(gateway_settings(tmp_path, signing_key, database_url=url)) as runtime:
        for new in (ADMIN, USER):
            await runtime.accounts.add(new)
    return url


@pytest.fixture
async def gateway(make_gateway: GatewayFactory, database_url: str) -> TestClient:
    return await make_gateway(database_url=database_url, token_ttl_s=600)


async def login(gateway: TestClient, phone: str, password: str) -> dict[str, Any]:
    response = await gateway.post("/api/v1/auth/tokens", json={"phone": phone,
                                                                "password": password})
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = await response.json()
    return body


async def test_password_login_gives_a_token_the_services_accept(
    gateway: TestClient, signing_key: str
) -> None:
    body = await login(gateway, ADMIN.phone, ADMIN.password)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["user"]["phone"] == ADMIN.phone
    assert body["user"]["roles"] == ["user", "admin"]

    # What every service does with it: verify with the public key alone.
    public = TokenIssuer(signing_key, "coursestream", 600).public_key_pem()
    principal = TokenVerifier(public).verify(body["access_token"])
    assert principal.user_id == body["user"]["id"]
    assert principal.is_admin
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == "coursestream"
    assert claims["sub"] == str(body["user"]["id"])
    assert claims["exp"] - claims["iat"] == 600
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "RS256"


async def test_me_answers_for_the_token_holder(gateway: TestClient) -> None:
    body = await login(gateway, USER.phone, USER.password)
    response = await gateway.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    me = await response.json()
    assert me["id"] == body["user"]["id"]
    assert me["phone"] == USER.phone
    assert me["roles"] == ["user"]
    assert me["created_at"].endswith("+00:00")


async def test_wrong_phone_or_password_get_the_same_401(gateway: TestClient) -> None:
    refused = await gateway.post(
        "/api/v1/auth/tokens", json={"phone": USER.phone, "password": "wrong-password"})
    assert refused.headers["Cache-Control"] == "no-store"  # refusals are auth answers too
    wrong_password = await assert_problem(refused, 401, "invalid-credentials")
    unknown_phone = await assert_problem(await gateway.post(
        "/api/v1/auth/tokens", json={"phone": "13700000001", "password": "user12345"}),
        401, "invalid-credentials")
    assert wrong_password["detail"] == unknown_phone["detail"]


async def fail_passwords(gateway: TestClient, phone: str, times: int) -> None:
    for _ in range(times):
        await assert_problem(await gateway.post(
            "/api/v1/auth/tokens", json={"phone": phone, "password": "wrong-password"}),
            401, "invalid-credentials")


async def test_an_address_that_keeps_failing_is_held_back(
    make_gateway: GatewayFactory, database_url: str
) -> None:
    gateway = await make_gateway(database_url=database_url, login_failures_per_ip=3)
    await fail_passwords(gateway, USER.phone, 3)
    response = await gateway.post(
        "/api/v1/auth/tokens", json={"phone": ADMIN.phone, "password": ADMIN.password})
    await assert_problem(response, 429, "too-many-failed-logins")
    assert 1 <= int(response.headers["Retry-After"]) <= 900


async def test_behind_a_trusted_balancer_limits_count_the_forwarded_address(
    make_gateway: GatewayFactory, database_url: str
) -> None:
    """The test client connects from 127.0.0.1, trusted here as a balancer."""
    gateway = await make_gateway(database_url=database_url, login_failures_per_ip=2,
                                 trusted_proxies=["127.0.0.0/8"])
    for _ in range(2):
        await assert_problem(await gateway.post(
            "/api/v1/auth/tokens", json={"phone": USER.phone, "password": "wrong-password"},
            headers={"X-Forwarded-For": "203.0.113.9"}), 401, "invalid-credentials")
    held_back = {"phone": ADMIN.phone, "password": ADMIN.password}
    await assert_problem(await gateway.post(
        "/api/v1/auth/tokens", json=held_back, headers={"X-Forwarded-For": "203.0.113.9"}),
        429, "too-many-failed-logins")
    other = await gateway.post("/api/v1/auth/tokens", json=held_back,
                               headers={"X-Forwarded-For": "203.0.113.10"})
    assert other.status == 200, await other.text()


async def test_without_trusted_proxies_forwarded_for_cannot_dodge_the_limit(
    make_gateway: GatewayFactory, database_url: str
) -> None:
    gateway = await make_gateway(database_url=database_url, login_failures_per_ip=2)
    for n in range(2):
        await assert_problem(await gateway.post(
            "/api/v1/auth/tokens", json={"phone": USER.phone, "password": "wrong-password"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"}), 401, "invalid-credentials")
    await assert_problem(await gateway.post(
        "/api/v1/auth/tokens", json={"phone": ADMIN.phone, "password": ADMIN.password},
        headers={"X-Forwarded-For": "203.0.113.99"}), 429, "too-many-failed-logins")


async def test_a_phone_that_gets_wrong_passwords_is_held_back_for_passwords_only(
    make_gateway: GatewayFactory, database_url: str, redis_url: str, redis: Redis
) -> None:
    """Guessing one account's password (from anywhere) stops after the limit, for that phone
    and for passwords: other phones from the same address, and its owner's SMS code, work."""
    gateway = await make_gateway(database_url=database_url, redis_url=redis_url,
                                 password_failures_per_phone=3)
    await fail_passwords(gateway, USER.phone, 3)
    response = await gateway.post(
        "/api/v1/auth/tokens", json={"phone": USER.phone, "password": USER.password})
    problem = await assert_problem(response, 429, "too-many-wrong-passwords")
    assert "SMS code" in problem["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 900
    assert (await login(gateway, ADMIN.phone, ADMIN.password))["user"]["phone"] == ADMIN.phone
    code = await ask_code(gateway, redis, USER.phone)
    by_code = await gateway.post("/api/v1/auth/tokens", json={"phone": USER.phone, "code": code})
    assert by_code.status == 200, await by_code.text()


async def test_parallel_wrong_passwords_verify_at_most_the_limit(
    make_gateway: GatewayFactory, database_url: str, redis_url: str
) -> None:
    """40 guesses at once for one phone: each takes its slot before the slow check, so only the
    limit's worth are checked (401) and the rest are refused unchecked (429)."""
    gateway = await make_gateway(database_url=database_url, redis_url=redis_url,
                                 password_failures_per_phone=10, login_failures_per_ip=100,
                                 password_checks_queue=100)
    responses = await asyncio.gather(*(gateway.post(
        "/api/v1/auth/tokens", json={"phone": USER.phone, "password": f"wrong-{n:04d}"})
        for n in range(40)))
    statuses = sorted(response.status for response in responses)
    assert statuses == [401] * 10 + [429] * 30
    # The slots stay taken: the right password is refused too until the window ends.
    await assert_problem(await gateway.post(
        "/api/v1/auth/tokens", json={"phone": USER.phone, "password": USER.password}),
        429, "too-many-wrong-passwords")


async def test_a_right_password_gives_its_slot_back(
    make_gateway: GatewayFactory, database_url: str
) -> None:
    gateway = await make_gateway(database_url=database_url, password_failures_per_phone=2,
                                 login_failures_per_ip=2)
    for _ in range(5):
        await login(gateway, USER.phone, USER.password)
    await fail_passwords(gateway, USER.phone, 1)
    await login(gateway, USER.phone, USER.password)


async def test_a_flood_of_logins_waits_for_a_bounded_number_of_checks(
    make_gateway: GatewayFactory, database_url: str
) -> None:
    """One check at a time and none waiting: of many logins at once, one is checked and the
    others are told to come back (503 with Retry-After), none holding 64 MiB meanwhile."""
    gateway = await make_gateway(database_url=database_url, password_checks_concurrency=1,
                                 password_checks_queue=0, login_failures_per_ip=100)
    responses = await asyncio.gather(*(gateway.post(
        "/api/v1/auth/tokens", json={"phone": f"137000000{n:02d}", "password": "wrong-password"})
        for n in range(8)))
    statuses = [response.status for response in responses]
    assert 401 in statuses and 503 in statuses, statuses
    busy = next(r for r in responses if r.status == 503)
    await assert_problem(busy, 503, "unavailable")
    assert busy.headers["Retry-After"]


async def test_me_refuses_missing_bad_and_foreign_tokens(gateway: TestClient) -> None:
    await assert_problem(await gateway.get("/api/v1/auth/me"), 401, "unauthenticated")
    await assert_problem(await gateway.get(
        "/api/v1/auth/me", headers={"Authorization": "Bearer not-a-jwt"}), 401, "invalid-token")
    forged = TokenIssuer(private_pem(), "coursestream", 600).issue(
        User(id=1, phone=ADMIN.phone, roles=("user", "admin"), is_active=True,
             created_at=None),  # type: ignore[arg-type]
        "s1", 0,
    )
    response = await gateway.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    await assert_problem(response, 401, "invalid-token")


async def test_a_valid_token_for_a_user_that_is_gone_is_refused(
    make_gateway: GatewayFactory, signing_key: str, database_url: str
) -> None:
    gateway = await make_gateway(database_url=database_url)
    token = TokenIssuer(signing_key, "coursestream", 600).issue(
        User(id=999, phone="13700000009", roles=("user",), is_active=True,
             created_at=None),  # type: ignore[arg-type]
        "s1", 0,
    )
    response = await gateway.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    await assert_problem(response, 401, "invalid-token")


@pytest.mark.parametrize(("body", "status"), [
    ({"phone": "23800000000", "password": "admin12345"}, 422),  # not a mobile number
    ({"phone": "1380000000", "password": "admin12345"}, 422),  # too short
    ({"phone": "13800000000", "password": "short"}, 422),
    ({"phone": "13800000000"}, 422),  # no proof
    ({"phone": "13800000000", "password": "admin12345", "code": "123456"}, 422),  # both
    ({"phone": "13800000000", "code": "12345a"}, 422),
    ({"phone": "13800000000", "password": "admin12345", "role": "admin"}, 422),
    (["13800000000"], 422),
    ("{not json", 400),
    ("", 400),
])
async def test_bad_login_input_is_a_problem_and_writes_nothing(
    gateway: TestClient, database_url: str, body: object, status: int
) -> None:
    before = await count_users(database_url)
    if isinstance(body, str):
        response = await gateway.post("/api/v1/auth/tokens", data=body,
                                      headers={"Content-Type": "application/json"})
    else:
        response = await gateway.post("/api/v1/auth/tokens", json=body)
    slug = "validation-error" if status == 422 else "malformed-json"
    await assert_problem(response, status, slug)
    assert await count_users(database_url) == before


def public_pem_of(private: str) -> str:
    return TokenIssuer(private, "coursestream", 600).public_key_pem()


def resigned(token: str, private: str, headers: dict[str, str] | None) -> str:
    """The token's claims signed again with `private` and these header fields (no kid)."""
    key = serialization.load_pem_private_key(private.encode(), password=None)
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)  # type: ignore[arg-type]


async def me_status(gateway: TestClient, token: str) -> int:
    response = await gateway.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    if response.status == 401:
        await assert_problem(response, 401, "invalid-token")
    return response.status


async def test_a_key_rotation_keeps_old_tokens_while_their_key_is_listed(
    make_gateway: GatewayFactory, database_url: str, signing_key: str
) -> None:
    """docs/operations.md "Rotate the token signing key", step by step on real gateways."""
    old = await login(await make_gateway(database_url=database_url), USER.phone, USER.password)
    old_token = old["access_token"]
    assert jwt.get_unverified_header(old_token)["kid"] == key_id(
        serialization.load_pem_public_key(public_pem_of(signing_key).encode()))  # type: ignore[arg-type]

    # The gateway signs with the new key, the old public key still listed: both tokens pass.
    new_key = private_pem()
    rotating = await make_gateway(database_url=database_url, jwt_private_key=new_key,
                                  jwt_previous_public_keys=public_pem_of(signing_key))
    new_token = (await login(rotating, USER.phone, USER.password))["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(
        old_token)["kid"]
    assert await me_status(rotating, old_token) == 200
    assert await me_status(rotating, new_token) == 200
    # A refresh token from before the switch is not signed: it gets a token of the new key.
    response = await rotating.post("/api/v1/auth/tokens/refresh",
                                   json={"refresh_token": old["refresh_token"]})
    assert response.status == 200, await response.text()
    refreshed = (await response.json())["access_token"]
    assert jwt.get_unverified_header(refreshed) == jwt.get_unverified_header(new_token)
    # A kid nobody lists is refused, even with a signature the current key would take.
    assert await me_status(rotating, resigned(new_token, new_key, {"kid": "unknown"})) == 401

    # The old key removed: its tokens are refused, the new ones still pass, and a token
    # without kid (issued before tokens carried one) is checked with the current key.
    rotated = await make_gateway(database_url=database_url, jwt_private_key=new_key)
    assert await me_status(rotated, old_token) == 401
    assert await me_status(rotated, new_token) == 200
    assert await me_status(rotated, resigned(new_token, new_key, None)) == 200
    assert await me_status(rotated, resigned(new_token, signing_key, None)) == 401
