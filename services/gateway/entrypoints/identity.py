"""Who is calling, checked once at the edge: the bearer token verified, its revocation read
(in the rate limit's round trip where the route has one, `limits.py`), and the principal
handed to the service behind in a signed assertion (`shared.auth.Assertions`), so the service
checks neither again (docs/gateway.md, "One token check per request")."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from redis.exceptions import RedisError

from services.gateway.bootstrap import RUNTIME_KEY
from shared.auth import Principal, verified_principal
from shared.http import REQUEST_ID_KEY
from shared.problems import Problem


@dataclass(slots=True)
class Caller:
    principal: Principal | None  # of a bearer token that verifies, revoked or not
    revoked: bool | None = None  # None until read


CALLER_KEY = web.RequestKey("caller", Caller)


def caller(request: web.Request) -> Caller:
    """The request's caller, its token verified once however often asked."""
    found = request.get(CALLER_KEY)
    if found is None:
        try:
            principal = verified_principal(request)
        except Problem:
            principal = None  # a bad token: the service behind refuses it (401)
        found = request[CALLER_KEY] = Caller(principal)
    return found


async def assertion(request: web.Request) -> str | None:
    """The `X-User-Assertion` to forward: for a token that verifies and is not revoked, when
    the gateway has an assertion key. Otherwise None, and the service checks the token
    itself (and refuses a bad or revoked one, or answers 503 without Redis)."""
    runtime = request.app[RUNTIME_KEY]
    found = caller(request)
    if runtime.assertions is None or found.principal is None:
        return None
    if found.revoked is None:  # no rate limit read it (RATE_LIMITS_ENABLED=false)
        try:
            found.revoked = await runtime.revocations.is_revoked(found.principal)
        except RedisError:
            return None
    if found.revoked:
        return None
    return runtime.assertions.sign(found.principal, request[REQUEST_ID_KEY])
