"""One seckill attempt followed by its W3C trace id through the JSON logs: gateway, seckill
service, order writer."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from tests.e2e.test_flash_sale import ticket_events
from tests.support.platform import Platform
from tests.support.waiting import eventually

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def traced_lines(platform: Platform, trace_id: str) -> list[dict[str, Any]]:
    """The JSON log lines of every process that carry `trace_id` (alone or in a batch)."""
    lines = []
    for raw in platform.log().splitlines():
        if trace_id not in raw or not raw.startswith("{"):
            continue
        line = json.loads(raw)
        if trace_id == line.get("trace_id") or trace_id in line.get("trace_ids", []):
            lines.append(line)
    return lines


async def test_an_attempt_is_followed_by_its_trace_id_from_gateway_to_order_writer(
    http: aiohttp.ClientSession, platform: Platform, admin_headers: dict[str, str],
    user_headers: dict[str, str],
) -> None:
    api = platform.url + "/api/v1/seckill"
    now = datetime.now(UTC)
    item = {"course_id": 1, "title": "traced sale", "price": "1.00", "stock": 1,
            "starts_at": (now - timedelta(seconds=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat()}
    async with http.post(f"{api}/items", json=item, headers=admin_headers) as response:
        assert response.status == 201, await response.text()
        item_id = (await response.json())["id"]
    async with http.post(f"{api}/items/{item_id}/attempts",
                         headers={**user_headers, "traceparent": TRACEPARENT}) as response:
        assert response.status == 202, await response.text()
        ticket = await response.json()
    events = await asyncio.wait_for(
        ticket_events(http, ticket["links"]["events"], user_headers), 30)
    assert events[-1]["status"] == "success", events

    async def every_hop_logged() -> bool:
        services = {line["service"] for line in traced_lines(platform, TRACE_ID)}
        return {"gateway", "seckill", "order-writer"} <= services

    await eventually(every_hop_logged, within=10)
    lines = traced_lines(platform, TRACE_ID)
    attempts = [line for line in lines if line["event"] == "request served"
                and line["path"] == f"/api/v1/seckill/items/{item_id}/attempts"]
    assert {line["service"] for line in attempts} == {"gateway", "seckill"}
    assert all(line["status"] == 202 for line in attempts)
    # The gateway sent the seckill its own request id: both lines share it.
    assert len({line["request_id"] for line in attempts}) == 1
    assert any(line["event"] == "orders written" for line in lines
               if line["service"] == "order-writer")


async def test_a_request_without_a_valid_traceparent_gets_a_new_trace(
    http: aiohttp.ClientSession, platform: Platform, admin_headers: dict[str, str],
) -> None:
    banner = {"title": "traced", "image": "/media/banners/1.svg", "link": "/", "info": "e2e",
              "orders": 99}
    banners = platform.url + "/api/v1/catalog/banners"
    invalid = f"00-{TRACE_ID.upper()}-b7ad6b7169203331-01"
    async with http.post(banners, json=banner,
                         headers={**admin_headers, "traceparent": invalid}) as response:
        assert response.status == 201, await response.text()
        request_id = response.headers["X-Request-ID"]
        created = await response.json()
    async with http.delete(f"{banners}/{created['id']}", headers=admin_headers) as response:
        assert response.status == 204

    def served() -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in platform.log().splitlines()
                if request_id in raw and raw.startswith("{") and "request served" in raw]

    async def both_logged() -> bool:
        return {line["service"] for line in served()} == {"gateway", "catalog"}

    await eventually(both_logged, within=10)
    trace_ids = {line["trace_id"] for line in served()}
    assert len(trace_ids) == 1  # the gateway's new trace reached the catalog
    assert trace_ids != {TRACE_ID.upper()} and trace_ids != {TRACE_ID}
