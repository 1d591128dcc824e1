"""JSON answers compressed at the gateway, against real upstream servers: decoded equal to the
plain answer, `Vary` and weakened tags, q-values, never an event stream."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import aiohttp
import brotli
import pytest
from aiohttp.test_utils import TestClient

from tests.gateway.upstreams import Upstream

pytestmark = pytest.mark.integration

SIZED = "/api/v1/catalog/sized?bytes="


@pytest.fixture
async def raw(gateway: TestClient) -> AsyncIterator[aiohttp.ClientSession]:
    """A client that hands over the bytes as sent, compressed or not."""
    async with aiohttp.ClientSession(str(gateway.make_url("")), auto_decompress=False,
                                     timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def fetch(raw: aiohttp.ClientSession, path: str,
                **headers: str) -> tuple[int, aiohttp.typedefs.CIMultiDictProxy[str], bytes]:
    async with raw.get(path, headers={k.replace("_", "-"): v for k, v in headers.items()}) as r:
        return r.status, r.headers, await r.read()


DECODE = {"br": brotli.decompress, "gzip": gzip.decompress}


@pytest.mark.parametrize(("size", "codings"), [
    (5_000, {"gzip, deflate, br": "br", "gzip": "gzip", "br;q=0.5, gzip": "gzip"}),
    # past the proxy's buffer the answer streams: gzip only (aiohttp's stream compressor)
    (100_000, {"gzip, deflate, br": "gzip", "br": None}),
])
async def test_json_is_compressed_as_accepted_and_decodes_to_the_plain_answer(
    raw: aiohttp.ClientSession, size: int, codings: dict[str, str | None]
) -> None:
    status, plain_headers, plain = await fetch(raw, f"{SIZED}{size}", Accept_Encoding="identity")
    assert status == 200 and len(plain) > size * 0.9
    assert "Content-Encoding" not in plain_headers
    assert plain_headers["Vary"] == "Accept-Encoding"
    tag = plain_headers["ETag"]
    assert tag.startswith('"')
    for accepted, coding in codings.items():
        status, headers, body = await fetch(raw, f"{SIZED}{size}", Accept_Encoding=accepted)
        assert status == 200 and headers["Vary"] == "Accept-Encoding", accepted
        assert headers.get("Content-Encoding") == coding, accepted
        if coding is None:
            assert body == plain and headers["ETag"] == tag
            continue
        assert DECODE[coding](body) == plain and len(body) < len(plain) / 3
        assert headers["ETag"] == f"W/{tag}"  # not the same bytes as the service's any more


async def test_q_values_are_honoured(raw: aiohttp.ClientSession) -> None:
    for accepted, coding in {"gzip;q=0, br;q=0": None, "*": "br", "*;q=0": None,
                             "identity": None, "": None}.items():
        _, headers, _ = await fetch(raw, f"{SIZED}5000", Accept_Encoding=accepted)
        assert headers.get("Content-Encoding") == coding, accepted


async def test_a_small_answer_is_sent_as_it_is_but_still_varies(
    raw: aiohttp.ClientSession,
) -> None:
    _, headers, body = await fetch(raw, f"{SIZED}900", Accept_Encoding="gzip, br")
    assert len(body) < 1024 and "Content-Encoding" not in headers
    assert headers["Vary"] == "Accept-Encoding" and headers["ETag"].startswith('"')


async def test_a_304_for_a_compressed_copy_gives_back_the_weak_tag(
    raw: aiohttp.ClientSession,
) -> None:
    _, headers, _ = await fetch(raw, f"{SIZED}5000", Accept_Encoding="br")
    weak = headers["ETag"]
    assert weak.startswith('W/"')
    status, again, body = await fetch(raw, f"{SIZED}5000", Accept_Encoding="br",
                                      If_None_Match=weak)
    assert status == 304 and body == b""
    assert again["ETag"] == weak and again["Vary"] == "Accept-Encoding"
    status, again, _ = await fetch(raw, f"{SIZED}5000", If_None_Match=weak[2:])
    assert status == 304 and again["ETag"] == weak[2:]  # the strong tag for the plain copy


async def test_an_event_stream_is_never_compressed(
    raw: aiohttp.ClientSession, upstreams: dict[str, Upstream]
) -> None:
    upstreams["seckill"].release.set()
    status, headers, body = await fetch(raw, "/api/v1/seckill/tickets/t1/events",
                                        Accept_Encoding="gzip, br")
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    assert "Content-Encoding" not in headers
    assert body == b"event: status\ndata: pending\n\nevent: status\ndata: success\n\n"
