"""Settings refuse unsafe production set-ups; tokens are checked with an allow-list and cached."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from shared.auth import TokenVerifier, ensure_dev_keypair, public_key_pem
from shared.problems import Problem
from shared.settings import Settings


def keypair() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


def token(key: object, **claims: object) -> str:
    base = {"sub": "7", "phone": "13900000000", "roles": ["user"], "iss": "coursestream",
            "exp": int(time.time()) + 60}
    return jwt.encode({**base, **claims}, key, algorithm="EdDSA")  # type: ignore[arg-type]


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
        lambda key, other: jwt.encode({"sub": "7", "iss": "coursestream",
                                       "exp": int(time.time()) + 60}, "k" * 32,
                                      algorithm="HS256"),  # algorithm not allowed
        lambda key, other: "not-a-token",
    ],
    ids=["other-key", "expired", "issuer", "hs256", "garbage"],
)
def test_verifier_rejects_bad_tokens_with_401(make) -> None:  # type: ignore[no-untyped-def]
    key, public = keypair()
    other, _ = keypair()
    with pytest.raises(Problem) as raised:
        TokenVerifier(public).verify(make(key, other))
    assert raised.value.status == 401
