"""In-memory fakes of the gateway's ports (services/gateway/ports.py), for the unit tier.
Each keeps the rule its adapter keeps (tests/gateway/test_port_contracts.py holds them to
it); time is a `Clock` the test moves."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from services.gateway.domain import (
    CodeCoolingDown,
    PhoneTaken,
    RefreshGrant,
    TooManyCodeRequests,
    TooManyCodesForPhone,
    User,
    VerifierBusy,
    new_code,
)

DAY_S = 24 * 3600


@dataclass
class Clock:
    """Seconds since the epoch, as Redis `TIME` gives them (never 0: 0 means "never")."""

    now_s: float = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now_s


class FakeUsers:
    def __init__(self) -> None:
        self.by_id: dict[int, User] = {}
        self._ids = itertools.count(1)

    async def get(self, user_id: int) -> User | None:
        return self.by_id.get(user_id)

    async def by_phone(self, phone: str) -> User | None:
        return next((u for u in self.by_id.values() if u.phone == phone), None)

    async def add(
        self, phone: str, roles: tuple[str, ...], password_hash: str | None = None
    ) -> User:
        if await self.by_phone(phone) is not None:
            raise PhoneTaken(phone)
        user = User(id=next(self._ids), phone=phone, roles=roles, is_active=True,
                    created_at=datetime.now(UTC), password_hash=password_hash)
        self.by_id[user.id] = user
        return user

    async def get_or_add(self, phone: str, roles: tuple[str, ...]) -> User:
        return await self.by_phone(phone) or await self.add(phone, roles)

    async def update(
        self, user_id: int, *, is_active: bool | None = None,
        roles: tuple[str, ...] | None = None,
    ) -> User | None:
        user = self.by_id.get(user_id)
        if user is None:
            return None
        if is_active is not None:
            user = replace(user, is_active=is_active)
        if roles is not None:
            user = replace(user, roles=roles)
        self.by_id[user_id] = user
        return user


@dataclass
class _Refresh:
    session_id: str
    user_id: int
    expires_s: float
    used: bool = False
    revoked: bool = False


class FakeRefreshTokens:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.tokens: dict[str, _Refresh] = {}

    async def add(self, token_hash: str, session_id: str, user_id: int, ttl_s: int) -> None:
        self.tokens[token_hash] = _Refresh(session_id, user_id, self.clock() + ttl_s)

    async def use(self, token_hash: str) -> RefreshGrant | None:
        token = self.tokens.get(token_hash)
        if token is None or token.revoked or token.expires_s <= self.clock():
            return None
        reused, token.used = token.used, True
        return RefreshGrant(token.session_id, token.user_id, reused)

    async def revoke_session(self, session_id: str) -> None:
        for token in self.tokens.values():
            token.revoked |= token.session_id == session_id

    async def revoke_user(self, user_id: int) -> None:
        for token in self.tokens.values():
            token.revoked |= token.user_id == user_id


@dataclass
class FakeRevocations:
    versions: dict[int, int] = field(default_factory=dict)
    ended: set[tuple[int, str]] = field(default_factory=set)

    async def version(self, user_id: int) -> int:
        return self.versions.get(user_id, 0)

    async def revoke_user(self, user_id: int) -> int:
        self.versions[user_id] = self.versions.get(user_id, 0) + 1
        return self.versions[user_id]

    async def log_out(self, user_id: int, session_id: str, token_ttl_s: int) -> None:
        self.ended.add((user_id, session_id))


@dataclass
class FakeTokens:
    ttl_s: int = 900

    def issue(self, user: User, session_id: str, token_version: int) -> str:
        return f"access:{user.id}:{','.join(user.roles)}:{session_id}:{token_version}"


@dataclass
class FakePasswords:
    """`hashed:<password>`; `checks` counts verifications; `busy` refuses them."""

    checks: int = 0
    busy: bool = False

    async def hash(self, password: str) -> str:
        return f"hashed:{password}"

    async def verify(self, password_hash: str | None, password: str) -> bool:
        if self.busy:
            raise VerifierBusy
        self.checks += 1
        return password_hash is not None and password_hash == f"hashed:{password}"


class FakeWindowLimit:
    """At most `limit` hits per subject in a window of `window_s` (the clock's seconds)."""

    def __init__(self, limit: int, window_s: int, clock: Clock | None = None) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock or Clock()
        self.windows: dict[str, tuple[int, float]] = {}  # subject -> (hits, window ends)

    async def hit(self, subject: str) -> int | None:
        hits, ends = self.windows.get(subject, (0, 0.0))
        if ends <= self.clock():
            hits, ends = 0, self.clock() + self.window_s
        self.windows[subject] = (hits + 1, ends)
        return _seconds(ends - self.clock()) if hits + 1 > self.limit else None

    async def release(self, subject: str) -> None:
        hits, ends = self.windows.get(subject, (0, 0.0))
        self.windows[subject] = (max(0, hits - 1), ends)

    def count(self, subject: str) -> int:
        hits, ends = self.windows.get(subject, (0, 0.0))
        return hits if ends > self.clock() else 0


@dataclass
class _Code:
    code: str = ""  # "" once used or void
    tries: int = 0
    issued_s: float = 0.0
    sent_today: int = 0
    day_ends_s: float = 0.0


class FakeSmsCodes:
    """`adapters.sms_codes.SmsCodes` in memory: limits per address, a cooldown and a daily
    cap per phone, tries per code and wrong codes per phone across codes, single use."""

    def __init__(
        self, *, ttl_s: int = 300, cooldown_s: int = 60, max_tries: int = 5,
        ip_limit: int = 20, ip_window_s: int = 3600, per_phone_per_day: int = 10,
        per_ip_per_day: int = 100, failures_per_phone: int = 10,
        failures_window_s: int = DAY_S, clock: Clock | None = None,
    ) -> None:
        self.clock = clock or Clock()
        self.ttl_s, self.cooldown_s, self.max_tries = ttl_s, cooldown_s, max_tries
        self.per_phone_per_day = per_phone_per_day
        self.per_address = [FakeWindowLimit(ip_limit, ip_window_s, self.clock),
                            FakeWindowLimit(per_ip_per_day, DAY_S, self.clock)]
        self.failures = FakeWindowLimit(failures_per_phone, failures_window_s, self.clock)
        self.codes: dict[str, _Code] = {}

    async def issue(self, phone: str, client_ip: str) -> str:
        for limit in self.per_address:
            retry_after = await limit.hit(client_ip)
            if retry_after is not None:
                raise TooManyCodeRequests(retry_after)
        now, state = self.clock(), self.codes.setdefault(phone, _Code())
        wait = state.issued_s + self.cooldown_s - now
        if state.issued_s > 0 and wait > 0:
            raise CodeCoolingDown(_seconds(wait))
        if state.day_ends_s <= now:
            state.day_ends_s, state.sent_today = now + DAY_S, 0
        if state.sent_today >= self.per_phone_per_day:
            raise TooManyCodesForPhone(_seconds(state.day_ends_s - now))
        state.code, state.tries, state.issued_s = new_code(), 0, now
        state.sent_today += 1
        return state.code

    async def withdraw(self, phone: str) -> None:
        state = self.codes.setdefault(phone, _Code())
        state.code, state.issued_s, state.sent_today = "", 0.0, state.sent_today - 1

    async def check(self, phone: str, code: str) -> bool:
        state = self.codes.get(phone)
        if state is None or not state.code:
            return False
        expired = state.issued_s + self.ttl_s <= self.clock()
        if expired or self.failures.count(phone) >= self.failures.limit:
            state.code = ""
            return False
        state.tries += 1
        if state.tries > self.max_tries:
            state.code = ""
            return False
        await self.failures.hit(phone)  # counted before comparing; a right code gives it back
        if code != state.code:
            return False
        state.code = ""
        await self.failures.release(phone)
        return True


@dataclass
class FakeOutbox:
    """Keeps what it is given; `down` makes it fail as a publisher that cannot reach Redis."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False

    async def send(
        self, phone: str, template: str, params: dict[str, Any], correlation_id: str | None
    ) -> None:
        if self.down:
            raise ConnectionError("the outbox is down")
        self.sent.append({"phone": phone, "template": template, "params": params,
                          "correlation_id": correlation_id})


def _seconds(wait_s: float) -> int:
    """Whole seconds for Retry-After, at least 1 (as `adapters.rate_limits.ceil_seconds`)."""
    return max(1, math.ceil(wait_s))
