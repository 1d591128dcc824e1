"""The gateway's composition root: proxy, auth, web client, admin site."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from services.gateway import handlers
from services.gateway.adapters.passwords import BoundedVerifier
from services.gateway.adapters.rate_limits import RateLimit, WindowLimit
from services.gateway.adapters.repository import RefreshTokensRepository, UsersRepository
from services.gateway.adapters.sms_codes import SmsCodes
from services.gateway.adapters.tokens import TokenIssuer
from services.gateway.entrypoints import auth_http
from services.gateway.entrypoints.admin import admin_site
from services.gateway.entrypoints.limits import LIMITS_KEY, rate_limit_middleware
from services.gateway.entrypoints.openapi import OpenApi
from services.gateway.entrypoints.proxy import Proxy
from services.gateway.entrypoints.web import add_web_routes
from services.gateway.settings import Settings
from shared.auth import REVOCATIONS_KEY, VERIFIER_KEY, Revocations, TokenVerifier
from shared.db import make_engine
from shared.http import add_readiness_check, create_base_app, database_check, redis_check
from shared.redis import make_redis


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    settings.refuse_unsafe_production()
    app = create_base_app("gateway", expose_metrics=False,
                          client_max_size=settings.gateway_max_body_bytes)
    issuer = TokenIssuer(settings.private_key_pem(), settings.jwt_issuer, settings.token_ttl_s,
                         settings.jwt_audience)
    app[auth_http.TRUSTED_PROXIES_KEY] = tuple(settings.trusted_proxies)
    app.middlewares.append(rate_limit_middleware(tuple(settings.trusted_proxies)))
    app[auth_http.PASSWORD_VERIFIER_KEY] = BoundedVerifier(
        settings.password_checks_concurrency, settings.password_checks_queue)
    # Verified with the public half of our own key, so the pair can never mismatch here.
    app[VERIFIER_KEY] = TokenVerifier(
        issuer.public_key_pem(), settings.jwt_algorithms, settings.jwt_issuer,
        settings.jwt_audience,
    )

    async def resources(app: web.Application) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        client = make_redis(settings.require_redis_url())
        app[auth_http.USERS_KEY] = UsersRepository(engine)
        app[auth_http.REDIS_KEY] = client
        app[LIMITS_KEY] = {name: RateLimit(client, name, policy.quota, policy.window_s)
                           for name, policy in settings.rate_policies().items()}
        app[REVOCATIONS_KEY] = revocations = Revocations(client, settings.revocation_cache_s)
        app[auth_http.SESSIONS_KEY] = handlers.Sessions(
            issuer, RefreshTokensRepository(engine), revocations, settings.refresh_token_ttl_s)
        app[auth_http.SMS_CODES_KEY] = SmsCodes(
            client, settings.sms_code_secret, ttl_s=settings.sms_code_ttl_s,
            cooldown_s=settings.sms_code_cooldown_s, max_tries=settings.sms_code_max_tries,
            ip_limit=settings.sms_ip_limit, ip_window_s=settings.sms_ip_window_s,
            per_phone_per_day=settings.sms_codes_per_phone_per_day,
            per_ip_per_day=settings.sms_codes_per_ip_per_day,
            failures_per_phone=settings.sms_code_failures_per_phone,
            failures_window_s=settings.sms_code_failures_window_s,
        )
        app[auth_http.LOGIN_FAILURES_KEY] = WindowLimit(
            client, "login-failures", settings.login_failures_per_ip,
            settings.login_failures_window_s,
        )
        app[auth_http.PASSWORD_FAILURES_KEY] = WindowLimit(
            client, "password-failures", settings.password_failures_per_phone,
            settings.password_failures_window_s,
        )

        add_readiness_check(app, "database", database_check(engine))
        add_readiness_check(app, "redis", redis_check(client))
        yield
        await client.aclose()
        await engine.dispose()

    proxy = Proxy(settings)
    app.cleanup_ctx.extend(
        [resources, proxy.session_ctx, admin_site(settings)]
    )
    auth_http.setup_routes(app)
    OpenApi(settings.upstreams(), proxy.get_json).add_routes(app)
    proxy.add_routes(app)
    add_web_routes(app, settings.web_dist_dir, settings.web_media_dir, settings.public_base_url)
    return app
