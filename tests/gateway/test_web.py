"""The web client on a real gateway server: a dist folder made here, as `npm run build` would."""

from __future__ import annotations

import gzip
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import brotli
import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from services.gateway.adapters.precompress import precompress
from services.gateway.entrypoints.web import accepts_html, choose_coding
from tests.gateway.conftest import GatewayFactory, assert_problem

pytestmark = pytest.mark.integration

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # Chromium's
INDEX = ("<!doctype html><html><head><meta charset='utf-8'><title>coursestream</title>"
         "<script type='module' crossorigin src='/assets/index-3f2a9c1b.js'></script></head>"
         "<body><div id='app'></div>" + "<!-- padding so it is worth compressing -->" * 20
         + "</body></html>")
SCRIPT = "export const courses = [" + ",".join(f"{{id:{n},name:'course {n}'}}"
                                               for n in range(200)) + "];\n"
ASSET = "/assets/index-3f2a9c1b.js"
MEDIA_ORIGIN = "https://media.example.test"


@dataclass
class Web:
    dist: Path
    media: Path
    client: TestClient
    raw: aiohttp.ClientSession  # never decompresses, so the coding on the wire is checked

    async def get(self, path: str, **headers: str) -> tuple[aiohttp.ClientResponse, bytes]:
        # Sent as written: yarl would resolve `%2e%2e` before the server saw it.
        url = URL(f"http://{self.client.host}:{self.client.port}{path}", encoded=True)
        headers.setdefault("Accept-Encoding", "identity")  # aiohttp's default asks for br
        async with self.raw.get(url, headers=headers) as response:
            return response, await response.read()


def build(dist: Path) -> None:
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / ASSET.lstrip("/")).write_text(SCRIPT)
    (dist / "assets" / "tiny-0a1b2c3d.css").write_text("a{}")
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")


@pytest.fixture
async def web(make_gateway: GatewayFactory, tmp_path: Path) -> AsyncIterator[Web]:
    dist, media = tmp_path / "dist", tmp_path / "media"
    build(dist)
    (media / "covers").mkdir(parents=True)
    (media / "covers" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "secret.txt").write_text("outside the dist folder")
    (dist / "escape.txt").symlink_to(tmp_path / "secret.txt")
    client = await make_gateway(web_dist_dir=dist, web_media_dir=media,
                                public_base_url=f"{MEDIA_ORIGIN}/base/")
    async with aiohttp.ClientSession(auto_decompress=False) as raw:
        yield Web(dist, media, client, raw)


def assert_page_headers(response: aiohttp.ClientResponse) -> None:
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.content_type == "text/html"
    csp = dict(part.strip().split(" ", 1) for part in
               response.headers["Content-Security-Policy"].split(";"))
    assert csp == {
        "default-src": "'self'", "script-src": "'self'", "style-src": "'self'",
        "img-src": f"'self' {MEDIA_ORIGIN} data:", "font-src": "'self'",
        "connect-src": "'self'", "object-src": "'none'", "base-uri": "'self'",
        "form-action": "'self'", "frame-ancestors": "'none'",
    }
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/", "/index.html", "/free-course", "/free-course?page=2",
                                  "/course/7", "/seckill/1?from=home", "/login?next=%2Forders",
                                  "/no/such/page.html"])
async def test_every_page_path_that_accepts_html_gets_the_index(web: Web, path: str) -> None:
    response, body = await web.get(path, Accept=HTML)
    assert response.status == 200
    assert response.headers.get("Content-Encoding") is None
    assert body.decode() == INDEX
    assert_page_headers(response)


async def test_the_root_is_the_page_whatever_the_client_accepts(web: Web) -> None:
    for accept in ("*/*", "application/json"):
        response, body = await web.get("/", Accept=accept)
        assert (response.status, body.decode()) == (200, INDEX)


@pytest.mark.parametrize(("path", "accept"), [
    ("/assets/nope.js", "*/*"),
    ("/assets/nope.js", HTML),  # a hashed asset is never the page, even when asked for HTML
    ("/cover.png", "image/avif,image/webp,image/*,*/*;q=0.8"),
    ("/free-course", "*/*"),  # fetch() of a path that is no file
    ("/free-course", "text/html;q=0, */*"),
    ("/media/covers/nope.png", HTML),
    ("/api", HTML),
    ("/api/v1/nothing", HTML),
    ("/api/v1/catalogue/courses", "*/*"),
])
async def test_missing_files_and_unknown_api_paths_are_404_problems(
    web: Web, path: str, accept: str,
) -> None:
    response = await web.client.get(path, headers={"Accept": accept})
    await assert_problem(response, 404, "not-found")
    if not path.startswith("/api"):
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_only_get_and_head_reach_the_page(web: Web) -> None:
    for method in ("POST", "PUT", "DELETE"):
        response = await web.client.request(method, "/free-course", headers={"Accept": HTML})
        await assert_problem(response, 405, "method-not-allowed")


