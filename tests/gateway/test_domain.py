"""Unit tests: input rules, tokens, the headers the proxy sends upstream."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import ip_network

import pytest
from aiohttp.test_utils import make_mocked_request
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from pydantic import ValidationError

from services.gateway.adapters.tokens import TokenIssuer
from services.gateway.app import create_app
from services.gateway.domain import Network, User, client_address, roles_for
from services.gateway.entrypoints.proxy import upstream_headers
from services.gateway.entrypoints.schemas import CodeRequest, TokenRequest
from services.gateway.settings import Settings
from shared.auth import TokenVerifier
from shared.http import CORRELATION_ID_KEY, REQUEST_ID_KEY, TRACEPARENT_KEY
from shared.problems import Problem
from shared.settings import SettingsError
from tests.gateway.conftest import private_pem

USER = User(id=7, phone="13900000000", roles=("user",), is_active=True,
            created_at=datetime.now(UTC))


@pytest.mark.parametrize("phone", ["13000000000", "19999999999", "13800000000"])
def test_mainland_mobile_numbers_are_accepted(phone: str) -> None:
    assert CodeRequest(phone=phone).phone == phone


@pytest.mark.parametrize("phone", ["12000000000", "1380000000", "138000000000", "+8613800000000",
                                   "1380000000a", " 13800000000"])
def test_other_numbers_are_refused(phone: str) -> None:
    with pytest.raises(ValidationError):
        CodeRequest(phone=phone)


def test_a_token_request_needs_exactly_one_proof() -> None:
    assert TokenRequest(phone="13800000000", code="012345").code == "012345"
    assert TokenRequest(phone="13800000000", password="12345678").password == "12345678"
    for bad in ({}, {"password": "12345678", "code": "012345"}, {"code": "12345"},
                {"password": "1234567"}, {"password": "x" * 129}):
        with pytest.raises(ValidationError):
            TokenRequest.model_validate({"phone": "13800000000", **bad})


def test_roles() -> None:
    assert roles_for(admin=False) == ("user",)
    assert roles_for(admin=True) == ("user", "admin")


def test_tokens_verify_with_the_pair_only() -> None:
    issuer = TokenIssuer(private_pem(), "coursestream", 60)
    principal = TokenVerifier(issuer.public_key_pem()).verify(issuer.issue(USER, "s1", 3))
    assert (principal.user_id, principal.phone, principal.roles) == (7, USER.phone, {"user"})
    assert (principal.session_id, principal.token_version) == ("s1", 3)
    other = TokenIssuer(private_pem(), "coursestream", 60)
    with pytest.raises(Problem) as refused:
        TokenVerifier(other.public_key_pem()).verify(issuer.issue(USER, "s1", 0))
    assert refused.value.status == 401
    with pytest.raises(Problem):
        TokenVerifier(issuer.public_key_pem()).verify(
            TokenIssuer(private_pem(), "someone-else", 60).issue(USER, "s1", 0))
    with pytest.raises(Problem):  # another audience
        TokenVerifier(issuer.public_key_pem()).verify(
            TokenIssuer(private_pem(), "coursestream", 60, "other-api").issue(USER, "s1", 0))


def test_production_refuses_development_secrets(tmp_path: object) -> None:
    public = TokenIssuer(private_pem(), "coursestream", 60).public_key_pem()
    no_key = Settings(env="production", jwt_public_key=public, sms_code_secret="s" * 32)
    with pytest.raises(SettingsError, match="JWT_PRIVATE_KEY"):
        create_app(no_key)
    default_secret = Settings(env="production", jwt_public_key=public,
                              jwt_private_key=private_pem())
    with pytest.raises(SettingsError, match="SMS_CODE_SECRET"):
        create_app(default_secret)
    Settings(env="production", jwt_public_key=public, jwt_private_key=private_pem(),
             sms_code_secret="s" * 32).refuse_unsafe_production()


def test_development_signs_with_the_pair_under_var(tmp_path: object) -> None:
    from pathlib import Path

    settings = Settings(var_dir=Path(str(tmp_path)) / "var")
    assert settings.private_key_pem() == settings.private_key_pem()  # made once, then reused
    assert (settings.var_dir / "jwt-public.pem").exists()


@pytest.mark.parametrize("key", [
    Ed25519PrivateKey.generate(),
    generate_private_key(public_exponent=65537, key_size=1024),
], ids=["ed25519", "rsa-1024"])
def test_the_issuer_signs_only_with_rsa_keys_of_2048_bits_or_more(key: PrivateKeyTypes) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    with pytest.raises(ValueError, match="RSA key of at least 2048 bits"):
        TokenIssuer(pem, "coursestream", 600)


def test_upstream_headers_drop_identity_and_hop_by_hop() -> None:
    request = make_mocked_request("GET", "/api/v1/catalog/x", headers={
        "X-User-Id": "1", "X-USER-ROLES": "admin", "Authorization": "Bearer t",
        "Connection": "close, X-Hop", "X-Hop": "1", "Transfer-Encoding": "chunked",
        "Host": "example.com", "Expect": "100-continue",
        "X-Request-ID": "client-sent", "Cookie": "a=b", "traceparent": "client-sent",
    })
    request[REQUEST_ID_KEY] = "rid"
    request[CORRELATION_ID_KEY] = "cid"
    request[TRACEPARENT_KEY] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    headers = upstream_headers(request)
    assert {k.lower() for k in headers} == {
        "authorization", "cookie", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
        "x-request-id", "x-correlation-id", "traceparent",
    }
    assert headers["X-Request-ID"] == "rid"
    assert headers.getall("traceparent") == [request[TRACEPARENT_KEY]]  # the middleware's
    assert headers["X-Forwarded-Host"] == "example.com"


BALANCERS = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]


@pytest.mark.parametrize(("peer", "forwarded_for", "trusted", "expected"), [
    ("198.51.100.7", None, BALANCERS, "198.51.100.7"),  # straight from the client
    ("198.51.100.7", "203.0.113.9", BALANCERS, "198.51.100.7"),  # not from a balancer: ignored
    ("10.0.0.5", "203.0.113.9", [], "10.0.0.5"),  # nothing trusted: XFF never counts
    ("10.0.0.5", "203.0.113.9", BALANCERS, "203.0.113.9"),
    ("10.0.0.5", "1.1.1.1, 203.0.113.9", BALANCERS, "203.0.113.9"),  # the client's own left part
    ("10.0.0.5", "203.0.113.9, 10.1.2.3", BALANCERS, "203.0.113.9"),  # two balancers
    ("fd00::1", "2001:db8::7", BALANCERS, "2001:db8::7"),
    ("10.0.0.5", "203.0.113.9, not-an-address", BALANCERS, "10.0.0.5"),  # malformed: stop
    ("10.0.0.5", "10.9.9.9", BALANCERS, "10.9.9.9"),  # only balancers: the left-most one
    (None, "203.0.113.9", BALANCERS, "unknown"),
])
def test_client_address_believes_forwarded_for_only_from_trusted_proxies(
    peer: str | None, forwarded_for: str | None, trusted: list[Network], expected: str,
) -> None:
    assert client_address(peer, forwarded_for, trusted) == expected


def test_trusted_proxies_come_from_the_environment_as_a_json_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", '["10.0.0.0/8", "fd00::/8"]')
    assert Settings().trusted_proxies == BALANCERS
    monkeypatch.setenv("TRUSTED_PROXIES", '["not-a-network"]')
    with pytest.raises(ValidationError):
        Settings()


def test_replica_urls_come_as_a_json_or_comma_list_else_the_one_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECKILL_URL", "http://10.0.0.9:8002")
    monkeypatch.setenv("UPSTREAM_CATALOG_URLS", '["http://10.0.0.1:8001", "http://10.0.0.2:8001"]')
    monkeypatch.setenv("UPSTREAM_SCHEDULER_URLS", " http://s1:8003 , http://s2:8003 ")
    monkeypatch.setenv("UPSTREAM_DEADLINES_S", '{"seckill": 5}')
    settings = Settings()
    assert settings.replica_urls() == {
        "/api/v1/catalog": ["http://10.0.0.1:8001", "http://10.0.0.2:8001"],
        "/api/v1/seckill": ["http://10.0.0.9:8002"],
        "/api/v1/scheduler": ["http://s1:8003", "http://s2:8003"],
    }
    assert settings.upstream_deadlines_s == {"seckill": 5.0}
    monkeypatch.setenv("UPSTREAM_CATALOG_URLS", "[not json")
    with pytest.raises(ValidationError):
        Settings()


def test_cors_origins_come_from_the_environment_as_a_json_list_of_bare_origins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().cors_allowed_origins == []  # same-origin only
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", '["https://app.example.com", "http://a:5173"]')
    assert Settings().cors_allowed_origins == ["https://app.example.com", "http://a:5173"]
    for refused in ('["*"]', '["https://app.example.com/"]', '["app.example.com"]',
                    '["https://app.example.com/path"]', '"https://app.example.com"'):
        monkeypatch.setenv("CORS_ALLOWED_ORIGINS", refused)
        with pytest.raises(ValidationError):
            Settings()
