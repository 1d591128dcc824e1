"""The users repository against real databases (SQLite, and PostgreSQL where configured)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.adapters.repository import UsersRepository
from services.gateway.domain import PhoneTaken
from shared.db import make_engine
from tests.support.databases import DatabaseFactory

pytestmark = pytest.mark.integration


@pytest.fixture
async def repository(
    database_factory: DatabaseFactory, db_backend: str
) -> AsyncIterator[UsersRepository]:
    engine = make_engine(await database_factory.new("gateway", db_backend))
    yield UsersRepository(engine)
    await engine.dispose()


async def test_add_and_read_back(repository: UsersRepository) -> None:
    added = await repository.add("13800000000", ("user", "admin"), "hash")
    assert added.id > 0
    for found in (await repository.get(added.id), await repository.by_phone("13800000000")):
        assert found == added
    assert added.roles == ("user", "admin")
    assert added.is_active
    assert added.created_at.tzinfo is not None
    assert abs(datetime.now(UTC) - added.created_at) < timedelta(minutes=1)
    assert await repository.get(added.id + 1) is None
    assert await repository.by_phone("13800000001") is None


async def test_a_phone_has_one_user(repository: UsersRepository) -> None:
    await repository.add("13800000000", ("user",), "hash")
    with pytest.raises(PhoneTaken):
        await repository.add("13800000000", ("user", "admin"), "other")
    user = await repository.by_phone("13800000000")
    assert user is not None and user.roles == ("user",) and user.password_hash == "hash"


async def test_concurrent_first_logins_make_one_user(repository: UsersRepository) -> None:
    made = await asyncio.gather(*(repository.get_or_add("13900000000", ("user",))
                                  for _ in range(5)))
    assert len({user.id for user in made}) == 1
    assert made[0].password_hash is None
