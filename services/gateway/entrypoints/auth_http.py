"""`/api/v1/auth/...`: tokens by password or SMS code, and who am I."""

from __future__ import annotations

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.gateway import handlers
from services.gateway.adapters.passwords import BoundedVerifier
from services.gateway.adapters.rate_limits import WindowLimit
from services.gateway.adapters.repository import UsersRepository
from services.gateway.adapters.sms_codes import SmsCodes
from services.gateway.domain import (
    CodeCoolingDown,
    CodeRequest,
    InvalidCredentials,
    InvalidRefreshToken,
    Network,
    RefreshRequest,
    TokenRequest,
    TooManyCodeRequests,
    TooManyCodesForPhone,
    TooManyFailedLogins,
    TooManyWrongPasswords,
    UserDisabled,
    VerifierBusy,
    client_address,
)
from shared.auth import require_user
from shared.http import CORRELATION_ID_KEY, json_response, parse_body
from shared.problems import Problem

USERS_KEY = web.AppKey("users", UsersRepository)
SESSIONS_KEY = web.AppKey("sessions", handlers.Sessions)
PASSWORD_VERIFIER_KEY = web.AppKey("password_verifier", BoundedVerifier)
REDIS_KEY = web.AppKey("redis", Redis)
SMS_CODES_KEY = web.AppKey("sms_codes", SmsCodes)
LOGIN_FAILURES_KEY = web.AppKey("login_failures", WindowLimit)
PASSWORD_FAILURES_KEY = web.AppKey("password_failures", WindowLimit)
TRUSTED_PROXIES_KEY = web.AppKey("trusted_proxies", tuple[Network, ...])


def _client(request: web.Request) -> str:
    trusted: tuple[Network, ...] = request.app[TRUSTED_PROXIES_KEY]
    return client_address(request.remote, request.headers.get("X-Forwarded-For"), trusted)

PREFIX = "/api/v1/auth"


async def request_code(request: web.Request) -> web.Response:
    body = await parse_body(request, CodeRequest)
    codes = request.app[SMS_CODES_KEY]
    try:
        await handlers.request_code(codes, request.app[REDIS_KEY], body.phone,
                                    _client(request), request.get(CORRELATION_ID_KEY))
    except TooManyCodeRequests as exc:
        raise Problem(429, "too-many-requests",
                      f"Too many codes asked from this address; retry in {exc.retry_after_s} s.",
                      headers={"Retry-After": str(exc.retry_after_s)}) from exc
    except TooManyCodesForPhone as exc:
        raise Problem(429, "too-many-codes-for-phone",
                      f"This phone was sent today's codes; retry in {exc.retry_after_s} s or "
                      "log in with a password.",
                      headers={"Retry-After": str(exc.retry_after_s)}) from exc
    except CodeCoolingDown as exc:
        raise Problem(429, "code-recently-sent",
                      f"A code was sent to this phone recently; retry in {exc.retry_after_s} s.",
                      headers={"Retry-After": str(exc.retry_after_s)}) from exc
    except RedisError as exc:
        raise _unavailable() from exc
    return json_response({"expires_in": codes.ttl_s, "resend_after": codes.cooldown_s},
                         status=202)


async def create_token(request: web.Request) -> web.Response:
    body = await parse_body(request, TokenRequest)
    users, sessions = request.app[USERS_KEY], request.app[SESSIONS_KEY]
    failures, client_ip = request.app[LOGIN_FAILURES_KEY], _client(request)
    try:
        if body.password is not None:
            token = await handlers.login_with_password(
                users, sessions, request.app[PASSWORD_VERIFIER_KEY], failures,
                request.app[PASSWORD_FAILURES_KEY], client_ip, body.phone, body.password)
        else:
            assert body.code is not None  # TokenRequest holds exactly one of the two
            token = await handlers.login_with_code(
                users, request.app[SMS_CODES_KEY], sessions, failures, client_ip, body.phone,
                body.code)
    except TooManyFailedLogins as exc:
        raise Problem(429, "too-many-failed-logins",
                      f"Too many failed logins from this address; retry in {exc.retry_after_s} s.",
                      headers={"Retry-After": str(exc.retry_after_s)}) from exc
    except TooManyWrongPasswords as exc:
        raise Problem(429, "too-many-wrong-passwords",
                      f"Too many wrong passwords for this phone; retry in {exc.retry_after_s} s "
                      "or log in with an SMS code.",
                      headers={"Retry-After": str(exc.retry_after_s)}) from exc
    except InvalidCredentials as exc:
        what = "password" if body.password is not None else "code"
        raise Problem(401, "invalid-credentials", f"Wrong phone or {what}.") from exc
    except UserDisabled as exc:
        raise Problem(403, "user-disabled", "This account is disabled.") from exc
    except (RedisError, VerifierBusy) as exc:
        raise _unavailable() from exc
    return json_response(token, headers={"Cache-Control": "no-store"})


async def refresh_token(request: web.Request) -> web.Response:
    """A refresh token for a new pair; the one given is used up."""
    body = await parse_body(request, RefreshRequest)
    try:
        token = await request.app[SESSIONS_KEY].refresh(request.app[USERS_KEY],
                                                       body.refresh_token)
    except InvalidRefreshToken as exc:
        if exc.reused:
            raise Problem(401, "refresh-token-reused",
                          "This refresh token was used before, so it may have been copied; "
                          "its session is ended. Log in again.") from exc
        raise Problem(401, "invalid-refresh-token",
                      "This refresh token is unknown, expired or revoked; log in again.") from exc
    except UserDisabled as exc:
        raise Problem(403, "user-disabled", "This account is disabled.") from exc
    except RedisError as exc:
        raise _unavailable() from exc
    return json_response(token, headers={"Cache-Control": "no-store"})


async def log_out(request: web.Request) -> web.Response:
    """End the bearer token's session: its access tokens and its refresh token stop working."""
    principal = await require_user(request)
    try:
        await request.app[SESSIONS_KEY].log_out(principal)
    except RedisError as exc:
        raise _unavailable() from exc
    return web.Response(status=204)


def _unavailable() -> Problem:
    return Problem(503, "unavailable", "Logging in is unavailable; try again shortly.",
                   headers={"Retry-After": "5"})


async def me(request: web.Request) -> web.Response:
    principal = await require_user(request)
    user = await request.app[USERS_KEY].get(principal.user_id)
    if user is None or not user.is_active:
        raise Problem(401, "invalid-token", "The token's user no longer exists or is disabled.",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return json_response({**user.public(), "created_at": user.created_at.isoformat()})


def setup_routes(app: web.Application) -> None:
    app.router.add_post(f"{PREFIX}/sms-codes", request_code)
    app.router.add_post(f"{PREFIX}/tokens", create_token)
    app.router.add_post(f"{PREFIX}/tokens/refresh", refresh_token)
    app.router.add_post(f"{PREFIX}/logout", log_out)
    app.router.add_get(f"{PREFIX}/me", me)
