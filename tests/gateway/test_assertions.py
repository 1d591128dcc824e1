"""One token check per request: the gateway verifies the bearer token and its revocation and
hands the service a signed assertion of the principal (`X-User-Assertion`); the service takes
only a fresh one signed with the shared key, for its own request, and otherwise checks the
token itself. The real seckill service behind a real gateway, over HTTP, on real Redis."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization

from services.seckill.app import create_app as create_seckill
from services.seckill.settings import Settings as SeckillSettings
from shared.auth import ASSERTION_HEADER, Assertions, Principal, Revocations, token_claims
from shared.embedded_redis import EmbeddedRedis
from shared.redis import make_redis
from shared.settings import JWT_ALGORITHM
from tests.gateway.conftest import GatewayFactory, assert_problem, private_pem
from tests.seckill.conftest import window
from tests.support.databases import DatabaseFactory

KEY = "k" * 40
ITEMS = "/api/v1/seckill/items"
PRINCIPAL = Principal(user_id=7, phone="13900000007", roles=frozenset({"user"}),
                      expires_at=time.time() + 3600, session_id="s7")


class TestAssertions:
    """The format's own rules, no I/O."""

    assertions = Assertions(KEY.encode(), ttl_s=5)

    def test_a_signed_assertion_gives_its_principal_back(self) -> None:
        value = self.assertions.sign(PRINCIPAL, "req-1")
        assert self.assertions.verify(value, "req-1") == PRINCIPAL

    @pytest.mark.parametrize("change", ["other key", "unsigned", "tampered", "garbage",
                                        "other request", "stale", "token expired"])
    def test_anything_else_is_ignored(self, change: str) -> None:
        now = time.time()
        value = self.assertions.sign(PRINCIPAL, "req-1", now=now)
        body, _, mac = value.partition(".")
        request_id = "req-1"
        if change == "other key":
            value = Assertions(b"x" * 40, ttl_s=5).sign(PRINCIPAL, "req-1", now=now)
        elif change == "unsigned":
            value = body
        elif change == "tampered":
            value = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
        elif change == "garbage":
            value = "%%%.@@@"
        elif change == "other request":
            request_id = "req-2"
        elif change == "stale":
            now += 6
        elif change == "token expired":
            value = self.assertions.sign(
                Principal(7, "p", frozenset(), expires_at=now - 1), "req-1", now=now)
        assert self.assertions.verify(value, request_id, now=now) is None

    def test_a_short_key_is_refused(self) -> None:
        with pytest.raises(ValueError):
            Assertions(b"short", ttl_s=5)


def sign_token(private_pem: str, user_id: int, *roles: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    claims = token_claims(user_id, f"139{user_id:08d}", roles, session_id=f"s{user_id}",
                          token_version=0, ttl_s=3600)
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM)  # type: ignore[arg-type]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


async def seckill_settings(tmp_path: Path, database_factory: DatabaseFactory,
                           embedded_redis: EmbeddedRedis, public_key: str) -> SeckillSettings:
    return SeckillSettings(
        env="test", var_dir=tmp_path / "seckill", redis_url=embedded_redis.url,
        database_url=await database_factory.new("seckill", "sqlite"),
        jwt_public_key=public_key, gateway_assertion_key=KEY, order_writer_metrics_port=0)


@pytest.fixture
async def seckill(
    tmp_path: Path, signing_key: str, database_factory: DatabaseFactory,
    embedded_redis: EmbeddedRedis,
) -> AsyncIterator[TestClient[Any, Any]]:
    """The seckill service, verifying tokens with the gateway's public key, sharing its
    Redis (the revocation state) and its assertion key."""
    settings = await seckill_settings(tmp_path, database_factory, embedded_redis,
                                      public_pem(signing_key))
    async with TestClient(TestServer(create_seckill(settings))) as client:
        yield client


@pytest.fixture(params=["rate limited", "not rate limited"])
async def gateway(
    request: pytest.FixtureRequest, make_gateway: GatewayFactory,
    seckill: TestClient[Any, Any],
) -> TestClient[Any, Any]:
    """The revocation is read in the rate limit's round trip, or on its own where the route
    has no limit (then without a cache here, so that a revocation shows at once)."""
    limited = request.param == "rate limited"
    return await make_gateway(seckill_url=str(seckill.make_url("")).rstrip("/"),
                              gateway_assertion_key=KEY, rate_limits_enabled=limited,
                              revocation_cache_s=5 if limited else 0)


async def new_item(client: TestClient[Any, Any], signing_key: str) -> int:
    body = {"course_id": 7, "title": "Go", "price": "9.90", "stock": 10, **window()}
    response = await client.post(ITEMS, json=body,
                                 headers=bearer(sign_token(signing_key, 1, "admin")))
    assert response.status == 201, await response.text()
    return int((await response.json())["id"])


