"""The aiohttp plumbing every service shares: request ids, problems, health, metrics."""

from __future__ import annotations

import gc
import hashlib
import os
import re
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, TypeVar

import orjson
from aiohttp import StreamReader, hdrs, web
from aiohttp.typedefs import Middleware
from aiohttp.web_protocol import RequestHandler
from pydantic import BaseModel, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.drain import DRAIN_KEY, Drain, add_drain
from shared.errors import DomainError
from shared.logging import get_logger, request_context
from shared.metrics import Handler, Metrics, route_template
from shared.openapi import schema_errors
from shared.problems import (
    PROBLEM_CONTENT_TYPE,
    SHARED_PROBLEMS,
    Problem,
    ProblemTable,
    from_domain_error,
    from_http_exception,
    validation_problem,
)
from shared.redis import REDIS_UNAVAILABLE, RedisClient
from shared.tracing import (
    TRACEPARENT_HEADER,
    current_traceparent,
    new_traceparent,
    trace_id,
    valid_traceparent,
)

REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_ID_HEADER = "X-Correlation-ID"
# What a client-sent request or correlation id may be; anything else is replaced by our own, so
# a log line or a header can never carry a client's newlines, markup or megabytes.
CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")

ReadinessCheck = Callable[[], Awaitable[None]]
ModelT = TypeVar("ModelT", bound=BaseModel)

METRICS_KEY = web.AppKey("metrics", Metrics)
READINESS_KEY = web.AppKey("readiness", dict[str, ReadinessCheck])
REQUEST_ID_KEY = web.RequestKey("request_id", str)
CORRELATION_ID_KEY = web.RequestKey("correlation_id", str)
TRACEPARENT_KEY = web.RequestKey("traceparent", str)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

log = get_logger(__name__)


