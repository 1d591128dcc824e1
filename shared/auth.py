"""JWT checks every service runs itself, with the public key the gateway's signing key pairs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

import jwt
import orjson
from aiohttp import web
from cachetools import TLRUCache, TTLCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import (
    RSAPrivateKey,
    RSAPublicKey,
    generate_private_key,
)
from redis.exceptions import RedisError

from shared.http import REQUEST_ID_KEY
from shared.problems import Problem
from shared.redis import RedisClient
from shared.settings import JWT_ALGORITHM, Settings

PRIVATE_KEY_NAME = "jwt-private.pem"
PUBLIC_KEY_NAME = "jwt-public.pem"
ASSERTION_KEY_NAME = "gateway-assertion.key"
KEY_BITS = 2048
# The gateway's signed word for the principal of a request (`Assertions`); the gateway drops
# any `X-User-*` header a client sends, this one included, and sets its own.
ASSERTION_HEADER = "X-User-Assertion"
ASSERTION_VERSION = 1


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for."""

    user_id: int
    phone: str
    roles: frozenset[str]
    expires_at: float
    session_id: str = ""
    token_version: int = 0

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def token_claims(
    user_id: int, phone: str, roles: tuple[str, ...] | list[str], *, session_id: str,
    token_version: int, ttl_s: int, issuer: str = "coursestream",
    audience: str = "coursestream", now: int | None = None,
) -> dict[str, object]:
    """The claims of an access token, the one shape the gateway signs and services check:
    `sid` is the login session (logging out revokes it), `tv` the user's token version
    (disabling a user or changing their roles moves it on, revoking every older token)."""
    issued = int(time.time()) if now is None else now
    return {
        "sub": str(user_id), "phone": phone, "roles": list(roles), "sid": session_id,
        "tv": token_version, "iss": issuer, "aud": audience, "iat": issued,
        "exp": issued + ttl_s,
    }


