"""`coursestream users add` through click, against a real SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from coursestream.cli import main
from services.gateway.adapters.passwords import verify_password
from services.gateway.bootstrap import bootstrap
from services.gateway.domain import User
from services.gateway.settings import Settings
from tests.support.databases import DatabaseFactory

pytestmark = pytest.mark.integration


async def find(url: str, phone: str) -> User | None:
    async with bootstrap(Settings(database_url=url)) as runtime:
        return await runtime.users.by_phone(phone)


@pytest.fixture
def database_url(database_factory: DatabaseFactory, tmp_path: Path) -> str:
    return asyncio.run(database_factory.new("gateway", "sqlite"))


def run(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["users", "add", *args],
                                env={"GATEWAY_DATABASE_URL": database_url})
    return result.exit_code, result.output


def test_users_add_makes_a_user_who_can_log_in(database_url: str) -> None:
    code, output = run(database_url, "--phone", "13700000000", "--password", "secret-123",
                       "--admin")
    assert code == 0, output
    assert "roles user, admin" in output
    user = asyncio.run(find(database_url, "13700000000"))
    assert user is not None and user.roles == ("user", "admin")
    assert user.password_hash and "secret-123" not in user.password_hash
    assert asyncio.run(verify_password(user.password_hash, "secret-123"))

    code, output = run(database_url, "--phone", "13700000001", "--password", "secret-123")
    assert code == 0
    user = asyncio.run(find(database_url, "13700000001"))
    assert user is not None and user.roles == ("user",)


def test_users_add_refuses_bad_input_and_duplicates(database_url: str) -> None:
    code, output = run(database_url, "--phone", "12345", "--password", "secret-123")
    assert code == 2 and "phone" in output
    code, output = run(database_url, "--phone", "13700000000", "--password", "short")
    assert code == 2 and "password" in output
    assert asyncio.run(find(database_url, "13700000000")) is None

    assert run(database_url, "--phone", "13700000000", "--password", "secret-123")[0] == 0
    code, output = run(database_url, "--phone", "13700000000", "--password", "another-1",
                       "--admin")
    assert code == 1 and "already exists" in output
    user = asyncio.run(find(database_url, "13700000000"))
    assert user is not None and user.roles == ("user",)


def test_users_add_on_an_unmigrated_database_says_what_to_do(tmp_path: Path) -> None:
    code, output = run(f"sqlite:///{tmp_path / 'empty.db'}", "--phone", "13700000000",
                       "--password", "secret-123")
    assert code == 1
    assert "coursestream migrate gateway" in output
    assert "argon2" not in output  # the hash is not echoed


def test_users_add_needs_neither_redis_nor_the_signing_key(
    database_url: str, tmp_path: Path
) -> None:
    """As in a container with only the database settings: not even the development key pair
    is made under var/."""
    result = CliRunner().invoke(main, ["users", "add", "--phone", "13700000000", "--password",
                                       "secret-123"],
                                env={"GATEWAY_DATABASE_URL": database_url,
                                     "VAR_DIR": str(tmp_path / "var"), "REDIS_URL": ""})
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "var").exists() or not any((tmp_path / "var").glob("jwt-*"))
