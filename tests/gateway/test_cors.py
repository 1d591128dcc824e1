"""CORS at the gateway, against real upstream servers: preflights allowed and refused, the
headers of an answer to a listed origin, and none without a list."""

from __future__ import annotations

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from tests.gateway.conftest import GatewayFactory, assert_problem
from tests.gateway.upstreams import Upstream

pytestmark = pytest.mark.integration

APP = "https://app.example.com"
ITEMS = "/api/v1/seckill/items/7/attempts"


@pytest.fixture
async def cors(make_gateway: GatewayFactory, upstreams: dict[str, Upstream]) -> TestClient:
    return await make_gateway(catalog_url=upstreams["catalog"].url,
                              seckill_url=upstreams["seckill"].url,
                              cors_allowed_origins=[APP, "http://localhost:5173"])


def preflight(origin: str, method: str = "POST",
              headers: str = "Authorization, Content-Type, Idempotency-Key") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers}


async def test_a_preflight_from_a_listed_origin_is_answered_at_the_gateway(
    cors: TestClient, upstreams: dict[str, Upstream]
) -> None:
    response = await cors.options(ITEMS, headers=preflight(APP))
    assert response.status == 204, await response.text()
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert "POST" in response.headers["Access-Control-Allow-Methods"].split(", ")
    assert response.headers["Access-Control-Allow-Headers"] == (
        "authorization, content-type, idempotency-key")
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert set(response.headers["Vary"].split(", ")) == {
        "Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"}
    assert upstreams["seckill"].echoed == 0  # never forwarded


@pytest.mark.parametrize("asked", [
    preflight("https://evil.example.com"),
    preflight("https://app.example.com.evil.example.com"),
    preflight(APP, method="TRACE"),
    preflight(APP, headers="Authorization, X-User-Id"),
])
async def test_other_preflights_are_refused(cors: TestClient, asked: dict[str, str]) -> None:
    response = await cors.options(ITEMS, headers=asked)
    await assert_problem(response, 403, "cors-refused")
    if asked["Origin"] != APP:
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_answers_to_a_listed_origin_name_it_and_expose_the_headers_clients_read(
    cors: TestClient,
) -> None:
    response = await cors.get("/api/v1/catalog/courses", headers={"Origin": APP})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert set(response.headers["Access-Control-Expose-Headers"].split(", ")) == {
        "Retry-After", "RateLimit", "RateLimit-Policy", "X-Request-ID", "Location"}
    assert "Origin" in response.headers["Vary"].split(", ")
    refused = await cors.get("/api/v1/catalog/courses", headers={"Origin": "https://x.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Origin" in refused.headers["Vary"].split(", ")
    missing = await cors.get("/api/v1/nothing", headers={"Origin": APP})  # problems too
    assert missing.status == 404 and missing.headers["Access-Control-Allow-Origin"] == APP


async def test_without_a_list_there_is_no_cors_at_all(
    gateway: TestClient, upstreams: dict[str, Upstream]
) -> None:
    response = await gateway.options(ITEMS, headers=preflight(APP))
    assert response.status == 200 and upstreams["seckill"].echoed == 1  # the service's answer
    assert not any(name.startswith("Access-Control-") for name in response.headers)
    assert "Origin" not in response.headers.get("Vary", "")
    document = await (await gateway.get("/api/v1/openapi.json")).json()
    assert not any("options" in item for item in document["paths"].values())


def _cors_headers(response: ClientResponse) -> set[str]:
    return {name.lower() for name in response.headers
            if name.lower().startswith("access-control-") or name.lower() == "vary"}


async def test_the_document_names_the_cors_headers_and_the_preflights(cors: TestClient) -> None:
    document = await (await cors.get("/api/v1/openapi.json")).json()
    named = {name.lower() for name in document["components"]["headers"]}
    problem = document["components"]["responses"]["Problem"]
    assert {name.lower() for name in problem["headers"]} == named
    login = document["paths"]["/api/v1/auth/tokens"]["post"]["responses"]
    assert {name.lower() for name in login["200"]["headers"]} == named
    assert login["422"] == {"$ref": "#/components/responses/Problem"}
    refused = await cors.post("/api/v1/auth/tokens", json={}, headers={"Origin": APP})
    assert refused.status == 422 and _cors_headers(refused) <= named
    assert "access-control-allow-origin" in _cors_headers(refused)

    preflights = document["paths"]["/api/v1/seckill/items"]["options"]
    origin = next(p for p in preflights["parameters"] if p["name"] == "Origin")
    assert origin["schema"]["enum"] == sorted([APP, "http://localhost:5173"])
    allowed = await cors.options("/api/v1/seckill/items", headers=preflight(APP))
    assert allowed.status == 204
    assert _cors_headers(allowed) <= {name.lower()
                                      for name in preflights["responses"]["204"]["headers"]}
    await assert_problem(await cors.options("/api/v1/seckill/items",
                                            headers=preflight("https://x.example")), 403,
                         "cors-refused")
    assert "403" in preflights["responses"]
