"""Tokens signed as the gateway signs them (RS256, issuer, exp), with a key pair of the test's
own; services under test get `public_pem` through their `jwt_public_key` setting."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives import serialization

from shared.auth import new_signing_key
from shared.settings import JWT_ALGORITHM


class Tokens:
    def __init__(self) -> None:
        self._key = new_signing_key()
        self.public_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def token(self, user_id: int, *roles: str) -> str:
        claims = {"sub": str(user_id), "iss": "coursestream", "roles": list(roles),
                  "phone": f"139{user_id:08d}", "exp": int(time.time()) + 3600}
        return jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM)

    def headers(self, user_id: int, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, *roles)}"}
