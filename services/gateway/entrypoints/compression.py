"""Compressed JSON answers: brotli or gzip by the client's `Accept-Encoding` (q-values
honoured), for bodies of `MIN_BYTES` or more; never for event streams or anything not JSON.

Buffered answers (the proxy's small ones, the gateway's own) are compressed whole, brotli
preferred; streamed ones (a large page, an unknown length) by aiohttp's gzip writer, chunk by
chunk. A compressed answer's strong `ETag` becomes weak (the bytes differ from the service's),
and every JSON answer says `Vary: Accept-Encoding`. The web client's files are compressed
ahead of time by `web.py` and pass here untouched (they are `FileResponse`s, not buffered).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from aiohttp import hdrs, web
from aiohttp.helpers import ETag
from aiohttp.web_response import ContentCoding
from multidict import CIMultiDict

from services.gateway.entrypoints.web import choose_coding
from shared.metrics import Handler

try:  # brotli is a dependency, but a gateway without it still answers gzip
    import brotli
except ImportError:  # pragma: no cover - depends on the installation
    brotli = None

MIN_BYTES = 1024  # below this the headers cost more than compression saves
# Fast levels (docs/gateway.md): the demo's 18 KiB course page took 40-65 us to 1,669 bytes
# with gzip 1, 145-190 us to 1,388 with gzip 6; 80-120 us to 1,407 with brotli 3, and
# brotli 4 twice that for 1,326.
GZIP_LEVEL = 1
BROTLI_QUALITY = 3


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def _brotli(data: bytes) -> bytes:
    assert brotli is not None
    return bytes(brotli.compress(data, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY))


# In the server's order of preference among codings the client accepts equally.
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = (
    {"br": _brotli, "gzip": _gzip} if brotli is not None else {"gzip": _gzip})
CODINGS = tuple(COMPRESSORS)


def add_vary(headers: CIMultiDict[str], name: str) -> None:
    """Add `name` to `Vary`, keeping what is there."""
    present = headers.get(hdrs.VARY)
    if not present:
        headers[hdrs.VARY] = name
        return
    names = {part.strip().lower() for part in present.split(",")}
    if name.lower() not in names and "*" not in names:
        headers[hdrs.VARY] = f"{present}, {name}"


def _is_json(response: web.StreamResponse) -> bool:
    kind = response.content_type
    return kind == "application/json" or kind.endswith("+json")


def negotiate(request: web.Request, response: web.StreamResponse) -> None:
    """Compress `response` (not yet prepared) if it is JSON the client can take compressed."""
    if response.status == 304:
        _mirror_weak_tag(request, response)
        add_vary(response.headers, hdrs.ACCEPT_ENCODING)
        return
    if not _is_json(response) or hdrs.CONTENT_ENCODING in response.headers:
        return
    add_vary(response.headers, hdrs.ACCEPT_ENCODING)
    # Sizes first: parsing Accept-Encoding costs more than the rest for a small answer.
    accept = request.headers.get(hdrs.ACCEPT_ENCODING, "")
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        if len(response.body) < MIN_BYTES:
            return
        coding = choose_coding(accept, CODINGS)
        if coding is None:
            return
        response.body = COMPRESSORS[coding](response.body)
        response.headers[hdrs.CONTENT_ENCODING] = coding
    else:
        length = response.content_length
        if request.method == "HEAD" or (length is not None and length < MIN_BYTES) \
                or choose_coding(accept, ("gzip",)) is None:
            return
        response.enable_compression(ContentCoding.gzip)  # aiohttp drops Content-Length
    tag = response.etag
    if tag is not None and not tag.is_weak:
        response.etag = ETag(tag.value, is_weak=True)


def _mirror_weak_tag(request: web.Request, response: web.StreamResponse) -> None:
    """A service compares tags weakly, so it answers `If-None-Match: W/"x"` (the tag of a
    compressed copy) with a 304 carrying `"x"`: give the client back the tag it holds."""
    tag = response.etag
    if tag is not None and not tag.is_weak and any(
            match.is_weak and match.value == tag.value for match in request.if_none_match or ()):
        response.etag = ETag(tag.value, is_weak=True)


@web.middleware
async def compression_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Buffered answers only: the proxy's streamed ones call `negotiate` before they start,
    and files (the web client's, compressed ahead of time) are never compressed again."""
    response = await handler(request)
    if isinstance(response, web.Response) and not response.prepared:
        negotiate(request, response)
    return response