@pytest.mark.integration
async def test_direct_calls_with_a_bearer_token_still_work(
    gateway: TestClient[Any, Any], seckill: TestClient[Any, Any], signing_key: str,
) -> None:
    item = await new_item(seckill, signing_key)
    for client, user in ((gateway, 7), (seckill, 8)):
        response = await client.post(f"{ITEMS}/{item}/attempts",
                                     headers=bearer(sign_token(signing_key, user)))
        assert response.status == 202, await response.text()
    await assert_problem(await seckill.post(f"{ITEMS}/{item}/attempts"), 401, "unauthenticated")


@pytest.mark.integration
async def test_the_service_takes_the_gateways_word_without_checking_the_token_again(
    make_gateway: GatewayFactory, signing_key: str, tmp_path: Path,
    database_factory: DatabaseFactory, embedded_redis: EmbeddedRedis,
) -> None:
    """A service that could not verify the token itself (it holds another public key) serves
    it through the gateway, which verified it, and refuses it when called directly."""
    settings = await seckill_settings(tmp_path, database_factory, embedded_redis,
                                      public_pem(private_pem()))
    async with TestClient(TestServer(create_seckill(settings))) as seckill:
        gateway = await make_gateway(seckill_url=str(seckill.make_url("")).rstrip("/"),
                                     gateway_assertion_key=KEY)
        item = await new_item(gateway, signing_key)
        headers = bearer(sign_token(signing_key, 7))
        through = await gateway.post(f"{ITEMS}/{item}/attempts", headers=headers)
        assert through.status == 202, await through.text()
        direct = await seckill.post(f"{ITEMS}/{item}/attempts", headers=headers)
        await assert_problem(direct, 401, "invalid-token")


@pytest.mark.integration
async def test_a_revoked_session_is_refused_through_the_gateway(
    gateway: TestClient[Any, Any], signing_key: str, embedded_redis: EmbeddedRedis,
) -> None:
    item = await new_item(gateway, signing_key)
    redis = make_redis(embedded_redis.url)
    try:
        revocations = Revocations(redis)
        for user in (7, 8):
            headers = bearer(sign_token(signing_key, user))
            ok = await gateway.post(f"{ITEMS}/{item}/attempts", headers=headers)
            assert ok.status == 202, await ok.text()
            if user == 7:
                await revocations.log_out(7, "s7", 3600)
            else:
                await revocations.revoke_user(8)
            refused = await gateway.get("/api/v1/seckill/orders", headers=headers)
            await assert_problem(refused, 401, "invalid-token")
    finally:
        await redis.aclose()


@pytest.mark.integration
async def test_a_client_sent_assertion_is_dropped_by_the_gateway_and_ignored_by_the_service(
    gateway: TestClient[Any, Any], seckill: TestClient[Any, Any], signing_key: str,
) -> None:
    """A user's token with an assertion of an admin: the gateway drops the client's header
    (and asserts the user); the service ignores a forged, unsigned or stale one and checks
    the token, which is not an admin's."""
    user = bearer(sign_token(signing_key, 7))
    admin = Principal(1, "13800000001", frozenset({"admin"}), time.time() + 3600, "s1")
    body = {"course_id": 7, "title": "Go", "price": "9.90", "stock": 10, **window()}
    signed = Assertions(KEY.encode(), ttl_s=5).sign(admin, "req-forged")
    forged = Assertions(b"f" * 40, ttl_s=5).sign(admin, "req-forged")
    stale = Assertions(KEY.encode(), ttl_s=5).sign(admin, "req-forged", now=time.time() - 60)
    response = await gateway.post(ITEMS, json=body, headers={
        **user, ASSERTION_HEADER: signed, "X-Request-ID": "req-forged"})
    await assert_problem(response, 403, "forbidden")
    for value in (forged, stale, signed.partition(".")[0]):
        response = await seckill.post(ITEMS, json=body, headers={
            **user, ASSERTION_HEADER: value, "X-Request-ID": "req-forged"})
        await assert_problem(response, 403, "forbidden")
        response = await seckill.post(ITEMS, json=body, headers={
            ASSERTION_HEADER: value, "X-Request-ID": "req-forged"})
        await assert_problem(response, 401, "unauthenticated")


@pytest.mark.integration
async def test_the_gateway_itself_never_takes_an_assertion(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(gateway_assertion_key=KEY)
    signed = Assertions(KEY.encode(), ttl_s=5).sign(PRINCIPAL, "req-me")
    response = await gateway.get("/api/v1/auth/me", headers={
        ASSERTION_HEADER: signed, "X-Request-ID": "req-me"})
    await assert_problem(response, 401, "unauthenticated")
