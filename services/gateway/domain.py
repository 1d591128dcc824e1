"""Users, roles and the rules of logging in; plain Python, no I/O."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

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

    def public(self) -> dict[str, Any]:
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


class NewUser(BaseModel):
    """A user added by an operator (`coursestream users add`)."""

    phone: Phone
    password: Password
    admin: bool = False


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: Annotated[str, StringConstraints(min_length=20, max_length=200)]


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Phone


class TokenRequest(BaseModel):
    """`{"phone","password"}` or `{"phone","code"}`: exactly one way of proving who you are."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone
    password: Password | None = None
    code: Code | None = None

    @model_validator(mode="after")
    def _one_proof(self) -> TokenRequest:
        if (self.password is None) == (self.code is None):
            raise ValueError("give either a password or a code")
        return self


class InvalidCredentials(Exception):
    """Wrong phone, password or code: one answer for all, so phones cannot be probed."""


class UserDisabled(Exception):
    pass


class InvalidRefreshToken(Exception):
    """Never issued, expired, revoked, or (`reused`) used before: a copy, so its session is
    revoked."""

    def __init__(self, reused: bool = False) -> None:
        super().__init__("refresh token reused" if reused else "invalid refresh token")
        self.reused = reused


class VerifierBusy(Exception):
    """This process is already checking as many passwords as it may; try again shortly."""


class PhoneTaken(Exception):
    pass


class RetryLater(Exception):
    """Refused for now; `retry_after_s` says when to try again."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class CodeCoolingDown(RetryLater):
    """A code was sent to this phone less than the cooldown ago."""


class TooManyCodeRequests(RetryLater):
    """The caller's address asked for too many codes in the window."""


class TooManyCodesForPhone(RetryLater):
    """This phone was sent its day's worth of codes."""


class TooManyFailedLogins(RetryLater):
    """The caller's address failed to log in too often in the window."""


class TooManyWrongPasswords(RetryLater):
    """Wrong passwords for this phone too often in the window (from any address); its owner
    can still log in with an SMS code."""
