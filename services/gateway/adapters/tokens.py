"""Access tokens: RS256 JWTs signed with the gateway's private key."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives import serialization

from services.gateway.domain import User
from shared.auth import KEY_BITS, is_signing_key
from shared.settings import JWT_ALGORITHM


class TokenIssuer:
    """Signs the claims `shared.auth.TokenVerifier` checks: sub, phone, roles, iss, iat, exp."""

    def __init__(self, private_key_pem: str, issuer: str, ttl_s: int) -> None:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        if not is_signing_key(key):
            raise ValueError(f"the JWT private key must be an RSA key of at least {KEY_BITS} "
                             f"bits ({JWT_ALGORITHM})")
        self._key = key
        self._issuer = issuer
        self.ttl_s = ttl_s

    def public_key_pem(self) -> str:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def issue(self, user: User) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user.id), "phone": user.phone, "roles": list(user.roles),
            "iss": self._issuer, "iat": now, "exp": now + self.ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM)
