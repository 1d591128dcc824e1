"""What the gateway's handlers need, as protocols: the adapters (SQLAlchemy, Redis, Argon2,
the signing key) and the in-memory fakes of tests/gateway/fakes.py both fit them."""

from __future__ import annotations

from typing import Any, Protocol

from services.gateway.domain import RefreshGrant, User


class UserRepository(Protocol):
    async def get(self, user_id: int) -> User | None: ...

    async def by_phone(self, phone: str) -> User | None: ...

    async def add(
        self, phone: str, roles: tuple[str, ...], password_hash: str | None = None
    ) -> User:
        """PhoneTaken when the phone already has a user."""
        ...

    async def get_or_add(self, phone: str, roles: tuple[str, ...]) -> User:
        """The phone's user, made on first sight (without a password)."""
        ...

    async def update(
        self, user_id: int, *, is_active: bool | None = None,
        roles: tuple[str, ...] | None = None,
    ) -> User | None: ...


class RefreshTokenStore(Protocol):
    async def add(self, token_hash: str, session_id: str, user_id: int, ttl_s: int) -> None: ...

    async def use(self, token_hash: str) -> RefreshGrant | None:
        """Use a token up: its grant (`reused` when used before), None when it was never
        issued, is expired or revoked."""
        ...

    async def revoke_session(self, session_id: str) -> None: ...

    async def revoke_user(self, user_id: int) -> None: ...


class Revocations(Protocol):
    """The token versions and ended sessions every service checks (`shared.auth`)."""

    async def version(self, user_id: int) -> int: ...

    async def revoke_user(self, user_id: int) -> int: ...

    async def log_out(self, user_id: int, session_id: str, token_ttl_s: int) -> None: ...


class AccessTokens(Protocol):
    ttl_s: int

    def issue(self, user: User, session_id: str, token_version: int) -> str: ...


class Passwords(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True only for a hash that the password matches (None never matches, at the same
        cost); VerifierBusy when too many checks are under way."""
        ...


class SmsCodeStore(Protocol):
    async def issue(self, phone: str, client_ip: str) -> str:
        """A new code; CodeCoolingDown, TooManyCodesForPhone or TooManyCodeRequests."""
        ...

    async def withdraw(self, phone: str) -> None:
        """Void a code that could not be sent, and lift its cooldown."""
        ...

    async def check(self, phone: str, code: str) -> bool:
        """True once for the right code within its life and its tries."""
        ...


class WindowLimiter(Protocol):
    async def hit(self, subject: str) -> int | None:
        """Count one hit; None within the limit, else the seconds until the window ends."""
        ...

    async def release(self, subject: str) -> None:
        """Give one hit back."""
        ...


class SmsOutbox(Protocol):
    async def send(
        self, phone: str, template: str, params: dict[str, Any], correlation_id: str | None
    ) -> None: ...
