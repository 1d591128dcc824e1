"""Settings refuse unsafe production set-ups; tokens are checked with an allow-list and cached."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicNumbers
from jwt.utils import base64url_encode
from pydantic import ValidationError

from shared.auth import (
    TokenVerifier,
    assertion_key,
    ensure_dev_keypair,
    key_id,
    make_verifier,
    new_signing_key,
    public_key_pem,
    token_claims,
)
from shared.problems import Problem
from shared.settings import JWT_ALGORITHM, Settings


def keypair() -> tuple[RSAPrivateKey, str]:
    key = new_signing_key()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


def token(key: object, **claims: object) -> str:
    """A token as the gateway signs it, with `claims` changed (None: left out)."""
    base = token_claims(7, "13900000000", ["user"], session_id="s1", token_version=0, ttl_s=60)
    merged = {name: value for name, value in {**base, **claims}.items() if value is not None}
    return jwt.encode(merged, key, algorithm=JWT_ALGORITHM)  # type: ignore[arg-type]


def hs256_with_public_key(key: RSAPrivateKey) -> str:
    """A token "signed" with HMAC keyed by the verifier's own public key PEM."""
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = b".".join(
        base64url_encode(orjson.dumps(part)) for part in (
            {"alg": "HS256", "typ": "JWT"},
            {"sub": "7", "iss": "coursestream", "exp": int(time.time()) + 60},
        )
    )
    signature = hmac.new(public, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64url_encode(signature)).decode()


def test_production_refuses_the_generated_development_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    with pytest.raises(ValidationError, match="JWT_PUBLIC_KEY"):
        Settings()
    monkeypatch.setenv("JWT_PUBLIC_KEY", keypair()[1])
    assert Settings().is_production


def test_development_key_pair_is_made_once(tmp_path: Path) -> None:
    private, public = ensure_dev_keypair(tmp_path)
    first = public.read_text()
    ensure_dev_keypair(tmp_path)
    assert public.read_text() == first
    assert oct(private.stat().st_mode & 0o777) == "0o600"
    assert public_key_pem(Settings(var_dir=tmp_path)) == first


def test_a_development_key_of_another_kind_is_replaced(tmp_path: Path) -> None:
    """The development pair of releases before RS256 was Ed25519: replaced, not refused."""
    (tmp_path / "jwt-private.pem").write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    (tmp_path / "jwt-public.pem").write_text("stale")
    private, public = ensure_dev_keypair(tmp_path)
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(key, RSAPrivateKey) and key.key_size == 2048
    token_ = token(key)
    assert TokenVerifier(public.read_text()).verify(token_).user_id == 7


def test_verifier_accepts_good_tokens_and_caches_them() -> None:
    key, public = keypair()
    verifier = TokenVerifier(public)
    good = token(key, roles=["user", "admin"])
    principal = verifier.verify(good)
    assert (principal.user_id, principal.is_admin) == (7, True)
    assert verifier.verify(good) is principal  # answered from the cache


@pytest.mark.parametrize(
    "make",
    [
        lambda key, other: token(other),  # signed by another key
        lambda key, other: token(key, exp=int(time.time()) - 5),  # expired
        lambda key, other: token(key, iss="someone-else"),
        lambda key, other: token(key, aud="another-api"),
        lambda key, other: token(key, aud=None),  # no audience
        lambda key, other: token(key, sid=None),  # no session
        lambda key, other: jwt.encode({"sub": "7", "iss": "coursestream",
                                       "exp": int(time.time()) + 60}, "k" * 32,
                                      algorithm="HS256"),  # algorithm not allowed
        lambda key, other: hs256_with_public_key(key),  # the classic algorithm confusion
        lambda key, other: jwt.encode({"sub": "7", "iss": "coursestream",
                                       "exp": int(time.time()) + 60},
                                      Ed25519PrivateKey.generate(), algorithm="EdDSA"),
        lambda key, other: "not-a-token",
    ],
    ids=["other-key", "expired", "issuer", "audience", "no-audience", "no-session", "hs256",
         "hs256-public-key", "eddsa", "garbage"],
)
def test_verifier_rejects_bad_tokens_with_401(make) -> None:  # type: ignore[no-untyped-def]
    key, public = keypair()
    other, _ = keypair()
    with pytest.raises(Problem) as raised:
        TokenVerifier(public).verify(make(key, other))
    assert raised.value.status == 401


