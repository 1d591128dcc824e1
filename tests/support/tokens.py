"""Tokens signed as the gateway signs them (EdDSA, issuer, exp), with a key pair of the test's
own; services under test get `public_pem` through their `jwt_public_key` setting."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class Tokens:
    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()
        self.public_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def token(self, user_id: int, *roles: str) -> str:
        claims = {"sub": str(user_id), "iss": "coursestream", "roles": list(roles),
                  "phone": f"139{user_id:08d}", "exp": int(time.time()) + 3600}
        return jwt.encode(claims, self._key, algorithm="EdDSA")

    def headers(self, user_id: int, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, *roles)}"}
