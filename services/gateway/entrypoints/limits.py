"""Rate limits on every public route class, per user (else per client address), by GCRA in
Redis; the answers carry `RateLimit-Policy` and `RateLimit` (IETF httpapi draft), a refusal is
a 429 problem with `Retry-After` too.

Classes: `auth` (logging in, codes, refresh, log out), `attempts` (seckill attempts),
`events` (opening a ticket's event stream), `writes` (any other non-GET API call), `reads`
(GET and HEAD on the API). The web page, health and metrics are not limited.

When Redis cannot be asked, reads go through (the catalog serves them from its own cache;
refusing would take the home page down with Redis) and every other class is refused with 503:
those are what an attacker would flood while the limiter is blind.
"""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.typedefs import Middleware
from redis.exceptions import RedisError

from services.gateway.bootstrap import RUNTIME_KEY
from services.gateway.domain import Network, client_address
from services.gateway.entrypoints.identity import caller
from shared.auth import Revocations, user_slot
from shared.logging import get_logger
from shared.metrics import Handler
from shared.problems import Problem

log = get_logger(__name__)

READS, WRITES, AUTH, ATTEMPTS, EVENTS = "reads", "writes", "auth", "attempts", "events"
FAIL_OPEN = frozenset({READS})

ATTEMPT_PATH = re.compile(r"/api/v1/seckill/items/[^/]+/attempts/?")
EVENTS_PATH = re.compile(r"/api/v1/seckill/tickets/[^/]+/events/?")

def route_class(method: str, path: str) -> str | None:
    """The limit a request counts against, or None for what is not limited."""
    if not path.startswith("/api/"):
        return None
    reading = method in ("GET", "HEAD")
    if path.startswith("/api/v1/auth/") and not reading:
        return AUTH
    if method == "POST" and ATTEMPT_PATH.fullmatch(path):
        return ATTEMPTS
    if reading and EVENTS_PATH.fullmatch(path):
        return EVENTS
    return READS if reading or method == "OPTIONS" else WRITES


def subject(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """`u<user id>` (the hash tag of the user's revocation state) for a token that verifies,
    revoked or not, else `a:<client address>`."""
    principal = caller(request).principal
    if principal is not None:
        return user_slot(principal.user_id)
    return "a:" + client_address(request.remote, request.headers.get("X-Forwarded-For"), trusted)


def rate_limit_middleware(trusted: tuple[Network, ...]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        name = route_class(request.method, request.path)
        limit = request.app[RUNTIME_KEY].rate_limits.get(name) if name is not None else None
        if limit is None:
            return await handler(request)
        # A token's revocation is read in the same round trip (identity.py forwards it).
        found = caller(request)
        revocation = None if found.principal is None else Revocations.state_fields(
            found.principal)
        try:
            decision = await limit.take(subject(request, trusted), revocation)
        except RedisError as exc:
            if name in FAIL_OPEN:
                log.warning("rate limit unchecked (Redis unreachable)", route_class=name)
                return await handler(request)
            raise Problem(503, "unavailable", "This is unavailable for a moment; retry shortly.",
                          headers={"Retry-After": "5"}) from exc
        if found.principal is not None and decision.revocation is not None:
            found.revoked = Revocations.revoked(found.principal, *decision.revocation)
        headers = {"RateLimit-Policy": limit.policy_header, "RateLimit": limit.header(decision)}
        if not decision.allowed:
            raise Problem(429, "rate-limited",
                          f"Too many {name} requests; retry in {decision.retry_after_s} s.",
                          headers={**headers, "Retry-After": str(decision.retry_after_s)})
        response = await handler(request)
        if not response.prepared:  # a streamed answer has sent its headers already
            response.headers.update(headers)
        return response

    return middleware
