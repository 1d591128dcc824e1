"""The reverse proxy against real upstream HTTP servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.gateway.conftest import GatewayFactory, assert_problem
from tests.gateway.upstreams import Upstream

pytestmark = pytest.mark.integration


async def test_routes_by_prefix_with_path_and_query_unchanged(gateway: TestClient) -> None:
    response = await gateway.get("/api/v1/catalog/courses?kind=free&page=2")
    assert response.status == 200
    echoed = await response.json()
    assert echoed["upstream"] == "catalog"
    assert echoed["path_qs"] == "/api/v1/catalog/courses?kind=free&page=2"
    assert response.headers["X-Upstream"] == "catalog"

    echoed = await (await gateway.get("/api/v1/seckill/items/%2F7?q=a%20b")).json()
    assert echoed["upstream"] == "seckill"
    assert echoed["path_qs"] == "/api/v1/seckill/items/%2F7?q=a%20b"
    assert (await (await gateway.get("/api/v1/catalog")).json())["path_qs"] == "/api/v1/catalog"


async def test_unknown_prefix_is_a_404_problem(gateway: TestClient) -> None:
    await assert_problem(await gateway.get("/api/v1/catalogue/courses"), 404, "not-found")
    await assert_problem(await gateway.get("/api/v1/nothing"), 404, "not-found")


async def test_upstream_status_and_body_pass_through(gateway: TestClient) -> None:
    response = await gateway.post(
        "/api/v1/catalog/courses?status=201", data=b'{"name":"Go"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 201
    echoed = await response.json()
    assert echoed["method"] == "POST"
    assert echoed["body"] == '{"name":"Go"}'
    assert echoed["headers"]["content-type"] == "application/json"


async def test_chunked_request_body_is_passed_upstream(gateway: TestClient) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"a" * 1000, b"b" * 1000):
            yield part

    response = await gateway.put("/api/v1/catalog/upload", data=parts())
    echoed = await response.json()
    assert echoed["body"] == "a" * 1000 + "b" * 1000


async def test_a_body_over_the_gateways_cap_is_a_413_problem_and_never_sent(
    make_gateway: GatewayFactory, upstreams: dict[str, Upstream]
) -> None:
    gateway = await make_gateway(catalog_url=upstreams["catalog"].url,
                                 gateway_max_body_bytes=4096)
    assert (await gateway.post("/api/v1/catalog/upload", data=b"x" * 4096)).status == 200
    seen = upstreams["catalog"].echoed

    async def parts() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 1000

    for body in (b"x" * 4097, parts()):
        response = await gateway.post("/api/v1/catalog/upload", data=body)
        await assert_problem(response, 413, "request-entity-too-large")
    assert upstreams["catalog"].echoed == seen
    response = await gateway.post("/api/v1/auth/tokens", data=b"{" * 5000,
                                  headers={"Content-Type": "application/json"})
    await assert_problem(response, 413, "request-entity-too-large")


async def test_request_id_is_made_or_kept_and_passed_on(gateway: TestClient) -> None:
    kept = await gateway.get("/api/v1/catalog/x", headers={"X-Request-ID": "req-42"})
    assert kept.headers["X-Request-ID"] == "req-42"
    assert (await kept.json())["headers"]["x-request-id"] == "req-42"

    made = await gateway.get("/api/v1/catalog/x")
    made_id = made.headers["X-Request-ID"]
    assert len(made_id) == 32
    assert (await made.json())["headers"]["x-request-id"] == made_id


async def test_identity_headers_are_dropped_and_authorization_forwarded(
    gateway: TestClient,
) -> None:
    response = await gateway.get("/api/v1/seckill/orders", headers={
        "X-User-Id": "1", "x-user-roles": "admin", "X-User-Phone": "13800000000",
        "Authorization": "Bearer some.token.value", "X-Forwarded-For": "203.0.113.9",
        "Connection": "keep-alive, X-Custom", "X-Custom": "hop", "Accept": "application/json",
    })
    headers = (await response.json())["headers"]
    assert not [name for name in headers if name.startswith("x-user-")]
    assert headers["authorization"] == "Bearer some.token.value"
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["accept"] == "application/json"
    assert "x-custom" not in headers
    assert "keep-alive" not in headers


async def test_server_sent_events_stream_through_unbuffered(
    gateway: TestClient, upstreams: dict[str, Upstream]
) -> None:
    seckill = upstreams["seckill"]
    response = await gateway.get("/api/v1/seckill/tickets/t1/events")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
    assert first == b"event: status\ndata: pending\n\n"
    assert not seckill.finished.is_set()  # the upstream is still holding the stream open

    seckill.release.set()
    rest = await asyncio.wait_for(response.content.read(), 5)
    assert rest == b"event: status\ndata: success\n\n"
    assert seckill.finished.is_set()


async def test_a_stream_broken_upstream_is_cut_not_ended_cleanly(gateway: TestClient) -> None:
    response = await gateway.get("/api/v1/catalog/broken")
    assert response.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await asyncio.wait_for(response.read(), 5)
    assert (await gateway.get("/api/v1/catalog/after")).status == 200


async def test_upstream_down_is_a_502_problem(gateway: TestClient) -> None:
    response = await gateway.get("/api/v1/scheduler/schedules", headers={"X-Request-ID": "r-502"})
    body = await assert_problem(response, 502, "upstream-unavailable")
    assert body["instance"] == "/api/v1/scheduler/schedules"
    assert response.headers["X-Request-ID"] == "r-502"


async def test_slow_upstream_is_a_504_problem(gateway: TestClient) -> None:
    await assert_problem(await gateway.get("/api/v1/catalog/slow"), 504, "upstream-timeout")
    # The pool is not poisoned by the abandoned request.
    assert (await gateway.get("/api/v1/catalog/after")).status == 200


async def test_web_page_and_health_are_public_but_metrics_are_on_the_admin_port(
    make_gateway: GatewayFactory, tmp_path: pytest.TempPathFactory,
) -> None:
    from shared.embedded_redis import free_port

    admin_port = free_port()
    gateway = await make_gateway(gateway_admin_port=admin_port)
    home = await gateway.get("/")  # not built here: the page saying how (tests/gateway/test_web.py)
    assert home.status == 503
    assert "coursestream" in await home.text()
    assert (await gateway.get("/healthz")).status == 200
    assert (await gateway.get("/readyz")).status == 200
    await assert_problem(await gateway.get("/metrics"), 404, "not-found")
    await gateway.get("/api/v1/catalog/anything")  # counted, though the upstream is down

    admin = gateway.session
    metrics = await admin.get(f"http://127.0.0.1:{admin_port}/metrics")
    text = await metrics.text()
    assert metrics.status == 200
    assert 'route="/api/v1/catalog{tail}"' in text
    assert 'service="gateway"' in text
    ready = await admin.get(f"http://127.0.0.1:{admin_port}/readyz")
    assert (await ready.json())["checks"]["database"] == "ok"


async def test_the_repositorys_media_are_served(gateway: TestClient) -> None:
    for path, kind in (("/media/banners/1.jpg", "image/jpeg"), ("/media/teachers/1.png",
                                                                   "image/png")):
        response = await gateway.get(path)
        assert (response.status, response.content_type) == (200, kind)
    await assert_problem(await gateway.get("/media/missing.png"), 404, "not-found")
    await assert_problem(await gateway.get("/media/%2e%2e/index.html"), 404, "not-found")
    await assert_problem(await gateway.post("/api/v1/nothing"), 404, "not-found")


async def test_head_requests_keep_the_upstream_length_and_send_no_body(
    gateway: TestClient,
) -> None:
    full = await gateway.get("/api/v1/catalog/fixed")
    head = await gateway.head("/api/v1/catalog/fixed")
    assert head.status == 200
    assert head.headers["Content-Length"] == full.headers["Content-Length"]
    assert await head.read() == b""
    assert await full.read() == b'{"fixed":true}'
