"""The reverse proxy: `/api/v1/<service>/...` to that service, path and query unchanged.

The hot path of the platform: one pooled client session, headers filtered in one pass, request
bodies read within the gateway's cap, answers streamed (server-sent events pass through chunk
by chunk).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from services.gateway.adapters.replicas import Pool, Replica
from services.gateway.adapters.upstreams import Upstreams
from services.gateway.entrypoints.compression import negotiate
from services.gateway.entrypoints.event_streams import is_event_stream, relay_events
from services.gateway.entrypoints.identity import assertion
from services.gateway.settings import Settings
from shared.auth import ASSERTION_HEADER
from shared.drain import DRAIN_KEY
from shared.http import (
    CORRELATION_ID_HEADER,
    CORRELATION_ID_KEY,
    REQUEST_ID_HEADER,
    REQUEST_ID_KEY,
    TRACEPARENT_KEY,
)
from shared.logging import get_logger
from shared.metrics import Handler
from shared.problems import Problem
from shared.tracing import TRACEPARENT_HEADER

log = get_logger(__name__)

# RFC 9110 section 7.6.1 connection-specific headers, plus those the gateway sets itself.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade",
})
# `Expect: 100-continue` was answered by the gateway's own server already.
NOT_FORWARDED = HOP_BY_HOP | {
    "host", "expect", "x-forwarded-proto", "x-forwarded-host", "x-request-id",
    "x-correlation-id", "traceparent",
}
# aiohttp sets the length of a buffered body itself.
NOT_RETURNED_BUFFERED = HOP_BY_HOP | {"content-length"}
# Answers of known length up to this size are read whole and sent in one write: a separate
# write for headers and body costs a second send() per request on the hot path.
BUFFERED_MAX = 64 * 1024


class Proxy:
    """Forwards requests to the replicas of one upstream per path prefix, over one pooled
    session."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._upstreams: Upstreams | None = None

    def use(self, session: aiohttp.ClientSession, upstreams: Upstreams) -> None:
        """The pooled session (the runtime's `upstream_session`) and the replicas, given as the
        app starts."""
        self._session, self._upstreams = session, upstreams

    async def get_json(self, url: str) -> Any:
        """A side request over the same pool (the OpenAPI documents), bounded in time."""
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=self._settings.proxy_connect_timeout_s)
        async with self._session.get(url, timeout=timeout) as response:
            response.raise_for_status()
            return await response.json()

    def add_routes(self, app: web.Application) -> None:
        for prefix in self._settings.upstreams():
            app.router.add_route("*", prefix + "{tail:(/.*)?}", self._handler(prefix))

    def _handler(self, prefix: str) -> Handler:
        async def forward(request: web.Request) -> web.StreamResponse:
            assert self._upstreams is not None, "the replicas are given by the app's cleanup_ctx"
            return await self.forward(request, self._upstreams.pools[prefix])

        return forward

    async def forward(self, request: web.Request, pool: Pool) -> web.StreamResponse:
        assert self._session is not None, "the proxy session is given by the app's cleanup_ctx"
        headers = upstream_headers(request)
        if (asserted := await assertion(request)) is not None:
            headers[ASSERTION_HEADER] = asserted  # the caller, checked once, here
        # The route's deadline runs from here: the client's upload, the tries, the answer.
        until = asyncio.get_running_loop().time() + self._settings.upstream_deadlines_s.get(
            pool.name, self._settings.upstream_deadline_s)
        body = await _read_body(request, until)
        if pool.full:
            raise Problem(503, "upstream-busy", f"Too many requests are open to the {pool.name} "
                          "service; try again shortly.", headers={"Retry-After": "1"})
        pool.requested()
        tried: list[Replica] = []
        replica = pool.pick()
        while replica is not None:
            tried.append(replica)
            upstream: aiohttp.ClientResponse | None = None
            with pool.lease(replica):
                try:
                    # One timer per try: the try's timeout until the headers, then the route's
                    # deadline (a streamed answer keeps it in `_streamed`).
                    async with self._try_timeout(until) as scope:
                        upstream = await self._send(request, replica.url, headers, body)
                        pool.record(replica, ok=upstream.status < 500)
                        length = upstream.content_length
                        if (length is not None and length <= BUFFERED_MAX
                                and request.method != "HEAD"):
                            scope.reschedule(until)
                            return await _buffered(request, upstream, replica.url)
                        scope.reschedule(None)
                        # Event streams are bounded by the silence between chunks, not by
                        # the route's deadline.
                        return await _streamed(request, upstream,
                                               None if is_event_stream(upstream) else until)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    if upstream is not None:  # the deadline passed while reading the body
                        raise _failure(request, replica.url, exc) from exc
                    pool.record(replica, ok=False)
                    if self._retryable(request, exc, until):
                        replica = pool.pick(tried)
                        if replica is not None and pool.may_retry():
                            log.info("retrying upstream elsewhere", upstream=tried[-1].url,
                                     error=repr(exc))
                            continue
                    raise _failure(request, tried[-1].url, exc) from exc
                finally:
                    if upstream is not None:
                        upstream.release()
        raise AssertionError("a pool always has a replica to pick first")

    def _try_timeout(self, until: float) -> asyncio.Timeout:
        loop_time = asyncio.get_running_loop().time()
        return asyncio.timeout_at(min(until, loop_time + self._settings.upstream_try_timeout_s))

    async def _send(self, request: web.Request, base_url: str, headers: CIMultiDict[str],
                    body: bytes | None) -> aiohttp.ClientResponse:
        """One try: the upstream's answer up to its headers."""
        assert self._session is not None
        # Already encoded: the path and query go on byte for byte (and yarl skips re-quoting).
        url = URL(base_url + request.raw_path, encoded=True)
        return await self._session.request(
            request.method, url, headers=headers, data=body, allow_redirects=False,
        )

    @staticmethod
    def _retryable(request: web.Request, exc: BaseException, until: float) -> bool:
        """Before the deadline: a connection that failed (nothing was sent), or a GET or HEAD
        with no byte of an answer yet. Never a write that may have reached the upstream (a
        seckill attempt above all)."""
        if asyncio.get_running_loop().time() >= until:
            return False
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return True
        return request.method in ("GET", "HEAD")


