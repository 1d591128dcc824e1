"""Graceful stop of an HTTP service (`coursestream serve`), the same for every service.

On SIGTERM: `/readyz` answers 503 at once (balancers and the gateway's health checks take the
process out) while requests are still served for `DRAIN_S`; then the listening socket closes
(new connections are refused) and requests still uploading their bodies finish the upload
(aiohttp's own stop reads nothing more from a connection it is closing, so a body half
received would never arrive); then aiohttp's runner stops as its docs describe
(`AppRunner.cleanup`): idle keep-alive connections close, `on_shutdown` runs (here:
`Drain.stopping` is set, and open event streams end with a final `shutdown` event), in-flight
requests get until the deadline to finish, then the app's `cleanup_ctx` closes the stream
consumers (FastStream lets the batch in hand finish), Redis and the database. The whole stop
after the drain period is bounded by `SHUTDOWN_TIMEOUT_S`: past it the process exits anyway
(entries not acknowledged are read again by the next process). SIGINT (Ctrl-C) skips the
drain period.
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import StreamReader, web

from shared.logging import get_logger

log = get_logger(__name__)
UPLOAD_POLL_S = 0.05


class Drain:
    """A server's stop, as its handlers see it."""

    def __init__(self) -> None:
        # True from the stop signal on: /readyz answers 503.
        self.draining = False
        # Set when the server stops accepting connections: long answers (event streams)
        # end now, with a final event.
        self.stopping = asyncio.Event()
        # The bodies of the requests being handled (`shared.http.request_middleware` keeps
        # it; a request is not hashable, its body stream is).
        self.in_flight: set[StreamReader] = set()

    def uploading(self) -> int:
        """How many requests in flight have not received their whole body yet."""
        return sum(not body.is_eof() for body in self.in_flight)


DRAIN_KEY = web.AppKey("drain", Drain)


async def _stopping(app: web.Application) -> None:
    app[DRAIN_KEY].stopping.set()


def add_drain(app: web.Application, drain: Drain) -> None:
    """Give `app` its `Drain` (`create_base_app` does, for every service)."""
    app[DRAIN_KEY] = drain
    app.on_shutdown.append(_stopping)


async def _uploads_done(runner: web.AppRunner, drain: Drain) -> None:
    """No new connections, then wait until no request in flight is still receiving its
    body."""
    for site in list(runner.sites):
        await site.stop()
    if drain.uploading():
        log.info("waiting for request bodies still arriving", requests=drain.uploading())
    # Polled: no event says a body is complete, nor that its connection was lost (aiohttp
    # drops a payload's end-of-body callbacks then); a lost one ends its request.
    while drain.uploading():  # noqa: ASYNC110
        await asyncio.sleep(UPLOAD_POLL_S)


async def serve(app: web.Application, host: str, port: int, *, drain_s: float,
                shutdown_timeout_s: float) -> None:
    """Serve `app` until SIGTERM or SIGINT, then stop as the module says."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def on_signal(signum: signal.Signals) -> None:
        if not received.done():  # a second signal changes nothing
            received.set_result(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    from shared.http import AppRunner  # shared.http imports this module

    runner = AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout_s)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        signum = await received
        app[DRAIN_KEY].draining = True
        if signum == signal.SIGTERM and drain_s > 0:
            log.info("draining: not ready, still serving", drain_s=drain_s)
            await asyncio.sleep(drain_s)
        log.info("stopping: no new connections, finishing requests in flight",
                 shutdown_timeout_s=shutdown_timeout_s)
    finally:
        try:
            async with asyncio.timeout(shutdown_timeout_s):
                await _uploads_done(runner, app[DRAIN_KEY])
                await runner.cleanup()
        except TimeoutError:
            log.warning("stop deadline passed; exiting with work unfinished",
                        shutdown_timeout_s=shutdown_timeout_s)
    log.info("stopped")