async def test_api_routes_are_not_the_page(web: Web) -> None:
    response = await web.client.get("/api/v1/openapi.json", headers={"Accept": HTML})
    assert response.status == 200
    assert (await response.json())["openapi"].startswith("3.1")


async def test_cache_headers_by_kind_of_file(web: Web) -> None:
    asset, body = await web.get(ASSET)
    assert (asset.status, body.decode()) == (200, SCRIPT)
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert asset.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert asset.headers["X-Content-Type-Options"] == "nosniff"
    favicon, _ = await web.get("/favicon.svg")
    assert favicon.headers["Cache-Control"] == "public, max-age=3600"
    assert favicon.content_type == "image/svg+xml"
    media, body = await web.get("/media/covers/1.png")
    assert (media.status, media.content_type) == (200, "image/png")
    assert media.headers["Cache-Control"] == "public, max-age=3600"
    assert body == (web.media / "covers" / "1.png").read_bytes()
    assert "Vary" not in media.headers  # no compressed copy of an image, nothing to vary
    (web.dist / "media" / "covers").mkdir(parents=True)  # the build is not a media folder
    (web.dist / "media" / "covers" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(8))
    missing, _ = await web.get("/media/covers/2.png")
    assert missing.status == 404
    page, _ = await web.get("/course/1", Accept=HTML)
    assert page.headers["Cache-Control"] == "no-cache"


async def test_precompressed_copies_are_made_at_start_and_chosen_by_accept_encoding(
    web: Web,
) -> None:
    for name in ("index.html", ASSET.lstrip("/")):
        assert (web.dist / f"{name}.gz").is_file() and (web.dist / f"{name}.br").is_file()
    # Too small to be worth it.
    assert not (web.dist / "assets" / "tiny-0a1b2c3d.css.gz").exists()

    cases = {
        "gzip, deflate, br, zstd": "br", "br": "br", "gzip": "gzip", "*": "br",
        "gzip, br;q=0.5": "gzip", "br;q=0, gzip": "gzip", "gzip;q=0, br;q=0": None,
        "identity": None, "": None, "deflate": None, "*;q=0, identity": None,
    }
    decode = {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda data: data}
    for accept_encoding, coding in cases.items():
        for path, original in ((ASSET, SCRIPT), ("/free-course?page=3", INDEX)):
            response, body = await web.get(path, **{"Accept-Encoding": accept_encoding,
                                                     "Accept": HTML})
            assert response.status == 200
            assert response.headers.get("Content-Encoding") == coding, accept_encoding
            assert response.headers["Vary"] == "Accept-Encoding"
            assert int(response.headers["Content-Length"]) == len(body)
            assert decode[coding](body).decode() == original
            if coding is not None:
                assert len(body) < len(original.encode())
            assert response.content_type != "application/gzip"


async def test_conditional_get_answers_304_per_coding(web: Web) -> None:
    plain, _ = await web.get(ASSET, **{"Accept-Encoding": "identity"})
    packed, _ = await web.get(ASSET, **{"Accept-Encoding": "gzip"})
    assert plain.headers["ETag"] != packed.headers["ETag"]  # one per representation
    again, body = await web.get(ASSET, **{"Accept-Encoding": "gzip",
                                          "If-None-Match": packed.headers["ETag"]})
    assert (again.status, body) == (304, b"")
    assert again.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    other, _ = await web.get(ASSET, **{"Accept-Encoding": "gzip",
                                       "If-None-Match": plain.headers["ETag"]})
    assert other.status == 200
    page, _ = await web.get("/", Accept=HTML)
    since, _ = await web.get("/orders", Accept=HTML,
                             **{"If-Modified-Since": page.headers["Last-Modified"]})
    assert since.status == 304


