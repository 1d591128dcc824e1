"""Refresh tokens (rotation, reuse detection), log out, and revocation of a changed user's
tokens, on real Redis and both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from coursestream.cli import main
from services.gateway.bootstrap import bootstrap
from services.gateway.domain import NewUser
from tests.gateway.conftest import GatewayFactory, assert_problem, gateway_settings
from tests.support.databases import DatabaseFactory

pytestmark = pytest.mark.integration

USER = NewUser(phone="13900000000", password="user12345")
ADMIN = NewUser(phone="13800000000", password="admin12345", admin=True)
TOKENS, REFRESH, LOGOUT, ME = ("/api/v1/auth/tokens", "/api/v1/auth/tokens/refresh",
                               "/api/v1/auth/logout", "/api/v1/auth/me")


@pytest.fixture
async def database_url(
    database_factory: DatabaseFactory, db_backend: str, tmp_path: Path, signing_key: str
) -> str:
    url = await database_factory.new("gateway", db_backend)
    async with bootstrap(gateway_settings(tmp_path, signing_key, database_url=url)) as runtime:
        for new in (USER, ADMIN):
            await runtime.accounts.add(new)
    return url


@pytest.fixture
async def gateway(make_gateway: GatewayFactory, database_url: str, redis_url: str) -> TestClient:
    # No revocation cache: each check below asks Redis.
    return await make_gateway(database_url=database_url, redis_url=redis_url,
                              revocation_cache_s=0)


async def log_in(gateway: TestClient, who: NewUser = USER) -> dict[str, Any]:
    response = await gateway.post(TOKENS, json={"phone": who.phone, "password": who.password})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def refresh(gateway: TestClient, refresh_token: str) -> Any:
    return await gateway.post(REFRESH, json={"refresh_token": refresh_token})


def bearer(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['access_token']}"}


async def test_a_refresh_token_is_used_up_by_a_new_pair(gateway: TestClient) -> None:
    first = await log_in(gateway)
    assert first["expires_in"] == 900 and first["refresh_expires_in"] == 30 * 24 * 3600
    response = await refresh(gateway, first["refresh_token"])
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    second = await response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["user"] == first["user"]
    assert (await gateway.get(ME, headers=bearer(second))).status == 200
    third = await refresh(gateway, second["refresh_token"])
    assert third.status == 200


async def test_a_reused_refresh_token_ends_its_session(gateway: TestClient) -> None:
    """The first token used again means someone copied it: the session's newest refresh
    token and its access tokens stop working too; another session of the user does not."""
    first = await log_in(gateway)
    other_session = await log_in(gateway)
    second = await (await refresh(gateway, first["refresh_token"])).json()
    await assert_problem(await refresh(gateway, first["refresh_token"]), 401,
                         "refresh-token-reused")
    await assert_problem(await refresh(gateway, second["refresh_token"]), 401,
                         "invalid-refresh-token")
    await assert_problem(await gateway.get(ME, headers=bearer(second)), 401, "invalid-token")
    await assert_problem(await gateway.get(ME, headers=bearer(first)), 401, "invalid-token")
    assert (await gateway.get(ME, headers=bearer(other_session))).status == 200
    assert (await refresh(gateway, other_session["refresh_token"])).status == 200


async def test_log_out_revokes_the_session(gateway: TestClient) -> None:
    session = await log_in(gateway)
    other_session = await log_in(gateway)
    await assert_problem(await gateway.post(LOGOUT), 401, "unauthenticated")
    response = await gateway.post(LOGOUT, headers=bearer(session))
    assert response.status == 204
    await assert_problem(await gateway.get(ME, headers=bearer(session)), 401, "invalid-token")
    await assert_problem(await refresh(gateway, session["refresh_token"]), 401,
                         "invalid-refresh-token")
    assert (await gateway.get(ME, headers=bearer(other_session))).status == 200


@pytest.mark.parametrize("token", ["x" * 43, "", "short"])
async def test_unknown_or_malformed_refresh_tokens_are_refused(
    gateway: TestClient, token: str
) -> None:
    response = await refresh(gateway, token)
    if len(token) >= 20:
        await assert_problem(response, 401, "invalid-refresh-token")
    else:
        await assert_problem(response, 422, "validation-error")


async def set_user(database_url: str, redis_url: str, *args: str) -> str:
    """`coursestream users set ...`, run as an operator would (its own event loop)."""
    result = await asyncio.to_thread(CliRunner().invoke, main, ["users", "set", *args], env={
        "GATEWAY_DATABASE_URL": database_url, "REDIS_URL": redis_url})
    assert result.exit_code == 0, result.output
    return result.output


async def test_a_disabled_user_is_refused_at_once_and_cannot_refresh(
    gateway: TestClient, database_url: str, redis_url: str
) -> None:
    session = await log_in(gateway)
    output = await set_user(database_url, redis_url, "--phone", USER.phone, "--disabled")
    assert "disabled" in output
    await assert_problem(await gateway.get(ME, headers=bearer(session)), 401, "invalid-token")
    await assert_problem(await refresh(gateway, session["refresh_token"]), 401,
                         "invalid-refresh-token")
    await assert_problem(await gateway.post(TOKENS, json={
        "phone": USER.phone, "password": USER.password}), 403, "user-disabled")
    await set_user(database_url, redis_url, "--phone", USER.phone, "--active")
    assert (await gateway.get(ME, headers=bearer(await log_in(gateway)))).status == 200


async def test_a_changed_role_revokes_the_old_tokens_and_a_refresh_carries_the_new(
    gateway: TestClient, database_url: str, redis_url: str
) -> None:
    session = await log_in(gateway, ADMIN)
    assert session["user"]["roles"] == ["user", "admin"]
    await set_user(database_url, redis_url, "--phone", ADMIN.phone, "--no-admin")
    await assert_problem(await gateway.get(ME, headers=bearer(session)), 401, "invalid-token")
    response = await refresh(gateway, session["refresh_token"])
    assert response.status == 200, await response.text()
    renewed = await response.json()
    assert renewed["user"]["roles"] == ["user"]
    assert (await (await gateway.get(ME, headers=bearer(renewed))).json())["roles"] == ["user"]


def test_setting_an_unknown_user_fails(database_url: str, redis_url: str) -> None:
    result = CliRunner().invoke(main, ["users", "set", "--phone", "13700000000", "--disabled"],
                                env={"GATEWAY_DATABASE_URL": database_url,
                                     "REDIS_URL": redis_url})
    assert result.exit_code == 1 and "no user" in result.output
