"""Server-sent events relayed by the proxy, ended cleanly when the gateway stops first."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import web

# What a stream gets when the gateway stops before its upstream ended it: reconnect (to
# another gateway) or poll. The seckill service ends its own streams with the same event.
SHUTDOWN_EVENT = b"event: shutdown\ndata: {}\n\n"


def is_event_stream(upstream: aiohttp.ClientResponse) -> bool:
    return upstream.content_type == "text/event-stream"


async def relay_events(upstream: aiohttp.ClientResponse, response: web.StreamResponse,
                       stopping: asyncio.Event) -> None:
    """Relay chunks as they come until the upstream ends; when `stopping` is set first (the
    gateway's `Drain`), end with `SHUTDOWN_EVENT`, if the last chunk ended an event (else
    the stream is only cut: an event half sent must not be completed by ours)."""
    at_boundary = True

    async def copy() -> None:
        nonlocal at_boundary
        async for chunk in upstream.content.iter_any():
            at_boundary = False
            await response.write(chunk)
            at_boundary = chunk.endswith(b"\n\n")

    copying = asyncio.ensure_future(copy())
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({copying, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        cut = not copying.done()
        if cut:
            copying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await copying
    if not cut:
        copying.result()  # the upstream's failure or the client's, for the caller to handle
    elif at_boundary:
        await response.write(SHUTDOWN_EVENT)