async def test_a_page_rebuilt_after_start_is_never_served_from_a_stale_copy(web: Web) -> None:
    index = web.dist / "index.html"
    newer = INDEX.replace("coursestream", "coursestream, rebuilt")
    index.write_text(newer)
    stat = (web.dist / "index.html.br").stat()
    os.utime(index, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    response, body = await web.get("/", **{"Accept-Encoding": "br, gzip"})
    assert response.headers.get("Content-Encoding") is None
    assert body.decode() == newer


async def test_head_has_the_headers_and_no_body(web: Web) -> None:
    for path, accept_encoding in ((ASSET, "br"), ("/actual-course?page=2", "gzip")):
        full, body = await web.get(path, Accept=HTML, **{"Accept-Encoding": accept_encoding})
        async with web.raw.head(web.client.make_url(path), headers={
                "Accept": HTML, "Accept-Encoding": accept_encoding}) as head:
            assert head.status == 200
            assert await head.read() == b""
            for name in ("Content-Length", "Content-Encoding", "Cache-Control", "ETag",
                         "Content-Type", "Vary"):
                assert head.headers[name] == full.headers[name], name
        assert int(full.headers["Content-Length"]) == len(body)
    async with web.raw.head(web.client.make_url("/assets/nope.js")) as missing:
        assert missing.status == 404


@pytest.mark.parametrize("path", ["/%2e%2e/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
                                  "/..%2fsecret.txt", "/escape.txt", "/media/%2e%2e/secret.txt",
                                  "/media/..%2fdist/index.html", "/%00"])
async def test_nothing_outside_the_folders_is_served(web: Web, path: str) -> None:
    for accept in ("*/*", HTML):
        response, body = await web.get(path, Accept=accept)
        assert b"outside the dist folder" not in body
        page_path = accept == HTML and not path.startswith("/media/")
        assert response.status in ((200, 404) if page_path else (404,))
        if response.status == 200:  # a page path: the index, as for any other
            assert body.decode() == INDEX


async def test_without_a_build_the_root_explains_how_to_build(
    make_gateway: GatewayFactory, tmp_path: Path,
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "a.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    client = await make_gateway(web_dist_dir=tmp_path / "never-built", web_media_dir=media)
    for path in ("/", "/free-course?page=2"):
        response = await client.get(path, headers={"Accept": HTML})
        assert response.status == 503
        assert response.content_type == "text/html"
        text = await response.text()
        assert "not built" in text and "./dev up" in text
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    await assert_problem(await client.get("/assets/index-1.js"), 404, "not-found")
    assert (await client.get("/media/a.svg")).status == 200
    assert (await client.get("/healthz")).status == 200


def test_accept_rules() -> None:
    assert accepts_html(HTML)
    assert accepts_html("TEXT/HTML")
    assert not accepts_html("*/*")
    assert not accepts_html("text/*")
    assert not accepts_html("text/html;q=0")
    assert not accepts_html("text/html;q=oops")
    assert choose_coding("br;q=0.2, gzip;q=0.1", ("br", "gzip")) == "br"
    assert choose_coding("br", ("gzip",)) is None
    assert choose_coding("*;q=0.5, gzip;q=0", ("br", "gzip")) == "br"


def test_precompress_remakes_stale_copies_and_leaves_fresh_ones(tmp_path: Path) -> None:
    build(tmp_path)
    first = precompress(tmp_path)
    assert {path.name for path in first} == {"index.html.gz", "index.html.br",
                                             "index-3f2a9c1b.js.gz", "index-3f2a9c1b.js.br"}
    assert precompress(tmp_path) == []
    script = tmp_path / ASSET.lstrip("/")
    script.write_text(SCRIPT.replace("course", "lesson"))
    stat = (tmp_path / f"{ASSET.lstrip('/')}.gz").stat()
    os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert {path.name for path in precompress(tmp_path)} == {"index-3f2a9c1b.js.gz",
                                                             "index-3f2a9c1b.js.br"}
    assert gzip.decompress((tmp_path / f"{ASSET.lstrip('/')}.gz").read_bytes()) \
        == script.read_bytes()
    assert not list(tmp_path.rglob(".*"))  # no temporary file left behind


async def test_copies_a_build_tool_made_are_served_as_they_are(web: Web) -> None:
    favicon = web.dist / "favicon.svg"  # too small for the gateway to compress itself
    assert not (web.dist / "favicon.svg.gz").exists()
    (web.dist / "favicon.svg.gz").write_bytes(gzip.compress(favicon.read_bytes()))
    response, body = await web.get("/favicon.svg", **{"Accept-Encoding": "br, gzip"})
    assert (response.headers["Content-Encoding"], response.content_type) \
        == ("gzip", "image/svg+xml")
    assert gzip.decompress(body) == favicon.read_bytes()


async def test_json_files_of_the_build_are_not_compressed_again_by_the_api_compressor(
    web: Web,
) -> None:
    """The gateway compresses API JSON on the way out; the build's own JSON files are served
    as they are on disk, precompressed or not (here too small for a copy)."""
    manifest = web.dist / "app.webmanifest"
    manifest.write_text('{"name": "coursestream", "icons": []}' + " " * 1200)
    response, body = await web.get("/app.webmanifest", **{"Accept-Encoding": "gzip, br"})
    assert response.status == 200 and response.content_type == "application/manifest+json"
    assert "Content-Encoding" not in response.headers and body == manifest.read_bytes()
