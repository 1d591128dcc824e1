"""HTTP conformance through the gateway with every process running: revalidation (ETag, 304)
of the public reads, compression, CORS, no-store on auth answers, no `Server` header."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import brotli
import pytest

from coursestream import registry
from tests.support.platform import Platform

ORIGIN = "https://app.example.com"  # CORS_ALLOWED_ORIGINS of the e2e platform


@pytest.fixture
async def raw() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that hands over the bytes as sent, compressed or not."""
    async with aiohttp.ClientSession(auto_decompress=False,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def new_item(http: aiohttp.ClientSession, platform: Platform,
                   admin_headers: dict[str, str]) -> int:
    now = datetime.now(UTC)
    item = {"course_id": 1, "title": "e2e http", "price": "1.00", "stock": 1,
            "starts_at": (now - timedelta(seconds=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat()}
    async with http.post(f"{platform.url}/api/v1/seckill/items", json=item,
                         headers=admin_headers) as response:
        assert response.status == 201, await response.text()
        return int((await response.json())["id"])


async def test_public_reads_revalidate_and_a_banner_edit_changes_the_tag(
    raw: aiohttp.ClientSession, platform: Platform, admin_headers: dict[str, str]
) -> None:
    item = await new_item(raw, platform, admin_headers)
    caching = {"/api/v1/catalog/banners": "public, no-cache",
               "/api/v1/catalog/categories": "public, max-age=10, must-revalidate",
               "/api/v1/catalog/courses?kind=actual&page=1": "public, max-age=10, must-revalidate",
               "/api/v1/catalog/courses/1": "public, max-age=10, must-revalidate",
               "/api/v1/seckill/items": "public, max-age=1, must-revalidate",
               f"/api/v1/seckill/items/{item}": "public, max-age=1, must-revalidate"}
    tags = {}
    for path, cache_control in caching.items():
        for accepted in ("identity", "gzip, br"):  # a plain copy and (above 1 KiB) a compressed
            headers = {"Accept-Encoding": accepted}
            async with raw.get(platform.url + path, headers=headers) as response:
                assert response.status == 200, (path, await response.text())
                assert response.headers["Cache-Control"] == cache_control, path
                tag = tags[path, accepted] = response.headers["ETag"]
            async with raw.get(platform.url + path,
                               headers={**headers, "If-None-Match": tag}) as response:
                assert response.status == 304, (path, accepted)
                assert response.headers["ETag"] == tag and await response.read() == b""
                assert response.headers["Cache-Control"] == cache_control
    # The API document names exactly these reads as revalidated (If-None-Match, 304).
    async with raw.get(f"{platform.url}/api/v1/openapi.json",
                       headers={"Accept-Encoding": "identity"}) as response:
        document = await response.json()
    documented = {path for path, operations in document["paths"].items()
                  if "304" in operations.get("get", {}).get("responses", {})}
    assert documented == {re.sub(r"/\d+$", "/{id}", path.split("?")[0]) for path in caching}
    banners = platform.url + "/api/v1/catalog/banners"
    async with raw.get(banners) as response:
        first = (await response.json())[0]
    for title in ("Edited for e2e", first["title"]):  # an edit, then back as it was
        async with raw.patch(f"{banners}/{first['id']}", json={"title": title},
                             headers=admin_headers) as response:
            assert response.status == 200, await response.text()
        old = tags[banners.removeprefix(platform.url), "identity"]
        async with raw.get(banners, headers={"Accept-Encoding": "identity",
                                             "If-None-Match": old}) as response:
            assert response.status == 200  # never a 304 for the copy before the edit
            assert {b["id"]: b["title"] for b in await response.json()}[first["id"]] == title
            tags[banners.removeprefix(platform.url), "identity"] = response.headers["ETag"]
            assert response.headers["ETag"] != old


async def test_json_is_compressed_as_accepted_and_event_streams_never(
    raw: aiohttp.ClientSession, platform: Platform, admin_headers: dict[str, str],
    user_headers: dict[str, str],
) -> None:
    courses = platform.url + "/api/v1/catalog/courses?page_size=20"
    async with raw.get(courses, headers={"Accept-Encoding": "identity"}) as response:
        plain = await response.read()
        assert "Content-Encoding" not in response.headers and len(plain) > 1024
        assert response.headers["Vary"] == "Accept-Encoding, Origin"
    for accepted, coding, decode in (("br, gzip", "br", brotli.decompress),
                                     ("gzip", "gzip", gzip.decompress)):
        async with raw.get(courses, headers={"Accept-Encoding": accepted}) as response:
            assert response.headers["Content-Encoding"] == coding
            assert response.headers["Vary"] == "Accept-Encoding, Origin"
            assert response.headers["ETag"].startswith('W/"')
            assert decode(await response.read()) == plain
    item = await new_item(raw, platform, admin_headers)
    async with raw.post(f"{platform.url}/api/v1/seckill/items/{item}/attempts",
                        headers=user_headers) as response:
        assert response.status == 202, await response.text()
        events = (await response.json())["links"]["events"]
    async with raw.get(events, headers={**user_headers, "Accept-Encoding": "gzip, br"}) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "text/event-stream"
        assert "Content-Encoding" not in r.headers
        assert (await r.read()).startswith(b"event: status\ndata: {")


async def test_cors_preflights_are_answered_at_the_gateway_for_listed_origins_only(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    url = platform.url + "/api/v1/seckill/items/1/attempts"
    asked = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, idempotency-key"}
    async with http.options(url, headers={**asked, "Origin": ORIGIN}) as response:
        assert response.status == 204, await response.text()
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert response.headers["Access-Control-Allow-Headers"] == "authorization, idempotency-key"
    async with http.options(url, headers={**asked, "Origin": "https://evil.example"}) as r:
        assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
    async with http.get(platform.url + "/api/v1/catalog/categories",
                        headers={"Origin": ORIGIN}) as response:
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
        assert "Origin" in response.headers["Vary"]


async def test_auth_answers_are_no_store_and_no_answer_names_the_server(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    auth = platform.url + "/api/v1/auth"
    answers = []
    address = {"X-Forwarded-For": "198.51.100.77"}  # limits of its own
    async with http.post(f"{auth}/sms-codes", json={"phone": "13600000077"},
                         headers=address) as response:
        answers.append((202, response))
    async with http.post(f"{auth}/tokens", json={"phone": "13900000000",
                         "password": "user12345"}, headers=address) as response:
        answers.append((200, response))
        tokens = await response.json()
    async with http.post(f"{auth}/tokens/refresh", json={
            "refresh_token": tokens["refresh_token"]}, headers=address) as response:
        answers.append((200, response))
        bearer = {"Authorization": f"Bearer {(await response.json())['access_token']}"}
    async with http.get(f"{auth}/me", headers=bearer) as response:
        answers.append((200, response))
    async with http.post(f"{auth}/logout", headers={**bearer, **address}) as response:
        answers.append((204, response))
    async with http.get(f"{auth}/me") as response:  # a refusal is an auth answer too
        answers.append((401, response))
    for status, response in answers:
        assert response.status == status, response.url
        assert response.headers["Cache-Control"] == "no-store", response.url
        assert "Server" not in response.headers
    sites = [platform.url + "/", platform.url + "/api/v1/catalog/banners",
             platform.url + "/api/v1/nowhere", platform.admin_url + "/healthz",
             *(platform.service_url(service) + "/healthz" for service in registry.SERVICES)]
    for url in sites:
        async with http.get(url) as response:
            assert "Server" not in response.headers, url
