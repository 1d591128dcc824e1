"""Tokens signed as the gateway signs them (RS256, `shared.auth.token_claims`), with a key
pair of the test's own; services under test get `public_pem` through their `jwt_public_key`
setting."""

from __future__ import annotations

import jwt
from cryptography.hazmat.primitives import serialization

from shared.auth import new_signing_key, token_claims
from shared.settings import JWT_ALGORITHM


class Tokens:
    def __init__(self) -> None:
        self._key = new_signing_key()
        self.public_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def token(self, user_id: int, *roles: str) -> str:
        claims = token_claims(user_id, f"139{user_id:08d}", roles, session_id=f"s{user_id}",
                              token_version=0, ttl_s=3600)
        return jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM)

    def headers(self, user_id: int, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, *roles)}"}
