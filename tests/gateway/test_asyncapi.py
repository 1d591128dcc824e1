"""`/api/v1/asyncapi.json` and its page `/api/asyncapi`, served by a real gateway."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from shared.asyncapi import asyncapi_document

pytestmark = pytest.mark.integration


async def test_the_gateway_serves_the_streams_document_and_its_page(
    gateway: TestClient,
) -> None:
    response = await gateway.get("/api/v1/asyncapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    document = await response.json()
    assert document == asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    assert "sms.send" in document["components"]["messages"]

    page = await gateway.get("/api/asyncapi", headers={"Accept": "text/html"})
    assert page.status == 200
    assert page.content_type == "text/html"
    body = await page.text()
    assert "/api/v1/asyncapi.json" in body
    assert "<script src" not in body  # self-contained, like /api/docs
