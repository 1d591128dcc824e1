"""The gateway's login rules, on the in-memory fakes of tests/gateway/fakes.py: no Redis, no
database, no signing key."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from services.gateway.domain import (
    CodeCoolingDown,
    InvalidCredentials,
    InvalidRefreshToken,
    NewUser,
    PhoneTaken,
    RefreshTokenReused,
    TooManyCodeRequests,
    TooManyCodesForPhone,
    TooManyFailedLogins,
    TooManyWrongPasswords,
    UserDisabled,
    VerifierBusy,
)
from services.gateway.handlers import Accounts, Logins, Sessions
from tests.gateway.fakes import (
    Clock,
    FakeOutbox,
    FakePasswords,
    FakeRefreshTokens,
    FakeRevocations,
    FakeSmsCodes,
    FakeTokens,
    FakeUsers,
    FakeWindowLimit,
)

PHONE, OTHER_PHONE, IP, OTHER_IP = "13900000000", "13700000000", "10.0.0.1", "10.0.0.2"
USER = NewUser(phone=PHONE, password="user12345")


@dataclass
class World:
    """The handlers on fakes, with the default limits but small address and phone caps."""

    clock: Clock = field(default_factory=Clock)
    users: FakeUsers = field(default_factory=FakeUsers)
    passwords: FakePasswords = field(default_factory=FakePasswords)
    revocations: FakeRevocations = field(default_factory=FakeRevocations)
    outbox: FakeOutbox = field(default_factory=FakeOutbox)

    def __post_init__(self) -> None:
        self.refresh_tokens = FakeRefreshTokens(self.clock)
        self.codes = FakeSmsCodes(clock=self.clock, ip_limit=3, per_phone_per_day=3,
                                  max_tries=3, failures_per_phone=4)
        self.address_failures = FakeWindowLimit(5, 900, self.clock)
        self.phone_failures = FakeWindowLimit(3, 900, self.clock)
        self.sessions = Sessions(FakeTokens(), self.users, self.refresh_tokens,
                                 self.revocations, refresh_ttl_s=3600)
        self.logins = Logins(self.users, self.sessions, self.passwords, self.codes,
                             self.outbox, self.address_failures, self.phone_failures)
        self.accounts = Accounts(self.users, self.refresh_tokens, self.revocations,
                                 self.passwords)

    async def code_for(self, phone: str = PHONE, ip: str = IP) -> str:
        await self.logins.request_code(phone, ip, "cid")
        code: str = self.outbox.sent[-1]["params"]["code"]
        return code


@pytest.fixture
async def world() -> World:
    world = World()
    await world.accounts.add(USER)
    return world


async def test_a_right_password_logs_in_and_gives_its_failure_slots_back(world: World) -> None:
    token = await world.logins.with_password(PHONE, USER.password, IP)
    assert token["user"] == {"id": 1, "phone": PHONE, "roles": ["user"]}
    assert token["token_type"] == "Bearer" and token["expires_in"] == 900
    assert world.address_failures.count(IP) == 0 and world.phone_failures.count(PHONE) == 0


async def test_failure_slots_are_taken_before_the_password_is_checked(world: World) -> None:
    world.passwords.busy = True
    with pytest.raises(VerifierBusy):
        await world.logins.with_password(PHONE, USER.password, IP)
    assert world.address_failures.count(IP) == 1 and world.phone_failures.count(PHONE) == 1
    world.passwords.busy = False
    with pytest.raises(InvalidCredentials, match="Wrong phone or password"):
        await world.logins.with_password(PHONE, "wrong-one", IP)
    assert world.address_failures.count(IP) == 2 and world.phone_failures.count(PHONE) == 2


async def test_an_unknown_phone_is_checked_all_the_same(world: World) -> None:
    with pytest.raises(InvalidCredentials):
        await world.logins.with_password(OTHER_PHONE, USER.password, IP)
    assert world.passwords.checks == 1


async def test_a_user_made_by_code_login_never_logs_in_by_password(world: World) -> None:
    code = await world.code_for(OTHER_PHONE)
    token = await world.logins.with_code(OTHER_PHONE, code, IP)
    assert token["user"]["phone"] == OTHER_PHONE
    for guess in ("hashed:", "None", USER.password):
        with pytest.raises(InvalidCredentials):
            await world.logins.with_password(OTHER_PHONE, guess, IP)
    assert world.passwords.checks == 3


async def test_an_address_guessing_across_phones_is_stopped_before_checking(
    world: World,
) -> None:
    for n in range(5):
        with pytest.raises(InvalidCredentials):
            await world.logins.with_password(f"1370000000{n}", "wrong-one", IP)
    with pytest.raises(TooManyFailedLogins) as refused:
        await world.logins.with_password(PHONE, USER.password, IP)
    assert refused.value.retry_after_s == 900 and world.passwords.checks == 5
    world.clock.now_s += 900
    assert await world.logins.with_password(PHONE, USER.password, IP)


async def test_one_phone_guessed_from_many_addresses_can_still_log_in_by_code(
    world: World,
) -> None:
    for n in range(3):
        with pytest.raises(InvalidCredentials):
            await world.logins.with_password(PHONE, "wrong-one", f"10.0.1.{n}")
    world.clock.now_s += 100
    with pytest.raises(TooManyWrongPasswords) as refused:
        await world.logins.with_password(PHONE, USER.password, OTHER_IP)
    assert refused.value.retry_after_s == 800
    assert "log in with an SMS code" in refused.value.detail
    code = await world.code_for()
    assert (await world.logins.with_code(PHONE, code, OTHER_IP))["user"]["id"] == 1


async def test_a_disabled_user_cannot_log_in_nor_refresh(world: World) -> None:
    token = await world.logins.with_password(PHONE, USER.password, IP)
    changed = await world.accounts.change(PHONE, active=False)
    assert changed is not None and not changed.is_active
    assert world.revocations.versions == {1: 1}  # every access token stops at once
    with pytest.raises(UserDisabled):
        await world.logins.with_password(PHONE, USER.password, IP)
    with pytest.raises(UserDisabled):
        await world.logins.with_code(PHONE, await world.code_for(), IP)
    with pytest.raises(InvalidRefreshToken):  # disabling revoked the refresh tokens
        await world.sessions.refresh(token["refresh_token"])


async def test_refresh_rotates_and_a_reused_token_ends_its_session(world: World) -> None:
    first = await world.logins.with_password(PHONE, USER.password, IP)
    other = await world.logins.with_password(PHONE, USER.password, IP)
    second = await world.sessions.refresh(first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    session = second["access_token"].split(":")[3]
    assert session == first["access_token"].split(":")[3]
    with pytest.raises(RefreshTokenReused):
        await world.sessions.refresh(first["refresh_token"])
    assert world.revocations.ended == {(1, session)}
    with pytest.raises(InvalidRefreshToken) as refused:
        await world.sessions.refresh(second["refresh_token"])
    assert type(refused.value) is InvalidRefreshToken
    assert await world.sessions.refresh(other["refresh_token"])


async def test_refresh_tokens_expire_and_unknown_ones_are_refused(world: World) -> None:
    token = await world.logins.with_password(PHONE, USER.password, IP)
    with pytest.raises(InvalidRefreshToken):
        await world.sessions.refresh("never-issued-never-issued")
    world.clock.now_s += 3600
    with pytest.raises(InvalidRefreshToken):
        await world.sessions.refresh(token["refresh_token"])


async def test_a_refresh_of_a_user_disabled_meanwhile_ends_the_session(world: World) -> None:
    token = await world.logins.with_password(PHONE, USER.password, IP)
    await world.users.update(1, is_active=False)  # behind the operators' back
    with pytest.raises(UserDisabled):
        await world.sessions.refresh(token["refresh_token"])
    assert len(world.revocations.ended) == 1


async def test_a_code_is_sent_once_per_cooldown_and_used_once(world: World) -> None:
    code = await world.code_for()
    assert world.outbox.sent[-1] == {"phone": PHONE, "template": "login_code",
                                     "params": {"code": code}, "correlation_id": "cid"}
    world.clock.now_s += 59
    with pytest.raises(CodeCoolingDown) as refused:
        await world.logins.request_code(PHONE, IP, None)
    assert refused.value.retry_after_s == 1
    assert (await world.logins.with_code(PHONE, code, IP))["user"]["id"] == 1
    assert world.address_failures.count(IP) == 0
    with pytest.raises(InvalidCredentials, match="Wrong phone or code"):
        await world.logins.with_code(PHONE, code, IP)


async def test_a_code_is_void_after_its_tries_and_after_its_life(world: World) -> None:
    code = await world.code_for()
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await world.logins.with_code(PHONE, "000000" if code != "000000" else "111111", IP)
    with pytest.raises(InvalidCredentials):
        await world.logins.with_code(PHONE, code, IP)
    world.clock.now_s += 60
    code = await world.code_for()
    world.clock.now_s += 300
    with pytest.raises(InvalidCredentials):
        await world.logins.with_code(PHONE, code, IP)


async def test_a_new_code_gives_no_new_guesses(world: World) -> None:
    for _ in range(2):
        code = await world.code_for()
        for _ in range(2):
            with pytest.raises(InvalidCredentials):
                await world.logins.with_code(PHONE, "000000" if code != "000000" else "1" * 6,
                                             IP)
        world.clock.now_s += 60
    code = await world.code_for()
    with pytest.raises(InvalidCredentials):  # four wrong codes for the phone already
        await world.logins.with_code(PHONE, code, IP)


async def test_codes_are_capped_per_phone_per_day_and_per_address(world: World) -> None:
    for _ in range(3):
        await world.code_for(ip=f"10.0.2.{len(world.outbox.sent)}")
        world.clock.now_s += 60
    with pytest.raises(TooManyCodesForPhone) as refused:
        await world.logins.request_code(PHONE, OTHER_IP, None)
    assert refused.value.retry_after_s == 24 * 3600 - 180
    for n in range(2):
        await world.code_for(f"1370000000{n}", OTHER_IP)
    with pytest.raises(TooManyCodeRequests):
        await world.logins.request_code("13700000009", OTHER_IP, None)


async def test_a_code_that_cannot_be_sent_is_withdrawn(world: World) -> None:
    world.outbox.down = True
    with pytest.raises(ConnectionError):
        await world.logins.request_code(PHONE, IP, None)
    world.outbox.down = False
    code = await world.code_for()  # at once: no cooldown for a code never sent
    assert (await world.logins.with_code(PHONE, code, IP))["user"]["id"] == 1


async def test_operators_add_users_and_change_their_roles(world: World) -> None:
    with pytest.raises(PhoneTaken):
        await world.accounts.add(NewUser(phone=PHONE, password="another-1"))
    token = await world.logins.with_password(PHONE, USER.password, IP)
    changed = await world.accounts.change(PHONE, admin=True)
    assert changed is not None and changed.roles == ("user", "admin") and changed.is_active
    refreshed = await world.sessions.refresh(token["refresh_token"])  # still works
    assert refreshed["user"]["roles"] == ["user", "admin"]
    assert refreshed["access_token"].endswith(":1")  # the new token version
    assert await world.accounts.change(OTHER_PHONE, active=False) is None
