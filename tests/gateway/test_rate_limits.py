"""Rate limits per route class, per user else per address, by GCRA on real Redis, with the
IETF RateLimit headers; what happens when Redis is away."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from services.gateway.adapters.rate_limits import RateLimit
from services.gateway.adapters.tokens import TokenIssuer
from services.gateway.domain import User
from services.gateway.entrypoints.limits import route_class
from shared.auth import Principal, Revocations, user_slot
from tests.gateway.conftest import GatewayFactory, assert_problem
from tests.gateway.upstreams import Upstream
from tests.support import redis_servers

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def policy(quota: int, window_s: int) -> dict[str, int]:
    return {"quota": quota, "window_s": window_s}


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/api/v1/catalog/courses", "reads"),
    ("HEAD", "/api/v1/catalog/banners", "reads"),
    ("GET", "/api/v1/auth/me", "reads"),
    ("POST", "/api/v1/auth/tokens", "auth"),
    ("POST", "/api/v1/auth/sms-codes", "auth"),
    ("POST", "/api/v1/catalog/courses", "writes"),
    ("DELETE", "/api/v1/scheduler/schedules/x", "writes"),
    ("POST", "/api/v1/seckill/items/1/attempts", "attempts"),
    ("GET", "/api/v1/seckill/tickets/abc/events", "events"),
    ("GET", "/api/v1/seckill/tickets/abc", "reads"),
    ("GET", "/", None),
    ("GET", "/free-course", None),
    ("GET", "/healthz", None),
])
def test_each_request_counts_against_its_class(
    method: str, path: str, expected: str | None
) -> None:
    assert route_class(method, path) == expected


@pytest.fixture
async def gateway(
    make_gateway: GatewayFactory, upstreams: dict[str, Upstream], redis_url: str
) -> TestClient:
    """Limits on every Redis backend, the cluster included."""
    return await make_gateway(
        redis_url=redis_url,
        catalog_url=upstreams["catalog"].url, seckill_url=upstreams["seckill"].url,
        rate_limits_enabled=True, trusted_proxies=["127.0.0.0/8"],
        rate_limit_reads=policy(3, 60), rate_limit_attempts=policy(2, 1),
        rate_limit_events=policy(1, 60),
    )


def bearer(signing_key: str, user_id: int) -> dict[str, str]:
    user = User(id=user_id, phone="13900000000", roles=("user",), is_active=True,
                created_at=None)  # type: ignore[arg-type]
    token = TokenIssuer(signing_key, "coursestream", 600).issue(user, "s1", 0)
    return {"Authorization": f"Bearer {token}"}


def parse(header: str) -> dict[str, Any]:
    """`"reads";r=2;t=20` -> {"name": "reads", "r": 2, "t": 20}."""
    name, *params = header.split(";")
    return {"name": name.strip('"'), **{k: int(v) for k, v in (p.split("=") for p in params)}}


async def test_reads_per_address_with_headers_then_429(gateway: TestClient) -> None:
    address = {"X-Forwarded-For": "203.0.113.5"}
    for remaining in (2, 1, 0):
        response = await gateway.get("/api/v1/catalog/courses", headers=address)
        assert response.status == 200
        assert response.headers["RateLimit-Policy"] == '"reads";q=3;w=60'
        state = parse(response.headers["RateLimit"])
        assert state["name"] == "reads" and state["r"] == remaining
        assert 1 <= state["t"] <= 60
    refused = await gateway.get("/api/v1/catalog/courses", headers=address)
    body = await assert_problem(refused, 429, "rate-limited")
    assert "reads" in body["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 20  # one request's share of the window
    assert parse(refused.headers["RateLimit"])["r"] == 0
    assert refused.headers["RateLimit-Policy"] == '"reads";q=3;w=60'
    # Another address, and the web page, are not held back.
    other = await gateway.get("/api/v1/catalog/courses", headers={"X-Forwarded-For": "203.0.113.6"})
    assert other.status == 200
    assert (await gateway.get("/healthz", headers=address)).status == 200


async def test_attempts_per_user_refill_at_the_policy_rate(
    gateway: TestClient, signing_key: str
) -> None:
    """Two users behind one address each have their own two attempts a second."""
    alice, bob = bearer(signing_key, 7), bearer(signing_key, 8)
    path = "/api/v1/seckill/items/1/attempts"
    assert [(await gateway.post(path, headers=alice)).status for _ in range(3)] == [200, 200, 429]
    assert (await gateway.post(path, headers=bob)).status == 200
    await asyncio.sleep(0.6)  # one emission interval (0.5 s) later, one more
    assert (await gateway.post(path, headers=alice)).status == 200
    assert (await gateway.post(path, headers=alice)).status == 429


async def test_event_streams_are_a_class_of_their_own(
    gateway: TestClient, signing_key: str
) -> None:
    alice = bearer(signing_key, 7)
    first = await gateway.get("/api/v1/seckill/tickets/t1/events", headers=alice)
    assert first.status == 200
    first.close()
    await assert_problem(await gateway.get("/api/v1/seckill/tickets/t1/events", headers=alice),
                         429, "rate-limited")
    # ... while reads of the same user go on.
    assert (await gateway.get("/api/v1/seckill/tickets/t1", headers=alice)).status == 200


async def test_without_redis_reads_go_through_and_the_rest_is_refused(
    make_gateway: GatewayFactory, upstreams: dict[str, Upstream], tmp_path: Path,
    signing_key: str,
) -> None:
    server = redis_servers.start_embedded(tmp_path / "valkey")
    try:
        gateway = await make_gateway(
            catalog_url=upstreams["catalog"].url, seckill_url=upstreams["seckill"].url,
            redis_url=server.url, rate_limits_enabled=True)
        assert (await gateway.get("/api/v1/catalog/banners")).status == 200
        server.kill()
        read = await gateway.get("/api/v1/catalog/banners")
        assert read.status == 200 and "RateLimit" not in read.headers
        before = upstreams["catalog"].echoed
        await assert_problem(await gateway.post("/api/v1/catalog/courses", json={}), 503,
                             "unavailable")
        await assert_problem(await gateway.post("/api/v1/seckill/items/1/attempts",
                                                headers=bearer(signing_key, 7)),
                             503, "unavailable")
        assert upstreams["catalog"].echoed == before
    finally:
        server.stop()


async def test_a_quota_far_above_any_load_never_fails(redis: Redis) -> None:
    """An emission interval below the precision of the stored time (a benchmark's quota)
    still sets a valid expiry (it made Redis refuse the script: every attempt a 503)."""
    limit = RateLimit(redis, "attempts", 1_000_000_000, 1)
    decisions = [await limit.take("u1") for _ in range(3)]
    assert all(d.allowed for d in decisions)


async def test_the_limit_reads_a_tokens_revocation_in_its_round_trip(redis: Redis) -> None:
    """The user's limit key and revocation hash share a hash tag; what the script read decides
    the revocation as `Revocations.is_revoked` would."""
    principal = Principal(7, "13900000007", frozenset({"user"}), time.time() + 60, "s7")
    revocations = Revocations(redis, cache_s=0)
    limit = RateLimit(redis, "attempts", 10, 1)
    fields = Revocations.state_fields(principal)
    assert fields[0].endswith("{" + user_slot(7) + "}")

    async def revoked() -> bool:
        decision = await limit.take(user_slot(7), fields)
        assert decision.allowed and decision.revocation is not None
        return Revocations.revoked(principal, *decision.revocation)

    assert not await revoked() and not await revocations.is_revoked(principal)
    await revocations.log_out(7, "s7", 60)
    assert await revoked() and await revocations.is_revoked(principal)
    await redis.delete(fields[0])
    await revocations.revoke_user(7)
    assert await revoked() and await revocations.is_revoked(principal)
    assert (await limit.take("a:127.0.0.1")).revocation is None