def request_middleware(
    metrics: Metrics, problems: ProblemTable = SHARED_PROBLEMS, drain: Drain | None = None
) -> Middleware:
    """All the per-request plumbing in one middleware: each middleware layer costs a coroutine
    and an aiohttp wrapper per request, and on a small read three of them were a fifth of the
    CPU. Innermost first, it:
    - answers every error with problem+json: a domain error by the service's `problems`
      table, aiohttp's own 404/405 included;
    - counts and times the request by route template (a cancelled one counts as a 500);
    - accepts or makes a request id and binds it, with the correlation id and the trace id
      (a valid W3C `traceparent` kept, else a new one: `shared.tracing`), to every log line
      written while the request is served, the error log included; the traceparent is the
      current one for envelopes built meanwhile; one `request served` line at the end;
    - keeps the request in `drain.in_flight` while it is handled (a stop waits for the
      bodies still arriving: `shared.drain`).
    """
    in_flight: set[StreamReader] = drain.in_flight if drain is not None else set()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = _client_id(request, REQUEST_ID_HEADER) or os.urandom(16).hex()
        correlation_id = _client_id(request, CORRELATION_ID_HEADER) or request_id
        request[REQUEST_ID_KEY] = request_id
        request[CORRELATION_ID_KEY] = correlation_id
        traceparent = _traceparent(request)
        bound = request_context.set({"request_id": request_id, "correlation_id": correlation_id,
                                     "trace_id": trace_id(traceparent)})
        traced = current_traceparent.set(traceparent)
        status = 500
        in_flight.add(request.content)
        try:
            try:
                response = await handler(request)
            except Problem as problem:
                response = problem.response(request.path)
            except DomainError as error:
                answer = from_domain_error(error, problems)
                if answer is None:
                    log.exception("domain error without a problem", path=request.path)
                    answer = Problem(500, detail="An unexpected error occurred.")
                response = answer.response(request.path)
            except web.HTTPException as exc:
                if exc.status < 400:
                    status = exc.status
                    raise  # a redirect: aiohttp sends it
                response = from_http_exception(exc).response(request.path)
            except REDIS_UNAVAILABLE as exc:
                # Redis restarting or a cluster failing over: seconds, not a bug. Whether a
                # write sent just before the connection dropped ran is unknown: a retry with
                # the same Idempotency-Key (attempts) or the same id answers what it did.
                log.warning("Redis unavailable", path=request.path, method=request.method,
                            error=repr(exc))
                response = Problem(503, "unavailable", "This is unavailable for a moment; "
                                   "retry shortly.", headers={"Retry-After": "1"}).response(
                    request.path)
            except Exception:
                log.exception("unhandled error", path=request.path, method=request.method)
                response = Problem(500, detail="An unexpected error occurred.").response(
                    request.path)
            status = response.status
            if not response.prepared:
                response.headers[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            in_flight.discard(request.content)
            elapsed = time.perf_counter() - started
            _log_request(request, status, elapsed)
            current_traceparent.reset(traced)
            request_context.reset(bound)
            metrics.observe(route_template(request), request.method, status, elapsed)

    return middleware


def _traceparent(request: web.Request) -> str:
    """The client's W3C traceparent when valid, else a new trace; kept on the request for
    the gateway to forward (`TRACEPARENT_KEY`)."""
    traceparent = valid_traceparent(request.headers.get(TRACEPARENT_HEADER)) or new_traceparent()
    request[TRACEPARENT_KEY] = traceparent
    return traceparent


def _log_request(request: web.Request, status: int, elapsed: float) -> None:
    """One line per request, with its ids: writes at INFO, reads (the bulk of the traffic,
    and no state changed) at DEBUG, which costs nothing when the level is INFO."""
    write = request.method not in READ_METHODS
    (log.info if write else log.debug)(
        "request served", method=request.method, path=request.path, status=status,
        duration_ms=round(elapsed * 1000, 1))


def _client_id(request: web.Request, header: str) -> str | None:
    value = request.headers.get(header)
    return value if value is not None and CLIENT_ID_PATTERN.fullmatch(value) else None


async def _freeze_startup_objects(app: web.Application) -> None:
    """Keep the objects of imports and start-up out of every later garbage collection.

    Runs after every cleanup_ctx start-up (aiohttp runs those first). Requests in flight
    survive young collections, so full (generation 2) collections come every second or so
    under load; over the start-up heap each took 60-130 ms here, a pause for every request in
    flight (a p99 of about 100 ms). Frozen, they take about 1 ms."""
    gc.collect()
    gc.freeze()


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Serialise with orjson (datetimes as RFC 3339, Decimals must be pre-rendered)."""
    return web.Response(
        body=orjson.dumps(data, default=_default),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def conditional(request: web.Request, response: web.Response, cache_control: str) -> web.Response:
    """A public read made revalidatable: `response` (a buffered 200) gets a strong `ETag`, a
    hash of its body (SHA-256, under a microsecond per KiB here), and `cache_control`; a 304
    with the same two headers answers instead when `If-None-Match` names that tag or `*`. The
    comparison is weak (RFC 9110 13.1.2), so the `W/` tag a compressing gateway sent still
    matches."""
    assert isinstance(response.body, bytes), "a buffered body"
    tag = hashlib.sha256(response.body).hexdigest()[:32]
    headers = {hdrs.ETAG: f'"{tag}"', hdrs.CACHE_CONTROL: cache_control}
    if any(match.value in (tag, "*") for match in request.if_none_match or ()):
        return web.Response(status=304, headers=headers)
    response.headers.update(headers)
    return response


async def no_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """(An `on_response_prepare` hook.) aiohttp names itself and Python's version in `Server`
    on every answer: not ours to publish."""
    response.headers.popall(hdrs.SERVER, None)


class _BareResponse(web.Response):
    """An answer made outside the app (no `on_response_prepare` runs for it), without the
    `Server` header aiohttp adds as it prepares the headers."""

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self.headers.popall(hdrs.SERVER, None)


class _ProblemRequestHandler(RequestHandler):
    """aiohttp answers what never reaches the app itself (`RequestHandler.handle_error`: a
    request line or header it cannot parse, 400; a handler that timed out, 504) in plain
    text, with `Server`. The same answers here, as problem+json and without it."""

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises once an answer began
        if status == 400 and message:
            detail = f"The request could not be read as HTTP: {message[:200]}"
        else:
            detail = HTTPStatus(status).description or HTTPStatus(status).phrase
        problem = Problem(status, detail=detail)
        answer = _BareResponse(status=status, body=orjson.dumps(problem.body()),
                               content_type=PROBLEM_CONTENT_TYPE)
        answer.force_close()  # as aiohttp's own: the connection's state is unknown
        return answer


class _ProblemServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """`web.AppRunner` whose connections answer aiohttp's own errors as problems
    (`_ProblemRequestHandler`); `shared.drain.serve` runs every service with it."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _ProblemServer  # the same server, its connections made as above
        return server


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def is_json(media_type: str) -> bool:
    """`application/json` or a JSON structured type such as `application/merge-patch+json`."""
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json"))


async def parse_body(request: web.Request, model: type[ModelT]) -> ModelT:
    """Validate a JSON body: 415 when it is declared as something else than JSON, 400 when it
    is not JSON, 422 with field errors when invalid. A body without `Content-Type` is read as
    JSON (the simplest clients send none)."""
    declared = request.body_exists and hdrs.CONTENT_TYPE in request.headers
    if declared and not is_json(request.content_type):
        raise Problem(415, "unsupported-media-type",
                      f"Send the body as application/json, not {request.content_type}.")
    raw = await request.read()
    try:
        payload = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "malformed-json", f"Body is not valid JSON: {exc}") from exc
    if payload is None:
        raise Problem(400, "malformed-json", "A JSON body is required.")
    if errors := schema_errors(model, payload):
        raise Problem(422, "validation-error", "; ".join(e["msg"] for e in errors),
                      title="Invalid request", errors=errors)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise validation_problem(exc) from exc


