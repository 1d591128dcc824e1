"""Users, roles and the rules of logging in, and the refusals of logging in; plain Python,
no I/O."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated, ClassVar

from pydantic import BaseModel, StringConstraints
from typing_extensions import TypedDict

from shared.errors import AlreadyExists, DomainError, Unavailable

USER = "user"
ADMIN = "admin"
ROLES = (USER, ADMIN)

# Mainland China mobile numbers: 11 digits, 1 then 3-9.
PHONE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 128
CODE_LENGTH = 6

Phone = Annotated[str, StringConstraints(pattern=PHONE_PATTERN.pattern)]
Password = Annotated[str, StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
Code = Annotated[str, StringConstraints(pattern=rf"^\d{{{CODE_LENGTH}}}$")]


class PublicUser(TypedDict):
    """What clients see of a user (`User.public`)."""

    id: int
    phone: str
    roles: list[str]


@dataclass(frozen=True, slots=True)
class User:
    id: int
    phone: str
    roles: tuple[str, ...]
    is_active: bool
    created_at: datetime
    password_hash: str | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def public(self) -> PublicUser:
        """What clients see of a user."""
        return {"id": self.id, "phone": self.phone, "roles": list(self.roles)}


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """What a used refresh token stood for; `reused` when it had been used before."""

    session_id: str
    user_id: int
    reused: bool


Network = IPv4Network | IPv6Network


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str:
    """The address a request comes from, for per-address limits: the peer, unless the peer is
    a trusted proxy (a load balancer in front of the gateway); then the right-most address of
    `X-Forwarded-For` that is not a trusted proxy. Entries further left may be the client's own
    inventions, so they are never used; a malformed entry stops the walk at the proxy that
    passed it on."""
    if peer is None:
        return "unknown"
    hops = [h.strip() for h in forwarded_for.split(",")] if forwarded_for and trusted else []
    address = peer
    for hop in [peer, *reversed(hops)]:
        try:
            ip = ip_address(hop)
        except ValueError:
            return address
        address = str(ip)
        if not any(ip in network for network in trusted):
            return address
    return address


def roles_for(admin: bool) -> tuple[str, ...]:
    return (USER, ADMIN) if admin else (USER,)


def new_code() -> str:
    """A login code: CODE_LENGTH digits from the secrets module."""
    return f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


def new_session_id() -> str:
    return secrets.token_hex(16)


def new_refresh_token() -> str:
    """256 random bits; only its `refresh_token_hash` is stored."""
    return secrets.token_urlsafe(32)


def refresh_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class NewUser(BaseModel):
    """A user added by an operator (`coursestream users add`)."""

    phone: Phone
    password: Password
    admin: bool = False


class InvalidCredentials(DomainError):
    """Wrong phone, password or code: one answer for all, so phones cannot be probed."""

    def __init__(self, proof: str) -> None:  # "password" or "code"
        super().__init__(f"Wrong phone or {proof}.")


class UserDisabled(DomainError):
    def __init__(self) -> None:
        super().__init__("This account is disabled.")


class InvalidRefreshToken(DomainError):
    """Never issued, expired or revoked."""

    def __init__(
        self, detail: str = "This refresh token is unknown, expired or revoked; log in again."
    ) -> None:
        super().__init__(detail)


class RefreshTokenReused(InvalidRefreshToken):
    """Used before: a copy, so its session is ended."""

    def __init__(self) -> None:
        super().__init__("This refresh token was used before, so it may have been copied; "
                         "its session is ended. Log in again.")


class LoginUnavailable(Unavailable):
    """Redis (codes, failure counts, sessions) cannot answer; the same request may work
    shortly."""

    def __init__(self) -> None:
        super().__init__("Logging in is unavailable; try again shortly.", retry_after_s=5)


class VerifierBusy(LoginUnavailable):
    """This process is already checking as many passwords as it may; try again shortly."""


class PhoneTaken(AlreadyExists):
    def __init__(self, phone: str) -> None:
        super().__init__(f"A user with phone {phone} already exists.")
        self.phone = phone


class RetryLater(DomainError):
    """Refused for now; `retry_after_s` says when to try again. Each kind says why in
    `sentence`, where `{s}` is the wait."""

    sentence: ClassVar[str] = "Retry in {s} s."

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(self.sentence.format(s=retry_after_s), retry_after_s=retry_after_s)


class CodeCoolingDown(RetryLater):
    """A code was sent to this phone less than the cooldown ago."""

    sentence = "A code was sent to this phone recently; retry in {s} s."


class TooManyCodeRequests(RetryLater):
    """The caller's address asked for too many codes in the window."""

    sentence = "Too many codes asked from this address; retry in {s} s."


class TooManyCodesForPhone(RetryLater):
    """This phone was sent its day's worth of codes."""

    sentence = "This phone was sent today's codes; retry in {s} s or log in with a password."


class TooManyFailedLogins(RetryLater):
    """The caller's address failed to log in too often in the window."""

    sentence = "Too many failed logins from this address; retry in {s} s."


class TooManyWrongPasswords(RetryLater):
    """Wrong passwords for this phone too often in the window (from any address); its owner
    can still log in with an SMS code."""

    sentence = ("Too many wrong passwords for this phone; retry in {s} s or log in with an "
                "SMS code.")
