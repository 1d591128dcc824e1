"""Access tokens: EdDSA JWTs signed with the gateway's private key."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.gateway.domain import User


class TokenIssuer:
    """Signs the claims `shared.auth.TokenVerifier` checks: sub, phone, roles, iss, iat, exp."""

    def __init__(self, private_key_pem: str, issuer: str, ttl_s: int) -> None:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the JWT private key must be an Ed25519 key (EdDSA)")
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
        return jwt.encode(claims, self._key, algorithm="EdDSA")
