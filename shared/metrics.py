"""One Prometheus registry per process, with the HTTP metrics every service exports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The registry and the HTTP metrics; services register their own metrics on `registry`."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        self.http_requests = Counter(
            "http_requests_total",
            "HTTP requests by route template and status.",
            ["service", "route", "method", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["service", "route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # `.labels()` checks and joins its arguments on every call; the children of the few
        # (route template, method, status) seen are kept instead.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.http_requests.labels(self.service, route, method, str(status)),
                self.http_latency.labels(self.service, route, method),
            )
        requests, latency = children
        requests.inc()
        latency.observe(seconds)

    async def handler(self, request: web.Request) -> web.Response:
        return exposition(self.registry)


def exposition(registry: CollectorRegistry) -> web.Response:
    """`registry` in the Prometheus text format: the answer of every `/metrics`."""
    return web.Response(body=generate_latest(registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def route_template(request: web.Request) -> str:
    """The route's template (`/courses/{id}`), never the raw path, to bound label values."""
    info = request.match_info
    if info.http_exception is not None or info.route.resource is None:
        return "unmatched"
    return info.route.resource.canonical
