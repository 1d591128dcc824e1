"""Auth use cases, one function each, taking their adapters as arguments."""

from __future__ import annotations

from typing import Any

from services.gateway.adapters.passwords import hash_password, verify_password
from services.gateway.adapters.repository import UsersRepository
from services.gateway.adapters.tokens import TokenIssuer
from services.gateway.domain import InvalidCredentials, NewUser, User, UserDisabled, roles_for


async def add_user(users: UsersRepository, new: NewUser) -> User:
    """An operator adds a user with a password (PhoneTaken when the phone has one)."""
    return await users.add(new.phone, roles_for(new.admin), await hash_password(new.password))


async def login_with_password(
    users: UsersRepository, issuer: TokenIssuer, phone: str, password: str
) -> dict[str, Any]:
    user = await users.by_phone(phone)
    if not await verify_password(user.password_hash if user else None, password) or user is None:
        raise InvalidCredentials
    return token_body(issuer, user)


def token_body(issuer: TokenIssuer, user: User) -> dict[str, Any]:
    if not user.is_active:
        raise UserDisabled
    return {
        "access_token": issuer.issue(user),
        "token_type": "Bearer",
        "expires_in": issuer.ttl_s,
        "user": user.public(),
    }
