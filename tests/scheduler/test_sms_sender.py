"""The SMS sender against real Redis, a real broker and a real local HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from services.scheduler.entrypoints.sms_sender import sms_sender
from services.scheduler.settings import Settings as SchedulerSettings
from shared.embedded_redis import free_port
from shared.events import Envelope, decode_entry, publish
from shared.settings import SettingsError
from tests.scheduler.conftest import SettingsFactory
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def sms(phone: str = "13900000001", code: str = "123456") -> Envelope:
    return Envelope(type="sms.send", producer="gateway",
                    data={"phone": phone, "template": "login_code", "params": {"code": code}})


class FlakyProvider:
    """A real HTTP server that answers 503 to the first `fail` requests, then 200."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.received: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        if len(self.received) <= self.fail:
            return web.Response(status=503, text="try later")
        self.accepted.append(body)
        return web.json_response({"ok": True})


@pytest.fixture
async def provider_server(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, Any]]:
    provider = FlakyProvider(request.param)
    app = web.Application()
    app.router.add_post("/sms", provider.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/sms", provider
    await runner.cleanup()


def sample(registry: CollectorRegistry, name: str, provider: str) -> float:
    return registry.get_sample_value(name, {"provider": provider}) or 0.0


async def test_console_provider_writes_the_code_to_the_outbox(
    redis: Redis, redis_url: str, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, "sqlite://", var_dir=tmp_path)
    registry = CollectorRegistry()
    async with sms_sender(settings, registry):
        event = sms(code="424242")
        await publish(redis, "notify.sms", event)
        await publish(redis, "notify.sms", event)  # a duplicate delivery is sent once

        async def written() -> bool:
            info = await redis.xinfo_groups("notify.sms")
            return settings.sms_outbox.exists() and info[0]["pending"] == 0 and info[0][
                "entries-read"] == 2

        await eventually(written)
    lines = [orjson.loads(line) for line in settings.sms_outbox.read_bytes().splitlines()]
    assert len(lines) == 1
    assert lines[0]["phone"] == "13900000001" and lines[0]["params"] == {"code": "424242"}
    assert "424242" in lines[0]["text"] and lines[0]["id"] == event.id
    assert sample(registry, "sms_sent_total", "console") == 1


@pytest.mark.parametrize("provider_server", [2], indirect=True)
async def test_http_provider_retries_with_backoff_until_it_goes_through(
    redis: Redis, redis_url: str, make_settings: SettingsFactory,
    provider_server: tuple[str, FlakyProvider],
) -> None:
    url, provider = provider_server
    settings = make_settings(redis_url, "sqlite://", sms_provider="http", sms_http_url=url,
                             sms_http_attempts=3, sms_http_backoff_s=0.05)
    registry = CollectorRegistry()
    async with sms_sender(settings, registry):
        event = sms()
        await publish(redis, "notify.sms", event)

        async def accepted() -> bool:
            return len(provider.accepted) == 1

        await eventually(accepted)
    assert len(provider.received) == 3  # two 503s, then the one that went through
    assert provider.accepted[0]["id"] == event.id
    assert provider.accepted[0]["params"] == {"code": "123456"}
    assert sample(registry, "sms_sent_total", "http") == 1
    assert sample(registry, "sms_failed_total", "http") == 0


@pytest.mark.parametrize("provider_server", [10_000], indirect=True)
async def test_http_provider_down_dead_letters_after_five_deliveries(
    redis: Redis, redis_url: str, make_settings: SettingsFactory,
    provider_server: tuple[str, FlakyProvider],
) -> None:
    url, provider = provider_server
    settings = make_settings(redis_url, "sqlite://", sms_provider="http", sms_http_url=url,
                             sms_http_attempts=1, sms_claim_idle_ms=100)
    registry = CollectorRegistry()
    async with sms_sender(settings, registry):
        event = sms()
        await publish(redis, "notify.sms", event)

        async def dead() -> bool:
            return await redis.xlen("notify.sms.dead") == 1

        await eventually(dead, within=20)
    [(_, fields)] = await redis.xrange("notify.sms.dead")
    assert decode_entry(fields).id == event.id
    assert int(fields[b"deliveries"]) == 5
    assert len(provider.received) == 5
    assert sample(registry, "sms_failed_total", "http") == 5
    assert (await redis.xpending("notify.sms", "sms-sender"))["pending"] == 0


def test_production_refuses_the_console_provider(tmp_path: Path) -> None:
    production = dict(env="production", jwt_public_key="unused", var_dir=tmp_path)
    with pytest.raises(SettingsError, match="SMS_PROVIDER=http"):
        SchedulerSettings(**production).refuse_unsafe_production()
    with pytest.raises(SettingsError, match="SMS_HTTP_URL"):
        SchedulerSettings(**production, sms_provider="http").refuse_unsafe_production()
    SchedulerSettings(**production, sms_provider="http",
                      sms_http_url="https://sms.example/send").refuse_unsafe_production()
    SchedulerSettings(var_dir=tmp_path).refuse_unsafe_production()  # development: console
