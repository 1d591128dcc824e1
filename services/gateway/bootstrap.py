"""The gateway's composition root: every adapter opened once from the settings, the handlers
built on them, all closed again. The HTTP app, the CLI, the demo data and the tests use it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from redis.asyncio import Connection, ConnectionPool, Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.adapters.passwords import BoundedVerifier
from services.gateway.adapters.rate_limits import RateLimit, WindowLimit
from services.gateway.adapters.replicas import Policy
from services.gateway.adapters.repository import RefreshTokensRepository, UsersRepository
from services.gateway.adapters.sms_codes import SmsCodes
from services.gateway.adapters.sms_outbox import SmsOutbox
from services.gateway.adapters.tokens import DeferredIssuer, TokenIssuer
from services.gateway.adapters.upstreams import Upstreams
from services.gateway.handlers import Accounts, Logins, Sessions
from services.gateway.settings import Settings
from shared.auth import Assertions, Revocations, make_assertions
from shared.db import make_engine
from shared.redis import RedisClient, make_redis


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    redis: RedisClient
    users: UsersRepository
    refresh_tokens: RefreshTokensRepository
    revocations: Revocations
    # Signs the principal of each proxied request for its service (None: no key configured).
    assertions: Assertions | None
    passwords: BoundedVerifier
    sms_codes: SmsCodes
    issuer: DeferredIssuer
    # Per route class (entrypoints/limits.py); empty when RATE_LIMITS_ENABLED=false.
    rate_limits: dict[str, RateLimit]
    # The proxy's pooled client (its route table, `settings.upstreams()`, is fixed when the
    # app is made: aiohttp's router is frozen before this opens).
    upstream_session: aiohttp.ClientSession
    # The replicas behind each prefix (adapters/upstreams.py); app.py keeps them checked.
    upstreams: Upstreams
    sessions: Sessions
    logins: Logins
    accounts: Accounts


# Where the HTTP app keeps its runtime (app.py opens it in cleanup_ctx).
RUNTIME_KEY = web.AppKey("runtime", Runtime)


@asynccontextmanager
async def bootstrap(settings: Settings) -> AsyncIterator[Runtime]:
    """The gateway's adapters and handlers, open while the block runs, closed after it."""
    engine = make_engine(settings.database_url)
    redis = make_redis(settings.redis_url) if settings.redis_url else _no_redis(settings)
    upstream_session = _upstream_session(settings)
    try:
        yield _runtime(settings, engine, redis, upstream_session)
    finally:
        await upstream_session.close()
        await redis.aclose()
        await engine.dispose()


def _runtime(
    settings: Settings,
    engine: AsyncEngine,
    redis: RedisClient,
    upstream_session: aiohttp.ClientSession,
) -> Runtime:
    users, refresh_tokens = UsersRepository(engine), RefreshTokensRepository(engine)
    revocations = Revocations(redis, settings.revocation_cache_s)
    passwords = BoundedVerifier(settings.password_checks_concurrency,
                                settings.password_checks_queue)
    issuer = DeferredIssuer(lambda: TokenIssuer(
        settings.private_key_pem(), settings.jwt_issuer, settings.token_ttl_s,
        settings.jwt_audience), settings.token_ttl_s)
    sms_codes = SmsCodes(
        redis, settings.sms_code_secret, ttl_s=settings.sms_code_ttl_s,
        cooldown_s=settings.sms_code_cooldown_s, max_tries=settings.sms_code_max_tries,
        ip_limit=settings.sms_ip_limit, ip_window_s=settings.sms_ip_window_s,
        per_phone_per_day=settings.sms_codes_per_phone_per_day,
        per_ip_per_day=settings.sms_codes_per_ip_per_day,
        failures_per_phone=settings.sms_code_failures_per_phone,
        failures_window_s=settings.sms_code_failures_window_s,
    )
    sessions = Sessions(issuer, users, refresh_tokens, revocations, settings.refresh_token_ttl_s)
    logins = Logins(
        users, sessions, passwords, sms_codes, SmsOutbox(redis),
        address_failures=WindowLimit(redis, "login-failures", settings.login_failures_per_ip,
                                     settings.login_failures_window_s),
        phone_failures=WindowLimit(redis, "password-failures",
                                   settings.password_failures_per_phone,
                                   settings.password_failures_window_s),
    )
    return Runtime(
        settings=settings, engine=engine, redis=redis, users=users,
        refresh_tokens=refresh_tokens, revocations=revocations,
        assertions=make_assertions(settings), passwords=passwords,
        sms_codes=sms_codes, issuer=issuer,
        rate_limits={name: RateLimit(redis, name, policy.quota, policy.window_s)
                     for name, policy in settings.rate_policies().items()},
        upstream_session=upstream_session, upstreams=_upstreams(settings),
        sessions=sessions, logins=logins,
        accounts=Accounts(users, refresh_tokens, revocations, passwords),
    )


def _upstreams(settings: Settings) -> Upstreams:
    return Upstreams(settings.replica_urls(), Policy(
        unhealthy_after=settings.upstream_unhealthy_after,
        healthy_after=settings.upstream_healthy_after,
        eject_after=settings.upstream_eject_after, eject_s=settings.upstream_eject_s,
        eject_max_s=settings.upstream_eject_max_s,
        max_in_flight=settings.upstream_max_in_flight,
        retry_ratio=settings.upstream_retry_ratio,
    ))


def _upstream_session(settings: Settings) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=settings.proxy_pool_limit, limit_per_host=0, keepalive_timeout=30,
        ttl_dns_cache=300,
    )
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=settings.proxy_connect_timeout_s,
        sock_read=settings.proxy_read_timeout_s,
    )
    # auto_decompress off: compressed bodies pass through as the upstream sent them. Only the
    # client's own headers go upstream (set on the session: per request, aiohttp would
    # rebuild the set every time).
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
    )


def _no_redis(settings: Settings) -> RedisClient:
    """Without REDIS_URL: a client that refuses on first use with the settings' own message,
    so what never touches Redis (`users add`, the demo data) runs without it."""

    class Refused(Connection):
        async def _connect(self) -> None:
            settings.require_redis_url()

    return Redis(connection_pool=ConnectionPool(connection_class=Refused))