def _failure(request: web.Request, base_url: str, exc: BaseException) -> Problem:
    if isinstance(exc, aiohttp.ConnectionTimeoutError) or not isinstance(
            exc, aiohttp.ServerTimeoutError | TimeoutError):
        return _unreachable(base_url, exc)
    log.warning("upstream timed out", upstream=base_url, error=repr(exc))
    return Problem(504, "upstream-timeout",
                   f"The service behind {request.path} did not answer in time.")


def _response_headers(request: web.Request, upstream: aiohttp.ClientResponse,
                      skip: frozenset[str]) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.headers.items():
        if name.lower() not in skip:
            headers.add(name, value)
    headers[REQUEST_ID_HEADER] = request[REQUEST_ID_KEY]
    return headers


async def _buffered(
    request: web.Request, upstream: aiohttp.ClientResponse, base_url: str
) -> web.Response:
    """A small answer of known length, sent in one write (headers and body together)."""
    try:
        body = await upstream.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _unreachable(base_url, exc) from exc
    return web.Response(body=body, status=upstream.status, reason=upstream.reason,
                        headers=_response_headers(request, upstream, NOT_RETURNED_BUFFERED))


async def _read_body(request: web.Request, until: float) -> bytes | None:
    """The client's body, read whole within the app's `client_max_size`
    (GATEWAY_MAX_BODY_BYTES: a larger one is a 413 problem, whatever the upstream would allow)
    and within the route's deadline (a 504 problem: the gateway cannot answer in time)."""
    if not request.body_exists:
        return None
    try:
        async with asyncio.timeout_at(until):
            return await request.read()
    except TimeoutError:
        log.warning("request body not received by the deadline", path=request.path)
        raise Problem(504, "request-timeout", "The request body did not arrive within the "
                      "route's deadline.", headers={"Connection": "close"}) from None


async def _streamed(request: web.Request, upstream: aiohttp.ClientResponse,
                    until: float | None) -> web.StreamResponse:
    """Anything else (server-sent events, chunked, large) is relayed chunk by chunk as it
    arrives, until the route's deadline `until` (None: no deadline)."""
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason,
                                  headers=_response_headers(request, upstream, HOP_BY_HOP))
    negotiate(request, response)  # JSON is gzipped as it streams; events never
    try:
        async with asyncio.timeout_at(until):
            await response.prepare(request)
            if is_event_stream(upstream):
                await relay_events(upstream, response, request.app[DRAIN_KEY].stopping)
            else:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
    except ConnectionResetError:
        return response  # the client went away; the upstream connection is dropped
    except (aiohttp.ClientError, TimeoutError) as exc:
        # Too late for a problem response: cut the connection so the client sees the
        # body is incomplete rather than a clean end.
        log.warning("upstream failed mid-response", url=str(upstream.url), error=repr(exc))
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response


def upstream_headers(request: web.Request) -> CIMultiDict[str]:
    """The client's headers minus hop-by-hop and `X-User-*`, plus request id, traceparent and
    forwarding."""
    headers: CIMultiDict[str] = CIMultiDict()
    skip = NOT_FORWARDED | _named_in_connection(request.headers.get("Connection"))
    for name, value in request.headers.items():
        lower = name.lower()
        if lower in skip or lower.startswith("x-user-"):
            continue
        if lower == "x-forwarded-for":
            continue  # rebuilt below, with the peer appended
        headers.add(name, value)
    peer = request.remote or ""
    prior = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    headers[REQUEST_ID_HEADER] = request[REQUEST_ID_KEY]
    headers[CORRELATION_ID_HEADER] = request[CORRELATION_ID_KEY]
    headers[TRACEPARENT_HEADER] = request[TRACEPARENT_KEY]  # the client's if valid, else ours
    return headers


def _named_in_connection(value: str | None) -> frozenset[str]:
    """Headers the sender marked as hop-by-hop in `Connection` (RFC 9110 7.6.1)."""
    if not value:
        return frozenset()
    return frozenset(token.strip().lower() for token in value.split(","))


def _unreachable(base_url: str, exc: BaseException) -> Problem:
    log.warning("upstream unreachable", upstream=base_url, error=repr(exc))
    return Problem(502, "upstream-unavailable",
                   "The service behind this path is unreachable; try again shortly.")
