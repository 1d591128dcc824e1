"""The platform as a user runs it: `coursestream up`, then HTTP through the gateway."""

from __future__ import annotations

import aiohttp

from coursestream import registry
from tests.support.platform import Platform


async def test_every_service_is_alive_and_ready(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    for service in registry.SERVICES:
        for path in ("/healthz", "/readyz"):
            async with http.get(platform.service_url(service) + path) as response:
                assert response.status == 200, (service, path, await response.text())


async def test_home_page_is_served_by_the_gateway(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    async with http.get(platform.url + "/") as response:
        assert response.status == 200
        assert "text/html" in response.headers["Content-Type"]
        assert "coursestream" in (await response.text()).lower()


async def test_banners_have_absolute_images_that_load(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    async with http.get(platform.url + "/api/v1/catalog/banners") as response:
        assert response.status == 200
        banners = await response.json()
    assert len(banners) == 4
    assert [b["orders"] for b in banners] == sorted(b["orders"] for b in banners)
    for banner in banners:
        assert banner["image"].startswith(platform.url + "/")
        async with http.get(banner["image"]) as image:
            assert image.status == 200
            assert image.headers["Content-Type"].startswith("image/")


async def test_login_me_and_roles(
    http: aiohttp.ClientSession, platform: Platform, admin_headers: dict[str, str]
) -> None:
    async with http.get(platform.url + "/api/v1/auth/me", headers=admin_headers) as response:
        assert response.status == 200
        me = await response.json()
    assert me["phone"] == "13800000000" and "admin" in me["roles"]
    async with http.get(platform.url + "/api/v1/auth/me") as response:
        assert response.status == 401
        assert response.content_type == "application/problem+json"


async def test_a_banner_write_is_never_followed_by_a_stale_read(
    http: aiohttp.ClientSession, platform: Platform, admin_headers: dict[str, str]
) -> None:
    banners = platform.url + "/api/v1/catalog/banners"
    async with http.get(banners) as response:  # warm every cache layer
        before = await response.json()
    new = {"title": "Black Friday", "image": "/media/banners/1.svg", "link": "/free-course",
           "info": "e2e", "orders": 0}
    async with http.post(banners, json=new, headers=admin_headers) as response:
        assert response.status == 201, await response.text()
        created = await response.json()
    async with http.get(banners) as response:
        after = await response.json()
    public = {key: created[key] for key in before[0]}
    assert after == sorted([*before, public], key=lambda b: (b["orders"], b["id"]))
    async with http.patch(f"{banners}/{created['id']}", json={"title": "Cyber Monday"},
                          headers=admin_headers) as response:
        assert response.status == 200
    async with http.get(banners) as response:
        titles = {b["id"]: b["title"] for b in await response.json()}
    assert titles[created["id"]] == "Cyber Monday"
    async with http.delete(f"{banners}/{created['id']}", headers=admin_headers) as response:
        assert response.status == 204
    async with http.get(banners) as response:
        assert await response.json() == before


async def test_bad_input_is_refused_with_problems_and_changes_nothing(
    http: aiohttp.ClientSession, platform: Platform, admin_headers: dict[str, str],
    user_headers: dict[str, str],
) -> None:
    banners = platform.url + "/api/v1/catalog/banners"
    async with http.get(banners) as response:
        before = await response.json()
    cases = [
        ("POST", banners, {"title": "x"}, {}, 401),
        ("POST", banners, {"title": "x"}, user_headers, 403),
        ("POST", banners, {"title": ""}, admin_headers, 422),
        ("GET", platform.url + "/api/v1/catalog/courses?ordering=bogus", None, {}, 400),
        ("GET", platform.url + "/api/v1/catalog/courses/999999", None, {}, 404),
        ("GET", platform.url + "/api/v1/catalog/courses/abc", None, {}, 404),
        ("GET", platform.url + "/api/v1/nowhere", None, {}, 404),
    ]
    for method, url, body, headers, status in cases:
        async with http.request(method, url, json=body, headers=headers) as response:
            assert response.status == status, (method, url, await response.text())
            assert response.content_type == "application/problem+json"
            assert (await response.json())["status"] == status
    async with http.get(banners) as response:
        assert await response.json() == before


async def test_request_id_is_kept_through_the_gateway(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    headers = {"X-Request-ID": "e2e-request-42"}
    async with http.get(platform.url + "/api/v1/catalog/categories", headers=headers) as r:
        assert r.status == 200
        assert r.headers["X-Request-ID"] == "e2e-request-42"


async def test_gateway_metrics_only_on_the_admin_port(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    async with http.get(platform.url + "/metrics") as response:
        assert response.status == 404
    async with http.get(platform.admin_url + "/metrics") as response:
        assert response.status == 200
        assert 'http_requests_total{' in await response.text()
    async with http.get(platform.service_url("catalog") + "/metrics") as response:
        text = await response.text()
    assert 'route="/api/v1/catalog/banners"' in text
