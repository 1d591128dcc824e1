"""What the fakes of tests/gateway/fakes.py and the real adapters must both do: each contract
class runs once on the fake (unit tier) and once on the adapter over real Redis or a real,
migrated database (marked `integration`), as FastStream's tests do with their brokers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from services.gateway.adapters.rate_limits import WindowLimit
from services.gateway.adapters.repository import RefreshTokensRepository, UsersRepository
from services.gateway.adapters.sms_codes import SmsCodes
from services.gateway.domain import (
    CODE_LENGTH,
    CodeCoolingDown,
    PhoneTaken,
    RefreshGrant,
    TooManyCodeRequests,
)
from services.gateway.ports import RefreshTokenStore, SmsCodeStore, UserRepository, WindowLimiter
from shared.db import make_engine
from tests.gateway.fakes import FakeRefreshTokens, FakeSmsCodes, FakeUsers, FakeWindowLimit
from tests.support.databases import DatabaseFactory

PHONE, OTHER_PHONE, IP = "13900000000", "13700000000", "10.0.0.1"
A, B = 1, 2  # users owning refresh tokens
# The limits both SMS code stores are made with.
CODE_LIMITS = {"ttl_s": 300, "cooldown_s": 60, "max_tries": 3, "ip_limit": 3,
               "ip_window_s": 3600, "failures_per_phone": 4}


async def _database(database_factory: DatabaseFactory, db_backend: str) -> str:
    return await database_factory.new("gateway", db_backend)


class WindowLimitContract:
    """At most 3 hits per subject in a window of 60 s."""

    async def test_hits_past_the_limit_wait_for_the_window(self, limit: WindowLimiter) -> None:
        assert [await limit.hit("a") for _ in range(3)] == [None, None, None]
        retry_after = await limit.hit("a")
        assert retry_after is not None and 1 <= retry_after <= 60
        assert await limit.hit("b") is None

    async def test_a_released_hit_is_given_back_but_never_below_zero(
        self, limit: WindowLimiter
    ) -> None:
        await limit.release("a")
        assert [await limit.hit("a") for _ in range(3)] == [None, None, None]
        await limit.release("a")
        assert await limit.hit("a") is None
        assert await limit.hit("a") is not None


class TestFakeWindowLimit(WindowLimitContract):
    @pytest.fixture
    def limit(self) -> WindowLimiter:
        return FakeWindowLimit(3, 60)


@pytest.mark.integration
class TestRedisWindowLimit(WindowLimitContract):
    @pytest.fixture
    def limit(self, redis: Redis) -> WindowLimiter:
        return WindowLimit(redis, "contract", 3, 60)


class SmsCodesContract:
    async def test_a_right_code_works_once(self, codes: SmsCodeStore) -> None:
        code = await codes.issue(PHONE, IP)
        assert len(code) == CODE_LENGTH and code.isdigit()
        assert not await codes.check(OTHER_PHONE, code)
        assert await codes.check(PHONE, code)
        assert not await codes.check(PHONE, code)

    async def test_one_code_per_cooldown_unless_withdrawn(self, codes: SmsCodeStore) -> None:
        first = await codes.issue(PHONE, IP)
        with pytest.raises(CodeCoolingDown) as refused:
            await codes.issue(PHONE, IP)
        assert 1 <= (refused.value.retry_after_s or 0) <= 60
        await codes.withdraw(PHONE)
        second = await codes.issue(PHONE, IP)
        if first != second:
            assert not await codes.check(PHONE, first)
        assert await codes.check(PHONE, second)

    async def test_a_code_is_void_after_its_tries(self, codes: SmsCodeStore) -> None:
        code = await codes.issue(PHONE, IP)
        wrong = "0" * CODE_LENGTH if code != "0" * CODE_LENGTH else "1" * CODE_LENGTH
        for _ in range(3):
            assert not await codes.check(PHONE, wrong)
        assert not await codes.check(PHONE, code)

    async def test_wrong_codes_count_across_codes(self, codes: SmsCodeStore) -> None:
        for _ in range(2):
            code = await codes.issue(PHONE, IP)
            for _ in range(2):
                assert not await codes.check(PHONE, "x" + code[1:])
            await codes.withdraw(PHONE)
        assert not await codes.check(PHONE, await codes.issue(PHONE, IP))

    async def test_an_address_asks_for_a_few_codes_only(self, codes: SmsCodeStore) -> None:
        for phone in ("13700000001", "13700000002", "13700000003"):
            await codes.issue(phone, IP)
        with pytest.raises(TooManyCodeRequests):
            await codes.issue("13700000004", IP)
        await codes.issue("13700000004", "10.0.0.2")


class TestFakeSmsCodes(SmsCodesContract):
    @pytest.fixture
    def codes(self) -> SmsCodeStore:
        return FakeSmsCodes(**CODE_LIMITS)


@pytest.mark.integration
class TestRedisSmsCodes(SmsCodesContract):
    @pytest.fixture
    def codes(self, redis: Redis) -> SmsCodeStore:
        return SmsCodes(redis, "contract-secret", **CODE_LIMITS)


class UsersContract:
    async def test_add_and_read_back(self, users: UserRepository) -> None:
        added = await users.add(PHONE, ("user", "admin"), "hash")
        assert (added.phone, added.roles, added.is_active) == (PHONE, ("user", "admin"), True)
        assert await users.get(added.id) == added == await users.by_phone(PHONE)
        assert await users.get(added.id + 1) is None and await users.by_phone(OTHER_PHONE) is None
        with pytest.raises(PhoneTaken):
            await users.add(PHONE, ("user",))

    async def test_get_or_add_makes_a_user_once_without_a_password(
        self, users: UserRepository
    ) -> None:
        made = await users.get_or_add(PHONE, ("user",))
        assert made.password_hash is None and made.roles == ("user",)
        assert await users.get_or_add(PHONE, ("user", "admin")) == made

    async def test_update_changes_what_is_given(self, users: UserRepository) -> None:
        user = await users.add(PHONE, ("user",), "hash")
        disabled = await users.update(user.id, is_active=False)
        assert disabled is not None and not disabled.is_active and disabled.roles == ("user",)
        admin = await users.update(user.id, roles=("user", "admin"))
        assert admin is not None and admin.roles == ("user", "admin") and not admin.is_active
        assert admin.password_hash == "hash"
        assert await users.update(user.id + 1, is_active=True) is None


class TestFakeUsers(UsersContract):
    @pytest.fixture
    def users(self) -> UserRepository:
        return FakeUsers()


@pytest.mark.integration
class TestSqlUsers(UsersContract):
    @pytest.fixture
    async def users(
        self, database_factory: DatabaseFactory, db_backend: str
    ) -> AsyncIterator[UserRepository]:
        engine = make_engine(await _database(database_factory, db_backend))
        yield UsersRepository(engine)
        await engine.dispose()


class RefreshTokensContract:
    async def test_a_token_is_used_up_once(self, tokens: RefreshTokenStore) -> None:
        await tokens.add("h1", "s1", A, 3600)
        assert await tokens.use("h1") == RefreshGrant("s1", A, reused=False)
        assert await tokens.use("h1") == RefreshGrant("s1", A, reused=True)
        assert await tokens.use("never-issued") is None

    async def test_an_expired_token_is_refused(self, tokens: RefreshTokenStore) -> None:
        await tokens.add("h1", "s1", A, 0)
        assert await tokens.use("h1") is None

    async def test_revoked_by_session_or_user(self, tokens: RefreshTokenStore) -> None:
        for token_hash, session_id, user_id in (("h1", "s1", A), ("h2", "s2", A),
                                                ("h3", "s3", A), ("h4", "s4", B)):
            await tokens.add(token_hash, session_id, user_id, 3600)
        await tokens.revoke_session("s1")
        assert await tokens.use("h1") is None
        assert await tokens.use("h2") is not None
        await tokens.revoke_user(A)
        assert await tokens.use("h3") is None
        assert await tokens.use("h2") is None  # used, then revoked: refused, not "reused"
        assert await tokens.use("h4") == RefreshGrant("s4", B, reused=False)


class TestFakeRefreshTokens(RefreshTokensContract):
    @pytest.fixture
    def tokens(self) -> RefreshTokenStore:
        return FakeRefreshTokens()


@pytest.mark.integration
class TestSqlRefreshTokens(RefreshTokensContract):
    @pytest.fixture
    async def tokens(
        self, database_factory: DatabaseFactory, db_backend: str
    ) -> AsyncIterator[RefreshTokenStore]:
        engine = make_engine(await _database(database_factory, db_backend))
        users = UsersRepository(engine)  # the tokens' owners (a foreign key)
        assert [(await users.add(phone, ("user",))).id for phone in (PHONE, OTHER_PHONE)] == [A, B]
        yield RefreshTokensRepository(engine)
        await engine.dispose()