def parse_query(request: web.Request, model: type[ModelT]) -> ModelT:
    """Validate query parameters: 400 with field errors when invalid."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_problem(exc, status=400, where="query") from exc


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    if request.app[DRAIN_KEY].draining:  # stopping: still serving, but send nothing new
        return json_response({"status": "draining", "checks": {}}, status=503)
    checks: dict[str, str] = {}
    ready = True
    for name, check in request.app[READINESS_KEY].items():
        try:
            await check()
            checks[name] = "ok"
        except Exception as exc:
            # The reason goes to the log, not to the (possibly public) answer.
            log.warning("readiness check failed", check=name, error=repr(exc))
            ready = False
            checks[name] = "failed"
    return json_response(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def create_base_app(
    service: str,
    *,
    problems: ProblemTable | None = None,
    expose_metrics: bool = True,
    **kwargs: Any,
) -> web.Application:
    """An application with the shared middlewares and `/healthz`, `/readyz`, `/metrics`.

    `problems` maps the service's domain errors to answers (its `entrypoints/problems.py`),
    on top of the shared ones. Services add readiness checks with `add_readiness_check`
    (`database_check`, `redis_check`) and their routes after this.
    """
    metrics, drain = Metrics(service), Drain()
    app = web.Application(
        middlewares=[request_middleware(metrics, {**SHARED_PROBLEMS, **(problems or {})},
                                        drain)],
        **kwargs,
    )
    app[METRICS_KEY] = metrics
    app[READINESS_KEY] = {}
    add_drain(app, drain)
    app.on_startup.append(_freeze_startup_objects)
    app.on_response_prepare.append(no_server_header)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", _readyz)
    if expose_metrics:
        app.router.add_get("/metrics", metrics.handler)
    return app


def add_readiness_check(app: web.Application, name: str, check: ReadinessCheck) -> None:
    app[READINESS_KEY][name] = check


def database_check(engine: AsyncEngine) -> ReadinessCheck:
    """Ready when the database answers `SELECT 1`."""

    async def check() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return check


def redis_check(redis: RedisClient) -> ReadinessCheck:
    """Ready when Redis answers `PING`."""

    async def check() -> None:
        await redis.ping()

    return check
