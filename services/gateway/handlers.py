"""Auth use cases, one function each, taking their adapters as arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from services.gateway.adapters.passwords import BoundedVerifier, hash_password
from services.gateway.adapters.rate_limits import WindowLimit
from services.gateway.adapters.repository import RefreshTokensRepository, UsersRepository
from services.gateway.adapters.sms_codes import SmsCodes
from services.gateway.adapters.tokens import (
    TokenIssuer,
    new_refresh_token,
    new_session_id,
    refresh_token_hash,
)
from services.gateway.domain import (
    InvalidCredentials,
    InvalidRefreshToken,
    NewUser,
    TooManyFailedLogins,
    TooManyWrongPasswords,
    User,
    UserDisabled,
    roles_for,
)
from shared.auth import Principal, Revocations
from shared.events import Envelope, publish

SMS_STREAM = "notify.sms"


@dataclass(frozen=True, slots=True)
class Sessions:
    """Login sessions: a short access token and a refresh token that is used up by each
    refresh (rotation); a refresh token used twice revokes its whole session."""

    issuer: TokenIssuer
    refresh_tokens: RefreshTokensRepository
    revocations: Revocations
    refresh_ttl_s: int

    async def start(self, user: User) -> dict[str, Any]:
        return await self._grant(user, new_session_id())

    async def refresh(self, users: UsersRepository, refresh_token: str) -> dict[str, Any]:
        grant = await self.refresh_tokens.use(refresh_token_hash(refresh_token))
        if grant is None:
            raise InvalidRefreshToken
        if grant.reused:
            await self._end(grant.user_id, grant.session_id)
            raise InvalidRefreshToken(reused=True)
        user = await users.get(grant.user_id)
        if user is None or not user.is_active:
            await self._end(grant.user_id, grant.session_id)
            raise UserDisabled
        return await self._grant(user, grant.session_id)

    async def log_out(self, principal: Principal) -> None:
        await self._end(principal.user_id, principal.session_id)

    async def _end(self, user_id: int, session_id: str) -> None:
        await self.refresh_tokens.revoke_session(session_id)
        await self.revocations.log_out(user_id, session_id, self.issuer.ttl_s)

    async def _grant(self, user: User, session_id: str) -> dict[str, Any]:
        if not user.is_active:
            raise UserDisabled
        version = await self.revocations.version(user.id)
        refresh_token = new_refresh_token()
        await self.refresh_tokens.add(refresh_token_hash(refresh_token), session_id, user.id,
                                      self.refresh_ttl_s)
        return {
            "access_token": self.issuer.issue(user, session_id, version),
            "token_type": "Bearer",
            "expires_in": self.issuer.ttl_s,
            "refresh_token": refresh_token,
            "refresh_expires_in": self.refresh_ttl_s,
            "user": user.public(),
        }


async def add_user(users: UsersRepository, new: NewUser) -> User:
    """An operator adds a user with a password (PhoneTaken when the phone has one)."""
    return await users.add(new.phone, roles_for(new.admin), await hash_password(new.password))


async def change_user(
    users: UsersRepository, refresh_tokens: RefreshTokensRepository, revocations: Revocations,
    phone: str, *, active: bool | None = None, admin: bool | None = None,
) -> User | None:
    """An operator disables or enables a user or changes their roles. Every access token the
    user holds stops working at once (within each service's revocation cache); disabling also
    ends their sessions, while after a change of roles a refresh gives a token with the new
    ones. None when the phone has no user."""
    user = await users.by_phone(phone)
    if user is None:
        return None
    values: dict[str, Any] = {}
    if active is not None:
        values["is_active"] = active
    if admin is not None:
        values["roles"] = list(roles_for(admin))
    changed = await users.update(user.id, **values)
    await revocations.revoke_user(user.id)
    if active is False:
        await refresh_tokens.revoke_user(user.id)
    return changed


async def login_with_password(
    users: UsersRepository, sessions: Sessions, verifier: BoundedVerifier,
    failures: WindowLimit, phone_failures: WindowLimit, client_ip: str, phone: str,
    password: str,
) -> dict[str, Any]:
    """Each try takes a failure slot of the address and of the phone before the slow check,
    so parallel guesses cannot all pass a limit they have not yet counted against; a right
    password gives both slots back."""
    await _take_failure_slot(failures, client_ip)
    retry_after = await phone_failures.hit(phone)
    if retry_after is not None:
        raise TooManyWrongPasswords(retry_after)
    user = await users.by_phone(phone)
    # Verified even for an unknown phone, so the answer's timing does not tell phones apart.
    matched = await verifier.verify(user.password_hash if user else None, password)
    if user is None or not matched:
        raise InvalidCredentials
    await failures.release(client_ip)
    await phone_failures.release(phone)
    return await sessions.start(user)


async def request_code(
    codes: SmsCodes, redis: Redis, phone: str, client_ip: str, correlation_id: str | None
) -> None:
    """Make a code and hand it to the SMS sender (the scheduler's `sms-sender` group)."""
    code = await codes.issue(phone, client_ip)
    envelope = Envelope(
        type="sms.send", producer="gateway", correlation_id=correlation_id,
        data={"phone": phone, "template": "login_code", "params": {"code": code}},
    )
    try:
        await publish(redis, SMS_STREAM, envelope)
    except Exception:
        await codes.withdraw(phone)
        raise


async def login_with_code(
    users: UsersRepository, codes: SmsCodes, sessions: Sessions, failures: WindowLimit,
    client_ip: str, phone: str, code: str,
) -> dict[str, Any]:
    """A right code logs in; a phone seen for the first time becomes a user."""
    await _take_failure_slot(failures, client_ip)
    if not await codes.check(phone, code):
        raise InvalidCredentials
    await failures.release(client_ip)
    user = await users.get_or_add(phone, roles_for(admin=False))
    return await sessions.start(user)


async def _take_failure_slot(failures: WindowLimit, client_ip: str) -> None:
    """One address guessing passwords or codes across many phones is stopped here; each code
    also has its own tries."""
    retry_after = await failures.hit(client_ip)
    if retry_after is not None:
        raise TooManyFailedLogins(retry_after)
