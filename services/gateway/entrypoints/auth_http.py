"""`/api/v1/auth/...`: tokens by password or SMS code, and who am I. Refusals are domain
errors, answered by `entrypoints/problems.py`."""

from __future__ import annotations

from functools import wraps

from aiohttp import web
from redis.exceptions import RedisError

from services.gateway.bootstrap import RUNTIME_KEY
from services.gateway.domain import LoginUnavailable, client_address
from services.gateway.entrypoints.schemas import (
    CodeRequest,
    CodeSent,
    Me,
    RefreshRequest,
    TokenRequest,
)
from shared.auth import require_user
from shared.http import CORRELATION_ID_KEY, json_response, parse_body
from shared.metrics import Handler
from shared.problems import Problem

PREFIX = "/api/v1/auth"


def _client(request: web.Request) -> str:
    trusted = request.app[RUNTIME_KEY].settings.trusted_proxies
    return client_address(request.remote, request.headers.get("X-Forwarded-For"), trusted)


def _redis_unavailable(handler: Handler) -> Handler:
    """Redis (codes, failure counts, revocations) not answering: LoginUnavailable."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RedisError as exc:
            raise LoginUnavailable from exc

    return wrapped


@_redis_unavailable
async def request_code(request: web.Request) -> web.StreamResponse:
    body = await parse_body(request, CodeRequest)
    runtime = request.app[RUNTIME_KEY]
    await runtime.logins.request_code(body.phone, _client(request),
                                      request.get(CORRELATION_ID_KEY))
    settings = runtime.settings
    sent: CodeSent = {"expires_in": settings.sms_code_ttl_s,
                      "resend_after": settings.sms_code_cooldown_s}
    return json_response(sent, status=202)


@_redis_unavailable
async def create_token(request: web.Request) -> web.StreamResponse:
    body = await parse_body(request, TokenRequest)
    logins, client_ip = request.app[RUNTIME_KEY].logins, _client(request)
    if body.password is not None:
        token = await logins.with_password(body.phone, body.password, client_ip)
    else:
        assert body.code is not None  # TokenRequest holds exactly one of the two
        token = await logins.with_code(body.phone, body.code, client_ip)
    return json_response(token)


@_redis_unavailable
async def refresh_token(request: web.Request) -> web.StreamResponse:
    """A refresh token for a new pair; the one given is used up."""
    body = await parse_body(request, RefreshRequest)
    token = await request.app[RUNTIME_KEY].sessions.refresh(body.refresh_token)
    return json_response(token)


@_redis_unavailable
async def log_out(request: web.Request) -> web.StreamResponse:
    """End the bearer token's session: its access tokens and its refresh token stop working."""
    principal = await require_user(request)
    await request.app[RUNTIME_KEY].sessions.end(principal.user_id, principal.session_id)
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    principal = await require_user(request)
    user = await request.app[RUNTIME_KEY].users.get(principal.user_id)
    if user is None or not user.is_active:
        raise Problem(401, "invalid-token", "The token's user no longer exists or is disabled.",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    found: Me = {**user.public(), "created_at": user.created_at.isoformat()}
    return json_response(found)


async def _no_store(request: web.Request, response: web.StreamResponse) -> None:
    """Tokens, codes and who is logged in: no cache keeps any auth answer, refusals too."""
    if request.path.startswith(f"{PREFIX}/"):
        response.headers["Cache-Control"] = "no-store"


def setup_routes(app: web.Application) -> None:
    app.on_response_prepare.append(_no_store)
    app.router.add_post(f"{PREFIX}/sms-codes", request_code)
    app.router.add_post(f"{PREFIX}/tokens", create_token)
    app.router.add_post(f"{PREFIX}/tokens/refresh", refresh_token)
    app.router.add_post(f"{PREFIX}/logout", log_out)
    app.router.add_get(f"{PREFIX}/me", me)