def key_id(public_key: RSAPublicKey) -> str:
    """The `kid` of tokens signed by the private half of this key: its RFC 7638 JWK
    thumbprint (SHA-256, base64url), derived from the key so signer and verifier cannot
    disagree on it."""
    numbers = public_key.public_numbers()
    members = {name: _b64(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode()
               for name, value in (("e", numbers.e), ("n", numbers.n))}
    thumbprint = orjson.dumps({"e": members["e"], "kty": "RSA", "n": members["n"]})
    return _b64(hashlib.sha256(thumbprint).digest()).decode()


PEM_PUBLIC_KEY = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


def load_public_keys(pem: str) -> list[RSAPublicKey]:
    """The RSA public keys of a PEM text (none for an empty one, several blocks one after
    the other for several)."""
    blocks = PEM_PUBLIC_KEY.findall(pem)
    if pem.strip() and not blocks:
        raise ValueError("no PEM public key (-----BEGIN PUBLIC KEY-----) in the key text")
    keys = [serialization.load_pem_public_key(block.encode()) for block in blocks]
    for key in keys:
        if not isinstance(key, RSAPublicKey):
            raise ValueError(f"the JWT public keys must be RSA keys ({JWT_ALGORITHM})")
    return keys  # type: ignore[return-value]  # each one checked just above


def _unverified_kid(token: str) -> object:
    """The `kid` of a token's header, unverified (what chooses the key to verify with); None
    when there is none or the header does not parse (PyJWT's decode then says why). Decoded
    here, not by `jwt.get_unverified_header`: that one decodes and checks every segment,
    about 55 µs against 2 µs (a token verify is about 90)."""
    header = token.partition(".")[0]
    try:
        fields = orjson.loads(_unb64(header.encode()))
    except (ValueError, binascii.Error):
        return None
    return fields.get("kid") if isinstance(fields, dict) else None


class TokenVerifier:
    """Verifies bearer tokens (algorithm allow-list, issuer, audience, exp) and caches the result.

    A token is checked with the key its `kid` header names (`key_id`): the current public key
    or one of `previous_public_keys_pem` (during a key rotation, docs/operations.md); a token
    without `kid` (signed before tokens carried one) with the current key; an unknown `kid`
    is refused like any bad token. A token seen before is answered from a bounded cache until
    its own `exp`, so a hot client costs one verify, not one per request. In a service, it
    also holds the check of the gateway's assertions (`current_principal` asks it first).
    """

    def __init__(
        self,
        public_key_pem: str,
        algorithms: tuple[str, ...] = (JWT_ALGORITHM,),
        issuer: str = "coursestream",
        audience: str = "coursestream",
        cache_size: int = 50_000,
        assertions: Assertions | None = None,
        previous_public_keys_pem: str = "",
    ) -> None:
        current = load_public_keys(public_key_pem)
        if len(current) != 1:
            raise ValueError("the JWT public key text must hold exactly one key")
        self._key = current[0]
        self._keys = {key_id(key): key
                      for key in [*load_public_keys(previous_public_keys_pem), self._key]}
        # A service's check of the gateway's assertions; None in the gateway itself (it makes
        # them and never takes one) and where no assertion key is configured.
        self.assertions = assertions
        self._algorithms = list(algorithms)
        self._issuer = issuer
        self._audience = audience
        self._cache: TLRUCache[str, Principal] = TLRUCache(
            maxsize=cache_size, ttu=lambda _token, principal, _now: principal.expires_at,
            timer=time.time,
        )

    def _key_for(self, token: str) -> RSAPublicKey:
        kid = _unverified_kid(token)
        if kid is None:
            return self._key
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise jwt.InvalidKeyError(f"no key with the key id {kid!r}")
        return key

    def verify(self, token: str) -> Principal:
        """Return the token's principal or raise a 401 problem."""
        principal = self._cache.get(token)
        if principal is not None:
            return principal
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "iss", "aud", "sid", "tv"]},
            )
            principal = Principal(
                user_id=int(claims["sub"]),
                phone=str(claims.get("phone", "")),
                roles=frozenset(claims.get("roles", [])),
                expires_at=float(claims["exp"]),
                session_id=str(claims["sid"]),
                token_version=int(claims["tv"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Problem(401, "invalid-token", f"Token rejected: {exc}",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc
        self._cache[token] = principal
        return principal


class Assertions:
    """The gateway's signed, short-lived word for a principal it has just verified and found
    unrevoked, so the service it forwards to need not verify the token and ask Redis again.

    `X-User-Assertion: <base64url JSON>.<base64url HMAC-SHA256>` over [version, user id, phone,
    roles, token expiry, session id, token version, request id, issued at]. A service takes it
    only when the MAC is right (the key is shared by the gateway and the services alone), the
    request id is its own request's (the gateway forwards its X-Request-ID), the token has not
    expired and the assertion was issued within `ttl_s` of now (the service's
    `revocation_cache_s`: the gateway's revocation answer is no older than the answer a
    service's own cache may give). Anything else is ignored: the caller is then checked by
    the bearer token as without a gateway."""

    def __init__(self, key: bytes, ttl_s: float) -> None:
        if len(key) < 32:
            raise ValueError("the gateway assertion key must be at least 32 bytes")
        self._key = key
        self.ttl_s = ttl_s

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()

    def sign(self, principal: Principal, request_id: str, now: float | None = None) -> str:
        issued = time.time() if now is None else now
        body = _b64(orjson.dumps([
            ASSERTION_VERSION, principal.user_id, principal.phone, sorted(principal.roles),
            principal.expires_at, principal.session_id, principal.token_version, request_id,
            round(issued, 3),
        ]))
        return (body + b"." + _b64(self._mac(body))).decode()

    def verify(self, value: str, request_id: str, now: float | None = None) -> Principal | None:
        """The asserted principal, or None for anything not signed, not fresh or not this
        request's."""
        body, _, mac = value.encode().partition(b".")
        try:
            if not hmac.compare_digest(self._mac(body), _unb64(mac)):
                return None
            (version, user_id, phone, roles, expires_at, session_id, token_version,
             asserted_for, issued) = orjson.loads(_unb64(body))
        except (ValueError, TypeError, binascii.Error):  # orjson's JSONDecodeError is a ValueError
            return None
        now = time.time() if now is None else now
        if (version != ASSERTION_VERSION or asserted_for != request_id
                or abs(now - issued) > self.ttl_s or now >= expires_at):
            return None
        return Principal(user_id=user_id, phone=phone, roles=frozenset(roles),
                         expires_at=expires_at, session_id=session_id,
                         token_version=token_version)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


# Revocation state of one user, one hash in one cluster slot: `v` the token version (tokens
# of another version are refused), `s:<session id>` the end of a logged-out session's life.
def revocation_key(user_id: int) -> str:
    return f"auth:{{{user_slot(user_id)}}}"


def user_slot(user_id: int) -> str:
    """The hash tag of a user's keys: other per-user keys (the gateway's rate limits) carry it
    too, to be read with the revocation state in one script on Redis Cluster."""
    return f"u{user_id}"


# Logging out: mark the session, and drop marks that outlived every token they could refuse.
LOG_OUT = """
local now = tonumber(ARGV[2])
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 's:' and tonumber(fields[i + 1]) < now then
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
redis.call('HSET', KEYS[1], 's:' .. ARGV[1], now + tonumber(ARGV[3]))
"""


class Revocations:
    """Which tokens no longer count although they verify: the check every service makes, one
    HMGET per (user, session) and then answered from a short in-process cache, so a revocation
    holds everywhere within `cache_s` seconds. Without Redis nothing can be told apart, so
    authenticated requests are refused with 503 rather than let through."""

    def __init__(self, redis: RedisClient, cache_s: float = 5.0, cache_size: int = 50_000) -> None:
        self._redis = redis
        self._cache: TTLCache[tuple[int, str], list[bytes | None]] = TTLCache(
            maxsize=cache_size, ttl=cache_s, timer=time.monotonic)
        self._log_out = redis.register_script(LOG_OUT)

    async def is_revoked(self, principal: Principal, *, fresh: bool = False) -> bool:
        """True when the token's user version moved on or its session was logged out;
        `fresh` skips the cache (the gateway's own refresh and logout)."""
        cache_key = (principal.user_id, principal.session_id)
        state = None if fresh else self._cache.get(cache_key)
        if state is None:
            key, fields = self.state_fields(principal)
            state = await self._redis.hmget(key, fields)
            self._cache[cache_key] = state
        return self.revoked(principal, *state)

    @staticmethod
    def state_fields(principal: Principal) -> tuple[str, list[str]]:
        """The hash and fields holding the token's revocation state, for a caller that reads
        them in a round trip of its own (the gateway's rate limit): give what it read to
        `revoked`."""
        return revocation_key(principal.user_id), ["v", f"s:{principal.session_id}"]

    @staticmethod
    def revoked(principal: Principal, version: bytes | str | None,
                logged_out: bytes | str | None) -> bool:
        """`is_revoked` on the two fields of `state_fields` as Redis answered them."""
        return logged_out is not None or principal.token_version != int(version or 0)

    async def version(self, user_id: int) -> int:
        """The version new tokens of this user carry."""
        return int(await self._redis.hget(revocation_key(user_id), "v") or 0)

    async def revoke_user(self, user_id: int) -> int:
        """Refuse every token the user holds (disabled, roles changed); the new version."""
        return int(await self._redis.hincrby(revocation_key(user_id), "v", 1))

    async def log_out(self, user_id: int, session_id: str, token_ttl_s: int) -> None:
        """Refuse every access token of this session (they live at most `token_ttl_s`)."""
        await self._log_out(keys=[revocation_key(user_id)],
                            args=[session_id, int(time.time()), token_ttl_s])


VERIFIER_KEY = web.AppKey("token_verifier", TokenVerifier)
REVOCATIONS_KEY = web.AppKey("revocations", Revocations)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def verified_principal(request: web.Request) -> Principal | None:
    """The principal of a token that verifies, revoked or not (None when there is no token);
    the gateway's rate limits key by it. Use `current_principal` to authorise."""
    token = bearer_token(request)
    if token is None:
        return None
    return request.app[VERIFIER_KEY].verify(token)


def asserted_principal(request: web.Request) -> Principal | None:
    """The principal the gateway asserts for this request (`Assertions`), when the service
    checks assertions and this one holds; None otherwise."""
    assertions = request.app[VERIFIER_KEY].assertions
    value = request.headers.get(ASSERTION_HEADER)
    if assertions is None or value is None:
        return None
    return assertions.verify(value, request.get(REQUEST_ID_KEY, ""))


async def current_principal(request: web.Request) -> Principal | None:
    """The caller's principal: the gateway's assertion when one holds (the gateway verified
    the token and its revocation for this very request), else a valid, unrevoked bearer token;
    None when there is neither; a 401 problem for a bad or revoked token."""
    principal = asserted_principal(request)
    if principal is not None:
        return principal
    principal = verified_principal(request)
    if principal is None:
        return None
    try:
        revoked = await request.app[REVOCATIONS_KEY].is_revoked(principal)
    except RedisError as exc:
        raise Problem(503, "unavailable", "Tokens cannot be checked right now; retry shortly.",
                      headers={"Retry-After": "5"}) from exc
    if revoked:
        raise Problem(401, "invalid-token", "This token was revoked; log in again.",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return principal


async def require_user(request: web.Request) -> Principal:
    principal = await current_principal(request)
    if principal is None:
        raise Problem(401, "unauthenticated", "A bearer token is required.",
                      headers={"WWW-Authenticate": "Bearer"})
    return principal


async def require_admin(request: web.Request) -> Principal:
    principal = await require_user(request)
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


def previous_public_keys_pem(settings: Settings) -> str:
    """The public keys tokens may still be signed with during a key rotation (PEM blocks one
    after the other; empty when none): inline, from a file, or none."""
    if settings.jwt_previous_public_keys:
        return settings.jwt_previous_public_keys
    if settings.jwt_previous_public_keys_file:
        return settings.jwt_previous_public_keys_file.read_text()
    return ""


def assertion_key(settings: Settings) -> bytes | None:
    """The gateway assertion key: inline, from a file, in development (and tests) one made once
    under var/; None in production when none is configured (no assertions then)."""
    if settings.gateway_assertion_key:
        return settings.gateway_assertion_key.encode()
    if settings.gateway_assertion_key_file:
        return settings.gateway_assertion_key_file.read_bytes().strip()
    if settings.is_production:
        return None
    path = settings.var_dir / ASSERTION_KEY_NAME
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process is writing it
            if key := path.read_bytes().strip():
                return key
            time.sleep(0.05)
        raise
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_bytes().strip()


def make_assertions(settings: Settings) -> Assertions | None:
    key = assertion_key(settings)
    return None if key is None else Assertions(key, settings.revocation_cache_s)


def make_verifier(settings: Settings) -> TokenVerifier:
    """A service's verifier: bearer tokens, and the gateway's assertions where configured."""
    return TokenVerifier(public_key_pem(settings), settings.jwt_algorithms, settings.jwt_issuer,
                         settings.jwt_audience, assertions=make_assertions(settings),
                         previous_public_keys_pem=previous_public_keys_pem(settings))
