"""W3C traceparent: kept when valid, replaced when not, bound to log lines, carried by the
envelopes built while a request or a stream entry is handled."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from shared.consumers import Delivery, traced
from shared.events import Envelope
from shared.http import create_base_app, json_response
from shared.logging import merge_request_context
from shared.tracing import continued, current_or_new, new_traceparent, valid_traceparent

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
NEW = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01")


@pytest.mark.parametrize("value", [
    VALID.upper(),                                           # uppercase hex
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # another version
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",   # short trace id
    "", "garbage",
])
def test_invalid_traceparents_are_refused(value: str) -> None:
    assert valid_traceparent(value) is None


def test_a_valid_traceparent_is_kept_and_new_ones_are_valid_and_random() -> None:
    assert valid_traceparent(VALID) == VALID
    made = {new_traceparent() for _ in range(100)}
    assert len(made) == 100
    assert all(NEW.fullmatch(t) and valid_traceparent(t) == t for t in made)


def test_envelopes_carry_the_current_traceparent_else_a_new_one() -> None:
    with continued(VALID):
        assert Envelope(type="t", producer="p").traceparent == VALID
        assert current_or_new() == VALID
    first, second = (Envelope(type="t", producer="p").traceparent for _ in range(2))
    assert first != second and NEW.fullmatch(first or "")


def test_a_consumer_binds_its_entries_trace_ids() -> None:
    other = new_traceparent()
    one = [Delivery("1-0", Envelope(type="t", producer="p", traceparent=VALID), {})]
    with traced(one):
        assert merge_request_context(None, "info", {}) == {"trace_id": VALID[3:35]}
        assert Envelope(type="t", producer="p").traceparent == VALID
    two = [*one, Delivery("2-0", Envelope(type="t", producer="p", traceparent=other), {})]
    with traced(two):
        assert merge_request_context(None, "info", {}) == {
            "trace_ids": sorted([VALID[3:35], other[3:35]])}
        assert Envelope(type="t", producer="p").traceparent not in (VALID, other)
    assert merge_request_context(None, "info", {}) == {}


async def _seen(request: web.Request) -> web.Response:
    """The log fields and an envelope's traceparent while this request is served."""
    return json_response({"log": merge_request_context(None, "info", {}),
                          "envelope": Envelope(type="t", producer="p").traceparent})


@pytest.fixture
async def client() -> TestClient:  # type: ignore[misc]
    app = create_base_app("test")
    app.router.add_get("/seen", _seen)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_a_request_keeps_a_valid_traceparent(client: TestClient) -> None:
    seen = await (await client.get("/seen", headers={"traceparent": VALID})).json()
    assert seen["log"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert seen["envelope"] == VALID


@pytest.mark.parametrize("sent", [None, "00-zz-00f067aa0ba902b7-01", VALID.upper()])
async def test_a_request_without_a_valid_traceparent_starts_a_trace(
    client: TestClient, sent: str | None
) -> None:
    headers = {"traceparent": sent} if sent is not None else {}
    seen = await (await client.get("/seen", headers=headers)).json()
    assert NEW.fullmatch(seen["envelope"]) and seen["envelope"] != sent
    assert seen["log"]["trace_id"] == seen["envelope"][3:35]
