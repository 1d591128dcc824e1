"""JWT checks every service runs itself, with the public key the gateway's signing key pairs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

import jwt
from aiohttp import web
from cachetools import TLRUCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key

from shared.problems import Problem
from shared.settings import JWT_ALGORITHM, Settings

PRIVATE_KEY_NAME = "jwt-private.pem"
PUBLIC_KEY_NAME = "jwt-public.pem"
KEY_BITS = 2048


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for."""

    user_id: int
    phone: str
    roles: frozenset[str]
    expires_at: float

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class TokenVerifier:
    """Verifies bearer tokens (algorithm allow-list, issuer, exp) and caches the result.

    A token seen before is answered from a bounded cache until its own `exp`, so a hot client
    costs one verify, not one per request.
    """

    def __init__(
        self,
        public_key_pem: str,
        algorithms: tuple[str, ...] = (JWT_ALGORITHM,),
        issuer: str = "coursestream",
        cache_size: int = 50_000,
    ) -> None:
        self._key = serialization.load_pem_public_key(public_key_pem.encode())
        self._algorithms = list(algorithms)
        self._issuer = issuer
        self._cache: TLRUCache[str, Principal] = TLRUCache(
            maxsize=cache_size, ttu=lambda _token, principal, _now: principal.expires_at,
            timer=time.time,
        )

    def verify(self, token: str) -> Principal:
        """Return the token's principal or raise a 401 problem."""
        principal = self._cache.get(token)
        if principal is not None:
            return principal
        try:
            claims = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=self._algorithms,
                issuer=self._issuer,
                options={"require": ["exp", "sub", "iss"]},
            )
            principal = Principal(
                user_id=int(claims["sub"]),
                phone=str(claims.get("phone", "")),
                roles=frozenset(claims.get("roles", [])),
                expires_at=float(claims["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Problem(401, "invalid-token", f"Token rejected: {exc}",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc
        self._cache[token] = principal
        return principal


VERIFIER_KEY = web.AppKey("token_verifier", TokenVerifier)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_principal(request: web.Request) -> Principal | None:
    """The caller's principal when a valid bearer token is present; None when absent."""
    token = bearer_token(request)
    if token is None:
        return None
    return request.app[VERIFIER_KEY].verify(token)


def require_user(request: web.Request) -> Principal:
    principal = current_principal(request)
    if principal is None:
        raise Problem(401, "unauthenticated", "A bearer token is required.",
                      headers={"WWW-Authenticate": "Bearer"})
    return principal


def require_admin(request: web.Request) -> Principal:
    principal = require_user(request)
    if not principal.is_admin:
        raise Problem(403, "forbidden", "This needs the admin role.")
    return principal


def new_signing_key() -> RSAPrivateKey:
    return generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def is_signing_key(key: object) -> TypeGuard[RSAPrivateKey]:
    return isinstance(key, RSAPrivateKey) and key.key_size >= KEY_BITS


def ensure_dev_keypair(var_dir: Path) -> tuple[Path, Path]:
    """Create the development key pair under var/ once; return (private, public).

    A pair of another kind (the Ed25519 pair of releases before RS256) is replaced: only
    development tokens signed with it stop working."""
    var_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = var_dir / PRIVATE_KEY_NAME, var_dir / PUBLIC_KEY_NAME
    if private_path.exists() and not is_signing_key(
        serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    ):
        private_path.unlink(missing_ok=True)
        public_path.unlink(missing_ok=True)
    if not private_path.exists():
        key = new_signing_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        try:
            fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race; use its key
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            tmp = public_path.with_suffix(".tmp")
            tmp.write_bytes(public)
            tmp.replace(public_path)
    return private_path, public_path


def public_key_pem(settings: Settings) -> str:
    """The verification key: inline, from a file, or the development pair under var/."""
    if settings.jwt_public_key:
        return settings.jwt_public_key
    if settings.jwt_public_key_file:
        return settings.jwt_public_key_file.read_text()
    _, public_path = ensure_dev_keypair(settings.var_dir)
    for _ in range(50):  # the creating process writes the public half just after
        if public_path.exists():
            return public_path.read_text()
        time.sleep(0.05)
    raise FileNotFoundError(public_path)


def make_verifier(settings: Settings) -> TokenVerifier:
    return TokenVerifier(public_key_pem(settings), settings.jwt_algorithms, settings.jwt_issuer)
