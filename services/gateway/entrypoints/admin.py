"""The admin site on its own port (8009): /metrics, /healthz, /readyz, never public."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from services.gateway.settings import Settings
from shared.http import METRICS_KEY, READINESS_KEY, add_readiness_check, create_base_app


def admin_site(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx for the public app that runs the admin app beside it, so one
    `coursestream serve gateway` serves both sites."""

    async def ctx(public: web.Application) -> AsyncIterator[None]:
        admin = create_base_app("gateway-admin", expose_metrics=False)
        # The public app's registry and readiness checks, shown here rather than there.
        admin.router.add_get("/metrics", public[METRICS_KEY].handler)
        for name, check in public[READINESS_KEY].items():
            add_readiness_check(admin, name, check)
        runner = web.AppRunner(admin, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.gateway_admin_host, settings.gateway_admin_port)
        await site.start()
        yield
        await runner.cleanup()

    return ctx
