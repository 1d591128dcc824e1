"""Access tokens: RS256 JWTs signed with the gateway's private key."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import jwt
from cryptography.hazmat.primitives import serialization

from services.gateway.domain import User
from shared.auth import KEY_BITS, is_signing_key, key_id, token_claims
from shared.settings import JWT_ALGORITHM


class TokenIssuer:
    """Signs the claims `shared.auth.TokenVerifier` checks (`shared.auth.token_claims`), with
    the key's `kid` (`shared.auth.key_id`) in the header: what lets verifiers hold the
    previous key beside this one during a rotation."""

    def __init__(
        self, private_key_pem: str, issuer: str, ttl_s: int, audience: str = "coursestream"
    ) -> None:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        if not is_signing_key(key):
            raise ValueError(f"the JWT private key must be an RSA key of at least {KEY_BITS} "
                             f"bits ({JWT_ALGORITHM})")
        self._key = key
        self._headers = {"kid": key_id(key.public_key())}
        self._issuer, self._audience = issuer, audience
        self.ttl_s = ttl_s

    def public_key_pem(self) -> str:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def issue(self, user: User, session_id: str, token_version: int) -> str:
        claims = token_claims(
            user.id, user.phone, user.roles, session_id=session_id, token_version=token_version,
            ttl_s=self.ttl_s, issuer=self._issuer, audience=self._audience,
        )
        return jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM, headers=self._headers)


class DeferredIssuer:
    """A TokenIssuer made on first use: what never signs (`coursestream users add`, the demo
    data) never reads the signing key, so it runs where there is none (a container with only
    the database settings). The app asks for the public key at start, so a bad key stops it
    there."""

    def __init__(self, make: Callable[[], TokenIssuer], ttl_s: int) -> None:
        self._make = make
        self.ttl_s = ttl_s

    @cached_property
    def _issuer(self) -> TokenIssuer:
        return self._make()

    def public_key_pem(self) -> str:
        return self._issuer.public_key_pem()

    def issue(self, user: User, session_id: str, token_version: int) -> str:
        return self._issuer.issue(user, session_id, token_version)
