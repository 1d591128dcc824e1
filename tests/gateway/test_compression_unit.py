"""Unit tests of the compression rules on aiohttp's own request and response objects (no
server): which answers are compressed, the tags and `Vary` they get."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import brotli
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from services.gateway.entrypoints.compression import add_vary, negotiate

BODY = b'{"results": [' + b", ".join(b'"course %d"' % n for n in range(200)) + b"]}"


def answer(body: bytes = BODY, content_type: str = "application/json",
           **headers: str) -> web.Response:
    return web.Response(body=body, content_type=content_type,
                        headers={"ETag": '"abc"', **headers})


def request(accept: str = "gzip, br", method: str = "GET", **headers: str) -> web.Request:
    return make_mocked_request(method, "/api/v1/catalog/courses",
                               headers={"Accept-Encoding": accept, **headers})


@pytest.mark.parametrize(("accept", "coding", "decode"), [
    ("gzip, br", "br", brotli.decompress), ("gzip", "gzip", gzip.decompress),
    ("br;q=0.1, gzip", "gzip", gzip.decompress),
])
def test_a_large_json_answer_is_compressed_and_its_tag_weakened(
    accept: str, coding: str, decode: Callable[[bytes], bytes],
) -> None:
    response = answer()
    negotiate(request(accept), response)
    assert response.headers["Content-Encoding"] == coding
    assert isinstance(response.body, bytes) and decode(response.body) == BODY
    assert response.headers["ETag"] == 'W/"abc"' and response.headers["Vary"] == "Accept-Encoding"


@pytest.mark.parametrize(("kind", "body", "accept"), [
    ("application/json", BODY[:1000], "gzip, br"),  # too small to gain
    ("application/json", BODY, "identity"),
    ("text/event-stream", BODY, "gzip, br"),
    ("text/html", BODY, "gzip, br"),
])
def test_other_answers_go_as_they_are(kind: str, body: bytes, accept: str) -> None:
    response = answer(body, kind)
    negotiate(request(accept), response)
    assert "Content-Encoding" not in response.headers and response.body == body
    assert response.headers["ETag"] == '"abc"'
    assert ("Vary" in response.headers) == kind.endswith("json")


def test_a_problem_is_json_too() -> None:
    response = answer(content_type="application/problem+json")
    negotiate(request(), response)
    assert response.headers["Content-Encoding"] == "br"


def test_a_304_gives_back_the_weak_tag_only_to_a_client_holding_it() -> None:
    for sent, expected in (('W/"abc"', 'W/"abc"'), ('"abc"', '"abc"'), ('W/"x", "abc"', '"abc"')):
        response = web.Response(status=304, headers={"ETag": '"abc"'})
        negotiate(request(**{"If-None-Match": sent}), response)
        assert response.headers["ETag"] == expected, sent
        assert response.headers["Vary"] == "Accept-Encoding"


def test_vary_keeps_what_is_there() -> None:
    headers: CIMultiDict[str] = CIMultiDict()
    add_vary(headers, "Accept-Encoding")
    add_vary(headers, "Origin")
    add_vary(headers, "origin")
    assert headers["Vary"] == "Accept-Encoding, Origin"
    star: CIMultiDict[str] = CIMultiDict({"Vary": "*"})
    add_vary(star, "Origin")
    assert star["Vary"] == "*"
