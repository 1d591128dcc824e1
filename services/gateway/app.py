"""The gateway's HTTP app: proxy, auth, web client, admin site, on the runtime of
`bootstrap.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from services.gateway.bootstrap import RUNTIME_KEY, bootstrap
from services.gateway.entrypoints import asyncapi, auth_http
from services.gateway.entrypoints.admin import admin_site
from services.gateway.entrypoints.compression import compression_middleware
from services.gateway.entrypoints.cors import Cors
from services.gateway.entrypoints.limits import rate_limit_middleware
from services.gateway.entrypoints.openapi import OpenApi
from services.gateway.entrypoints.problems import PROBLEMS
from services.gateway.entrypoints.proxy import Proxy
from services.gateway.entrypoints.web import add_web_routes
from services.gateway.settings import Settings
from shared.auth import REVOCATIONS_KEY, VERIFIER_KEY, TokenVerifier, previous_public_keys_pem
from shared.http import (
    METRICS_KEY,
    add_readiness_check,
    create_base_app,
    database_check,
    redis_check,
)


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    settings.refuse_unsafe_production()
    app = create_base_app("gateway", problems=PROBLEMS, expose_metrics=False,
                          client_max_size=settings.gateway_max_body_bytes)
    app.middlewares.append(rate_limit_middleware(tuple(settings.trusted_proxies)))
    app.middlewares.append(compression_middleware)
    cors = Cors(settings.cors_allowed_origins)
    cors.setup(app)
    proxy = Proxy(settings)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        settings.require_redis_url()
        async with bootstrap(settings) as runtime:
            app[RUNTIME_KEY] = runtime
            app[REVOCATIONS_KEY] = runtime.revocations
            # Verified with the public half of our own key, so the pair can never mismatch,
            # and during a rotation with the previous keys too (tokens signed before it).
            app[VERIFIER_KEY] = TokenVerifier(
                runtime.issuer.public_key_pem(), settings.jwt_algorithms, settings.jwt_issuer,
                settings.jwt_audience,
                previous_public_keys_pem=previous_public_keys_pem(settings),
            )
            proxy.use(runtime.upstream_session, runtime.upstreams)
            add_readiness_check(app, "database", database_check(runtime.engine))
            add_readiness_check(app, "redis", redis_check(runtime.redis))
            async with runtime.upstreams.watched(
                runtime.upstream_session, app[METRICS_KEY].registry,
                settings.upstream_check_every_s, settings.upstream_check_timeout_s,
                settings.upstream_dns_refresh_s,
            ):
                yield

    app.cleanup_ctx.extend([resources, admin_site(settings)])
    auth_http.setup_routes(app)
    OpenApi(settings.replica_urls(), proxy.get_json, cors).add_routes(app)
    asyncapi.add_routes(app)
    proxy.add_routes(app)
    add_web_routes(app, settings.web_dist_dir, settings.web_media_dir, settings.public_base_url)
    return app
