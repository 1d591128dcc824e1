"""Delays and schedules are checked against the event registry (`shared.event_types`) when
asked for, over real HTTP with real Redis and a real database: a bad event is refused with its
field named and nothing stored; the seed's `{"phone", "code"}` SMS is accepted and sent by the
real SMS sender."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from services.scheduler.entrypoints.sms_sender import sms_sender
from services.scheduler.settings import Settings
from tests.scheduler.conftest import BASE
from tests.scheduler.test_api import problem
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

SEED_SMS = {"phone": "18888888", "code": "6666"}  # the seed's send_sms('18888888', '6666')
EVERY_MINUTE = {"type": "interval", "every_s": 60}


def fields(found: dict[str, Any]) -> set[str]:
    return {".".join(error["loc"][1:]) for error in found["errors"]}


@pytest.mark.parametrize("stream, event_type, data, field", [
    ("notify.sms", "sms.send", {"phone": "18888888"}, "data"),
    ("notify.sms", "sms.send", {"phone": "call me", "code": "6666"}, "data.phone"),
    ("notify.sms", "sms.send", {"phone": "18888888", "code": "6666", "cc": "x"}, "data.cc"),
    ("notify.sms", "sms.sned", SEED_SMS, "type"),
    ("notify.sms", "order.expire", {"order_id": 1}, "type"),
    ("seckill.commands", "order.expire", {"order_id": "one"}, "data.order_id"),
    ("catalog.commands", "banners.rebuild-cache", {"all": True}, "data.all"),
])
async def test_a_mismatched_delay_is_422_naming_the_field_and_stores_nothing(
    client: Any, admin: dict[str, str], redis: Redis,
    stream: str, event_type: str, data: dict[str, Any], field: str,
) -> None:
    response = await client.post(f"{BASE}/delays", headers=admin, json={
        "stream": stream, "type": event_type, "data": data, "delay_s": 0, "key": "k"})
    found = await problem(response, 422)
    assert field in fields(found), found
    assert await redis.zcard("{scheduler:delays}:due") == 0
    assert await redis.xlen(stream) == 0


async def test_a_mismatched_schedule_is_422_naming_the_field_and_stores_nothing(
    client: Any, admin: dict[str, str],
) -> None:
    bad = {"stream": "notify.sms", "type": "sms.send", "data": {**SEED_SMS, "code": "66"}}
    response = await client.post(f"{BASE}/schedules", headers=admin, json={
        "id": "nightly-sms", "trigger": EVERY_MINUTE, "event": bad})
    assert fields(await problem(response, 422)) == {"event.data.code"}
    await problem(await client.get(f"{BASE}/schedules/nightly-sms", headers=admin), 404)

    good = {"stream": "notify.sms", "type": "sms.send", "data": SEED_SMS}
    created = await client.post(f"{BASE}/schedules", headers=admin, json={
        "id": "nightly-sms", "trigger": EVERY_MINUTE, "event": good})
    assert created.status == 201, await created.text()
    patched = await client.patch(f"{BASE}/schedules/nightly-sms", headers=admin,
                                 json={"event": {**good, "type": "order.expire"}})
    assert fields(await problem(patched, 422)) == {"event.type"}
    kept = await (await client.get(f"{BASE}/schedules/nightly-sms", headers=admin)).json()
    assert kept["event"] == good


async def test_a_stream_the_registry_does_not_know_carries_any_type(
    client: Any, admin: dict[str, str],
) -> None:
    """`test.out` is an operator's own target stream (settings): nothing in the code reads it."""
    response = await client.post(f"{BASE}/delays", headers=admin, json={
        "stream": "test.out", "type": "thing.happened", "data": {"n": 1}, "delay_s": 3600})
    assert response.status == 201, await response.text()


async def test_the_seed_sms_form_is_delayed_then_sent_by_the_sms_sender(
    client: Any, admin: dict[str, str], redis: Redis, settings: Settings, tmp_path: Path,
) -> None:
    response = await client.post(f"{BASE}/delays", headers=admin, json={
        "stream": "notify.sms", "type": "sms.send", "data": SEED_SMS, "delay_s": 0})
    assert response.status == 201, await response.text()
    async with sms_sender(settings, CollectorRegistry()):
        async def sent() -> bool:
            return settings.sms_outbox.exists() and settings.sms_outbox.read_bytes() != b""

        await eventually(sent)
    (line,) = [orjson.loads(raw) for raw in settings.sms_outbox.read_bytes().splitlines()]
    assert line["phone"] == "18888888" and line["template"] == "login_code"
    assert line["text"] == "Your coursestream login code is 6666. It is valid for 5 minutes."
    assert await redis.exists("notify.sms.dead") == 0
    info = await redis.xinfo_groups("notify.sms")
    assert info[0]["pending"] == 0
