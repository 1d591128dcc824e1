"""One way to run a stream worker process (the order writer, the SMS sender): logging once,
its /metrics and /healthz on their own port, the worker's context open until SIGTERM or
SIGINT, then closed within SHUTDOWN_TIMEOUT_S (FastStream stops reading and lets the entries
in hand finish; past the deadline the process exits anyway, and unacknowledged entries are
read again)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

from aiohttp import web
from prometheus_client import CollectorRegistry

from shared.http import healthz, no_server_header
from shared.logging import configure_logging, get_logger
from shared.metrics import exposition
from shared.settings import Settings

log = get_logger(__name__)


async def run_worker(
    name: str,
    settings: Settings,
    registry: CollectorRegistry,
    metrics_port: int,
    worker: AbstractAsyncContextManager[object],
) -> None:
    """Serve `registry` on `metrics_port` (0: not at all), enter `worker`, wait for a stop
    signal, leave it (its exit drains and closes what it opened)."""
    configure_logging(name, settings.log_level, settings.log_json)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        # Entered first, so it closes last: the worker's figures are readable while it drains.
        await stack.enter_async_context(
            serve_metrics(registry, settings.worker_metrics_host, metrics_port))
        await stack.enter_async_context(worker)
        log.info("worker running", worker=name)
        await stop.wait()
        log.info("worker stopping", worker=name)
        try:
            async with asyncio.timeout(settings.shutdown_timeout_s):
                await stack.aclose()
        except TimeoutError:
            log.warning("stop deadline passed; exiting with work unfinished", worker=name)
    log.info("worker stopped", worker=name)


@contextlib.asynccontextmanager
async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> AsyncIterator[None]:
    """A worker's `/metrics` and `/healthz` on `host:port` (0: none), on the worker's own event
    loop, so a worker whose loop is stuck stops answering, as a service would."""
    if not port:
        yield
        return

    async def metrics(request: web.Request) -> web.Response:
        return exposition(registry)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.on_response_prepare.append(no_server_header)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield
    finally:
        await runner.cleanup()
