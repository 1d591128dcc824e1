"""Auth use cases, one function each, taking their adapters as arguments."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from services.gateway.adapters.passwords import BoundedVerifier, hash_password
from services.gateway.adapters.rate_limits import WindowLimit
from services.gateway.adapters.repository import UsersRepository
from services.gateway.adapters.sms_codes import SmsCodes
from services.gateway.adapters.tokens import TokenIssuer
from services.gateway.domain import (
    InvalidCredentials,
    NewUser,
    TooManyFailedLogins,
    TooManyWrongPasswords,
    User,
    UserDisabled,
    roles_for,
)
from shared.events import Envelope, publish

SMS_STREAM = "notify.sms"


async def add_user(users: UsersRepository, new: NewUser) -> User:
    """An operator adds a user with a password (PhoneTaken when the phone has one)."""
    return await users.add(new.phone, roles_for(new.admin), await hash_password(new.password))


async def login_with_password(
    users: UsersRepository, issuer: TokenIssuer, verifier: BoundedVerifier,
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
    return token_body(issuer, user)


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
    users: UsersRepository, codes: SmsCodes, issuer: TokenIssuer, failures: WindowLimit,
    client_ip: str, phone: str, code: str,
) -> dict[str, Any]:
    """A right code logs in; a phone seen for the first time becomes a user."""
    await _take_failure_slot(failures, client_ip)
    if not await codes.check(phone, code):
        raise InvalidCredentials
    await failures.release(client_ip)
    user = await users.get_or_add(phone, roles_for(admin=False))
    return token_body(issuer, user)


async def _take_failure_slot(failures: WindowLimit, client_ip: str) -> None:
    """One address guessing passwords or codes across many phones is stopped here; each code
    also has its own tries."""
    retry_after = await failures.hit(client_ip)
    if retry_after is not None:
        raise TooManyFailedLogins(retry_after)


def token_body(issuer: TokenIssuer, user: User) -> dict[str, Any]:
    if not user.is_active:
        raise UserDisabled
    return {
        "access_token": issuer.issue(user),
        "token_type": "Bearer",
        "expires_in": issuer.ttl_s,
        "user": user.public(),
    }
