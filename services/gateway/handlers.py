"""Auth use cases, on the ports of `ports.py`: sessions, logging in, operators' changes."""

from __future__ import annotations

from dataclasses import dataclass

from typing_extensions import TypedDict

from services.gateway.domain import (
    InvalidCredentials,
    InvalidRefreshToken,
    NewUser,
    PublicUser,
    RefreshTokenReused,
    TooManyFailedLogins,
    TooManyWrongPasswords,
    User,
    UserDisabled,
    new_refresh_token,
    new_session_id,
    refresh_token_hash,
    roles_for,
)
from services.gateway.ports import (
    AccessTokens,
    Passwords,
    RefreshTokenStore,
    Revocations,
    SmsCodeStore,
    SmsOutbox,
    UserRepository,
    WindowLimiter,
)
from shared.event_data import LOGIN_CODE_TEMPLATE


class Tokens(TypedDict):
    """A token pair and its user, as a login or a refresh answers it."""

    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: PublicUser


@dataclass(frozen=True, slots=True)
class Sessions:
    """Login sessions: a short access token and a refresh token that is used up by each
    refresh (rotation); a refresh token used twice revokes its whole session."""

    tokens: AccessTokens
    users: UserRepository
    refresh_tokens: RefreshTokenStore
    revocations: Revocations
    refresh_ttl_s: int

    async def start(self, user: User) -> Tokens:
        return await self._grant(user, new_session_id())

    async def refresh(self, refresh_token: str) -> Tokens:
        grant = await self.refresh_tokens.use(refresh_token_hash(refresh_token))
        if grant is None:
            raise InvalidRefreshToken
        if grant.reused:
            await self.end(grant.user_id, grant.session_id)
            raise RefreshTokenReused
        user = await self.users.get(grant.user_id)
        if user is None or not user.is_active:
            await self.end(grant.user_id, grant.session_id)
            raise UserDisabled
        return await self._grant(user, grant.session_id)

    async def end(self, user_id: int, session_id: str) -> None:
        """Log out: the session's access tokens and its refresh token stop working."""
        await self.refresh_tokens.revoke_session(session_id)
        await self.revocations.log_out(user_id, session_id, self.tokens.ttl_s)

    async def _grant(self, user: User, session_id: str) -> Tokens:
        if not user.is_active:
            raise UserDisabled
        version = await self.revocations.version(user.id)
        refresh_token = new_refresh_token()
        await self.refresh_tokens.add(refresh_token_hash(refresh_token), session_id, user.id,
                                      self.refresh_ttl_s)
        return {
            "access_token": self.tokens.issue(user, session_id, version),
            "token_type": "Bearer",
            "expires_in": self.tokens.ttl_s,
            "refresh_token": refresh_token,
            "refresh_expires_in": self.refresh_ttl_s,
            "user": user.public(),
        }


@dataclass(frozen=True, slots=True)
class Logins:
    """Logging in by password or SMS code. Every try takes a failure slot of the address
    (`address_failures`; for passwords also of the phone, `phone_failures`) before the slow
    or single-use check, so parallel guesses cannot all pass a limit they have not yet counted
    against; a right answer gives the slots back. Each code also has its own tries."""

    users: UserRepository
    sessions: Sessions
    passwords: Passwords
    codes: SmsCodeStore
    outbox: SmsOutbox
    address_failures: WindowLimiter
    phone_failures: WindowLimiter

    async def with_password(self, phone: str, password: str, client_ip: str) -> Tokens:
        await self._take_address_slot(client_ip)
        retry_after = await self.phone_failures.hit(phone)
        if retry_after is not None:
            raise TooManyWrongPasswords(retry_after)
        user = await self.users.by_phone(phone)
        # Verified even for an unknown phone, so the answer's timing does not tell phones
        # apart; a user made by code login has no hash, so no password ever matches.
        matched = await self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not matched:
            raise InvalidCredentials("password")
        await self.address_failures.release(client_ip)
        await self.phone_failures.release(phone)
        return await self.sessions.start(user)

    async def request_code(self, phone: str, client_ip: str, correlation_id: str | None) -> None:
        """Make a code and hand it to the SMS sender; a code that could not be handed over
        is withdrawn, so the user may ask again at once."""
        code = await self.codes.issue(phone, client_ip)
        try:
            await self.outbox.send(phone, LOGIN_CODE_TEMPLATE, {"code": code}, correlation_id)
        except Exception:
            await self.codes.withdraw(phone)
            raise

    async def with_code(self, phone: str, code: str, client_ip: str) -> Tokens:
        """A right code logs in; a phone seen for the first time becomes a user."""
        await self._take_address_slot(client_ip)
        if not await self.codes.check(phone, code):
            raise InvalidCredentials("code")
        await self.address_failures.release(client_ip)
        user = await self.users.get_or_add(phone, roles_for(admin=False))
        return await self.sessions.start(user)

    async def _take_address_slot(self, client_ip: str) -> None:
        """One address guessing passwords or codes across many phones is stopped here."""
        retry_after = await self.address_failures.hit(client_ip)
        if retry_after is not None:
            raise TooManyFailedLogins(retry_after)


@dataclass(frozen=True, slots=True)
class Accounts:
    """What operators do to users (`coursestream users add/set`, the demo data)."""

    users: UserRepository
    refresh_tokens: RefreshTokenStore
    revocations: Revocations
    passwords: Passwords

    async def add(self, new: NewUser) -> User:
        """A user with a password (PhoneTaken when the phone has one)."""
        return await self.users.add(new.phone, roles_for(new.admin),
                                    await self.passwords.hash(new.password))

    async def change(
        self, phone: str, *, active: bool | None = None, admin: bool | None = None
    ) -> User | None:
        """Disable or enable a user or change their roles. Every access token the user holds
        stops working at once (within each service's revocation cache); disabling also ends
        their sessions, while after a change of roles a refresh gives a token with the new
        ones. None when the phone has no user."""
        user = await self.users.by_phone(phone)
        if user is None:
            return None
        roles = None if admin is None else roles_for(admin)
        changed = await self.users.update(user.id, is_active=active, roles=roles)
        await self.revocations.revoke_user(user.id)
        if active is False:
            await self.refresh_tokens.revoke_user(user.id)
        return changed
