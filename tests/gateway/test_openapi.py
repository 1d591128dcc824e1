"""The merged OpenAPI document and the docs page."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from services.gateway.entrypoints.openapi import gateway_document, merge

PROBLEM_REF = "#/components/schemas/Problem"


def test_merge_renames_only_clashing_components_and_their_references() -> None:
    other = {"paths": {"/api/v1/x/a": {"get": {"$ref": PROBLEM_REF}}},
             "components": {"schemas": {"Problem": {"type": "string"},
                                        "CodeRequest": gateway_document()["components"][
                                            "schemas"]["CodeRequest"]}}}
    merged = merge(gateway_document(), {"x": other})
    schemas = merged["components"]["schemas"]
    assert schemas["x.Problem"] == {"type": "string"}
    assert schemas["Problem"] == gateway_document()["components"]["schemas"]["Problem"]
    assert "x.CodeRequest" not in schemas  # identical: shared, not renamed
    assert merged["paths"]["/api/v1/x/a"]["get"]["$ref"] == "#/components/schemas/x.Problem"
    assert "/api/v1/auth/tokens" in merged["paths"]


@pytest.mark.integration
async def test_the_document_merges_every_service_that_answers(gateway: TestClient) -> None:
    response = await gateway.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"] == "3.1.0"
    assert {"/api/v1/auth/sms-codes", "/api/v1/auth/tokens", "/api/v1/auth/me",
            "/api/v1/catalog/items", "/api/v1/seckill/items"} <= set(document["paths"])
    schemas = document["components"]["schemas"]
    assert schemas["catalog.Problem"]["x-from"] == "catalog"
    assert schemas["TokenRequest"]["properties"]["phone"]["pattern"]
    assert document["info"]["x-missing"] == ["scheduler"]  # nothing listens there

    page = await gateway.get("/api/docs")
    assert page.status == 200
    assert "/api/v1/openapi.json" in await page.text()
