"""The catalog's demo data: every image it names is a real picture in web/media/, and every
banner links to a route of the web client."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from services.catalog.demo import load_demo_data
from services.catalog.demo_images import demo_images
from services.catalog.entrypoints.http import RUNTIME_KEY
from tests.catalog.conftest import API, PUBLIC_BASE

pytestmark = pytest.mark.integration

MEDIA = Path(__file__).resolve().parents[2] / "web" / "media"
# ARCHITECTURE.md, "Web client": the routes a banner may send a reader to.
ROUTES = re.compile(r"^/(free-course|actual-course|light-course|seckill|course/\d+)?(\?.*)?$")


async def get_json(client: TestClient, path: str) -> Any:
    response = await client.get(f"{API}{path}")
    assert response.status == 200, await response.text()
    return await response.json()


async def demo_image_urls(client: TestClient) -> dict[str, set[str]]:
    assert await load_demo_data(client.app[RUNTIME_KEY].settings)
    courses = (await get_json(client, "/courses?page_size=100"))["results"]
    teachers = (await get_json(client, "/teachers?page_size=100"))["results"]
    return {
        "banners": {banner["image"] for banner in await get_json(client, "/banners")},
        "courses": {course["course_img"] for course in courses},
        "teachers": {teacher["image"] for teacher in teachers}
        | {course["teacher"]["image"] for course in courses},
    }


async def test_every_demo_image_is_a_real_picture(client: TestClient) -> None:
    urls = await demo_image_urls(client)
    assert {kind: len(found) for kind, found in urls.items()} \
        == {"banners": 4, "courses": 6, "teachers": 5}
    referenced = set()
    for url in set().union(*urls.values()):
        assert url.startswith(f"{PUBLIC_BASE}/media/"), url
        relative = url.removeprefix(f"{PUBLIC_BASE}/media/")
        referenced.add(relative)
        with Image.open(MEDIA / relative) as image:
            assert image.format in ("JPEG", "PNG"), url
            image.load()  # decodes every pixel: a truncated file fails here
            width, height = image.size
            assert width >= 100 and height >= 100, url
            # A picture, not a flat placeholder: many colours.
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
            assert colours is not None and len(colours) > 100, url
    # The drawing script makes exactly these, so running it again keeps them in step.
    assert referenced == set(demo_images())


async def test_demo_banners_link_to_web_client_routes(client: TestClient) -> None:
    assert await load_demo_data(client.app[RUNTIME_KEY].settings)
    links = [banner["link"] for banner in await get_json(client, "/banners")]
    assert links and all(ROUTES.fullmatch(link) for link in links), links
    categories = {c["id"] for c in await get_json(client, "/categories")}
    for link in links:
        if "category=" in link:
            assert int(link.rsplit("=", 1)[1]) in categories
