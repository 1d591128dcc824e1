"""`/api/v1/auth/...`: tokens by password or SMS code, and who am I."""

from __future__ import annotations

from aiohttp import web

from services.gateway import handlers
from services.gateway.adapters.repository import UsersRepository
from services.gateway.adapters.tokens import TokenIssuer
from services.gateway.domain import InvalidCredentials, TokenRequest, UserDisabled
from shared.auth import require_user
from shared.http import json_response, parse_body
from shared.problems import Problem

USERS_KEY = web.AppKey("users", UsersRepository)
ISSUER_KEY = web.AppKey("token_issuer", TokenIssuer)

PREFIX = "/api/v1/auth"


async def create_token(request: web.Request) -> web.Response:
    body = await parse_body(request, TokenRequest)
    users, issuer = request.app[USERS_KEY], request.app[ISSUER_KEY]
    if body.password is None:
        raise Problem(422, "validation-error", "Log in with a password.")
    try:
        token = await handlers.login_with_password(users, issuer, body.phone, body.password)
    except InvalidCredentials as exc:
        raise Problem(401, "invalid-credentials", "Wrong phone or password.") from exc
    except UserDisabled as exc:
        raise Problem(403, "user-disabled", "This account is disabled.") from exc
    return json_response(token, headers={"Cache-Control": "no-store"})


async def me(request: web.Request) -> web.Response:
    principal = require_user(request)
    user = await request.app[USERS_KEY].get(principal.user_id)
    if user is None or not user.is_active:
        raise Problem(401, "invalid-token", "The token's user no longer exists or is disabled.",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return json_response({**user.public(), "created_at": user.created_at.isoformat()})


def setup_routes(app: web.Application) -> None:
    app.router.add_post(f"{PREFIX}/tokens", create_token)
    app.router.add_get(f"{PREFIX}/me", me)
