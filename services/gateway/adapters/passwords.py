"""Password hashing with Argon2id (argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.gateway.domain import VerifierBusy

_hasher = PasswordHasher()
# Verified against when there is no hash (an unknown phone, or a user made by SMS-code login
# who has no password), so every failure takes the same time. Its plaintext is random and
# never kept, and a match against it is a failure all the same.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(32))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True only when there is a hash and the password matches it; the same cost either way."""
    try:
        matched = await asyncio.to_thread(_hasher.verify, password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


class BoundedVerifier:
    """`verify_password`, at most `concurrency` at once in this process (each costs 64 MiB and
    tens of milliseconds of a core) and at most `queue` more waiting; past that VerifierBusy,
    so a flood of logins cannot exhaust the memory or the cores."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._room = concurrency + queue
        self._inside = 0

    async def hash(self, password: str) -> str:
        """Hashing is for operators adding users, never on a request, so it is not bounded."""
        return await hash_password(password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        if self._inside >= self._room:
            raise VerifierBusy
        self._inside += 1
        try:
            async with self._slots:
                return await verify_password(password_hash, password)
        finally:
            self._inside -= 1