@pytest.mark.parametrize("algorithms", [("HS256",), ("RS256", "none"), ("ES256",), ()])
def test_only_rsa_signature_algorithms_may_be_allowed(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError, match="JWT_ALGORITHMS"):
        Settings(jwt_algorithms=algorithms)
    assert Settings(jwt_algorithms=("RS256", "PS256")).jwt_algorithms == ("RS256", "PS256")


def test_the_assertion_key_is_configured_or_made_once_in_development(tmp_path: Path) -> None:
    made = assertion_key(Settings(var_dir=tmp_path))
    assert made is not None and len(made) >= 32
    assert assertion_key(Settings(var_dir=tmp_path)) == made
    assert (tmp_path / "gateway-assertion.key").stat().st_mode & 0o077 == 0
    inline = "s" * 32
    assert assertion_key(Settings(var_dir=tmp_path, gateway_assertion_key=inline)) == \
        inline.encode()
    with pytest.raises(ValidationError):
        Settings(var_dir=tmp_path, gateway_assertion_key="short")


def test_production_without_an_assertion_key_has_no_assertions(tmp_path: Path) -> None:
    """A missing secret costs speed (every service checks tokens itself), never safety."""
    _, public = keypair()
    settings = Settings(env="production", var_dir=tmp_path, jwt_public_key=public)
    assert make_verifier(settings).assertions is None
    assert not (tmp_path / "gateway-assertion.key").exists()
    keyed = settings.model_copy(update={"gateway_assertion_key": "p" * 40})
    assert make_verifier(keyed).assertions is not None


def test_the_key_id_is_the_rfc_7638_thumbprint() -> None:
    # The example key of RFC 7638, section 3.1, and its thumbprint.
    n = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
         "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
         "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
         "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
    modulus = int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big")
    assert key_id(RSAPublicNumbers(65537, modulus).public_key()) == (
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")


def test_previous_keys_are_chosen_by_kid_from_a_file(tmp_path: Path) -> None:
    current, current_pem = keypair()
    (first, first_pem), (second, second_pem) = keypair(), keypair()
    keys_file = tmp_path / "jwt-previous-public.pem"
    keys_file.write_text(first_pem + second_pem)
    settings = Settings(var_dir=tmp_path, jwt_public_key=current_pem,
                        jwt_previous_public_keys_file=keys_file)
    verifier = make_verifier(settings)
    for key in (current, first, second):
        kid = key_id(key.public_key())
        assert verifier.verify(jwt.encode(
            token_claims(7, "13900000000", ["user"], session_id="s1", token_version=0,
                         ttl_s=60), key, algorithm=JWT_ALGORITHM, headers={"kid": kid})
        ).user_id == 7
    # Without kid: the current key only.
    assert verifier.verify(token(current)).user_id == 7
    with pytest.raises(Problem):
        verifier.verify(token(first))
    # An empty file lists none; a kid that is not a string is refused.
    keys_file.write_text("")
    emptied = make_verifier(settings)
    signed = token(first).split(".")
    for bad_kid in (key_id(first.public_key()), 7, ["x"]):
        header = base64url_encode(orjson.dumps({"alg": "RS256", "typ": "JWT", "kid": bad_kid}))
        with pytest.raises(Problem) as raised:
            emptied.verify(".".join([header.decode(), *signed[1:]]))
        assert raised.value.status == 401


@pytest.mark.parametrize("text", ["not a key", "ed25519"])
def test_previous_keys_must_be_rsa_public_keys(text: str) -> None:
    if text == "ed25519":
        text = Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(ValueError, match=r"PEM public key|RSA"):
        TokenVerifier(keypair()[1], previous_public_keys_pem=text)
