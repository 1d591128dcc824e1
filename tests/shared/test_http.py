"""The shared HTTP plumbing on a real aiohttp server: problems, request ids, metrics, health."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, Field

from shared.embedded_redis import free_port
from shared.http import (
    AppRunner,
    add_readiness_check,
    conditional,
    create_base_app,
    json_response,
    parse_body,
    parse_query,
)
from shared.logging import merge_request_context
from shared.problems import Problem

DOWN = web.AppKey("down", dict)


class Body(BaseModel):
    name: str = Field(min_length=1)
    price: int = Field(ge=0)


class Query(BaseModel):
    ordering: str = Field("id", pattern="^-?(id|price)$")


async def create(request: web.Request) -> web.Response:
    body = await parse_body(request, Body)
    return json_response(body.model_dump(), status=201)


async def listing(request: web.Request) -> web.Response:
    return json_response(parse_query(request, Query).model_dump())


async def item(request: web.Request) -> web.Response:
    if request.match_info["id"] == "7":
        raise Problem(409, "sold-out", "Nothing left.")
    raise RuntimeError("boom")


async def log_fields(request: web.Request) -> web.Response:
    """What the log processor adds to a line written while this request is served."""
    return json_response(merge_request_context(None, "info", {}))


@pytest.fixture
async def client() -> TestClient:  # type: ignore[misc]
    app = create_base_app("test")
    app.router.add_post("/things", create)
    app.router.add_get("/things", listing)
    app.router.add_get("/things/{id:\\d+}", item)
    app.router.add_get("/log-fields", log_fields)
    down = {"redis": False}

    async def redis_check() -> None:
        if down["redis"]:
            raise ConnectionError("refused")

    add_readiness_check(app, "redis", redis_check)
    app[DOWN] = down
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def assert_problem(response, status: int, slug: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status == status
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["status"] == status
    assert body["type"].endswith(f"/{slug}")
    assert body["title"] and body["detail"]
    return body  # type: ignore[no-any-return]


JSON = {"Content-Type": "application/json"}


async def test_validation_errors_are_422_problems_with_fields(client: TestClient) -> None:
    body = await assert_problem(
        await client.post("/things", json={"name": "", "price": -1}), 422, "validation-error"
    )
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "name"), ("body", "price")}


async def test_malformed_json_is_400(client: TestClient) -> None:
    await assert_problem(await client.post("/things", data=b"{nope", headers=JSON), 400,
                         "malformed-json")
    await assert_problem(await client.post("/things"), 400, "malformed-json")


async def test_a_body_declared_as_another_type_is_415_and_json_types_pass(
    client: TestClient,
) -> None:
    """`Content-Type` says what the body is: a form, text or bytes are refused before they are
    read; `application/json` (any parameters), a `+json` type or no header at all are read."""
    body = b'{"name": "pen", "price": 1}'
    for declared in ("application/x-www-form-urlencoded", "text/plain", "application/jsonl",
                     "application/octet-stream", "multipart/form-data; boundary=x"):
        problem = await assert_problem(
            await client.post("/things", data=body, headers={"Content-Type": declared}),
            415, "unsupported-media-type")
        assert "application/json" in problem["detail"]
    for accepted in ("application/json", "application/json; charset=utf-8",
                     "application/merge-patch+json"):
        response = await client.post("/things", data=body, headers={"Content-Type": accepted})
        assert response.status == 201, accepted
    request = client.post("/things", data=body, skip_auto_headers=["Content-Type"])
    assert (await request).status == 201


async def test_bad_query_is_400_with_errors(client: TestClient) -> None:
    body = await assert_problem(await client.get("/things?ordering=name"), 400, "validation-error")
    assert body["errors"][0]["loc"] == ["query", "ordering"]
    assert (await client.get("/things?ordering=-price")).status == 200


async def test_framework_errors_and_crashes_are_problems(client: TestClient) -> None:
    await assert_problem(await client.get("/nowhere"), 404, "not-found")
    await assert_problem(await client.get("/things/abc"), 404, "not-found")
    response = await client.delete("/things")
    await assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["Allow"]
    await assert_problem(await client.get("/things/7"), 409, "sold-out")
    body = await assert_problem(await client.get("/things/8"), 500, "internal-server-error")
    assert "boom" not in body["detail"]  # internals are logged, not shown


async def test_request_id_is_kept_or_made(client: TestClient) -> None:
    kept = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["X-Request-ID"] == "abc-123"
    made = await client.get("/healthz")
    assert len(made.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("sent", ["x" * 129, "a b", "<script>", "id\u00e9", ""])
async def test_a_request_id_of_the_wrong_shape_is_replaced(client: TestClient, sent: str) -> None:
    response = await client.get("/log-fields", headers={"X-Request-ID": sent,
                                                        "X-Correlation-ID": sent})
    made = response.headers["X-Request-ID"]
    assert made != sent and len(made) == 32
    fields = await response.json()
    assert fields.pop("trace_id")  # shared.tracing; tests/shared/test_tracing.py
    assert fields == {"request_id": made, "correlation_id": made}


async def test_request_and_correlation_ids_are_bound_to_log_lines(client: TestClient) -> None:
    given = await client.get(
        "/log-fields", headers={"X-Request-ID": "r-1", "X-Correlation-ID": "c-1"}
    )
    given_fields = await given.json()
    assert given_fields.pop("trace_id")
    assert given_fields == {"request_id": "r-1", "correlation_id": "c-1"}
    made = await client.get("/log-fields")
    fields = await made.json()
    assert fields["request_id"] == fields["correlation_id"] == made.headers["X-Request-ID"]


async def test_metrics_count_by_route_template(client: TestClient) -> None:
    await client.get("/things/7")
    await client.get("/things/7")
    await client.get("/nowhere/at/all")
    text = await (await client.get("/metrics")).text()
    assert (
        'http_requests_total{method="GET",route="/things/{id}",service="test",status="409"} 2.0'
        in text
    )
    assert 'route="unmatched"' in text
    assert "/nowhere" not in text
    assert "http_request_duration_seconds_bucket" in text


async def test_readiness_reports_each_check(client: TestClient) -> None:
    assert (await client.get("/readyz")).status == 200
    client.server.app[DOWN]["redis"] = True
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["checks"]["redis"] == "failed"  # the reason is only logged
    assert "refused" not in await response.text()


async def test_a_conditional_read_answers_304_for_its_tag_and_200_otherwise() -> None:
    body = {"shown": [1, 2, 3]}

    async def read(request: web.Request) -> web.Response:
        return conditional(request, json_response(body), "public, no-cache")

    app = create_base_app("test")
    app.router.add_get("/read", read)
    async with TestClient(TestServer(app)) as client:
        first = await client.get("/read")
        tag = first.headers["ETag"]
        assert first.status == 200 and first.headers["Cache-Control"] == "public, no-cache"
        assert tag.startswith('"') and await first.json() == body
        for sent in (tag, f'"other", W/{tag}', "*"):  # weak comparison, and any
            again = await client.get("/read", headers={"If-None-Match": sent})
            assert again.status == 304 and await again.read() == b""
            assert again.headers["ETag"] == tag
            assert again.headers["Cache-Control"] == "public, no-cache"
        assert (await client.get("/read", headers={"If-None-Match": '"other"'})).status == 200
        body["shown"].append(4)  # a new body, a new tag: the old one gets the full answer
        changed = await client.get("/read", headers={"If-None-Match": tag})
        assert changed.status == 200 and changed.headers["ETag"] != tag


async def test_no_answer_names_the_server_software(client: TestClient) -> None:
    for response in (await client.get("/healthz"), await client.get("/nothing"),
                     await client.get("/things/8")):
        assert "Server" not in response.headers, response.headers


async def _raw(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send `request` as bytes on a new connection; the status line, headers and body of the
    answer (read to the end: these answers close the connection)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    fields = (line.partition(":") for line in lines)
    return status, {name.lower(): value.strip() for name, _, value in fields}, body


@pytest.mark.parametrize("request_bytes", [
    b"GET /healthz HTTP/1.1\r\nHost: test\r\nA header without a colon\r\n\r\n",
    b"\x16\x03\x01\x02\x00 not HTTP at all\r\n\r\n",  # a TLS hello on the plain port
    b"GET /healthz HTTP/9.x\r\nHost: test\r\n\r\n",
], ids=["header", "request-line", "version"])
async def test_what_aiohttp_refuses_before_the_app_is_a_problem_without_server(
    request_bytes: bytes,
) -> None:
    runner = AppRunner(create_base_app("test"), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        status, headers, body = await _raw(port, request_bytes)
        assert status.split(" ")[1] == "400", status  # HTTP/1.0: aiohttp read no version
        assert "server" not in headers, headers
        assert headers["content-type"].startswith("application/problem+json")
        problem = orjson.loads(body)
        assert problem["status"] == 400 and problem["detail"]
        status, headers, _ = await _raw(
            port, b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        assert status.startswith("HTTP/1.1 200 ") and "server" not in headers
    finally:
        await runner.cleanup()
