"""`coursestream worker sms-sender`: group `sms-sender` on `notify.sms`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from prometheus_client import CollectorRegistry

from services.scheduler.adapters.sms_providers import ConsoleProvider, HttpProvider, SmsProvider
from services.scheduler.metrics import SmsMetrics
from services.scheduler.settings import Settings
from services.scheduler.sms import GROUP, STREAM, SmsSender
from shared.broker import make_broker
from shared.consumers import ConsumerMetrics, StreamConsumer, running
from shared.logging import get_logger
from shared.redis import make_redis
from shared.worker import run_worker

log = get_logger(__name__)


def make_provider(settings: Settings, session: aiohttp.ClientSession) -> SmsProvider:
    settings.refuse_unsafe_production()
    if settings.sms_provider == "http":
        return HttpProvider(session, settings.sms_http_url, settings.sms_http_timeout_s,
                            settings.sms_http_attempts, settings.sms_http_backoff_s)
    return ConsoleProvider(settings.sms_outbox)


@asynccontextmanager
async def sms_sender(
    settings: Settings, registry: CollectorRegistry | None = None
) -> AsyncIterator[SmsSender]:
    """The sender, consuming until the block ends."""
    registry = registry or CollectorRegistry()
    url = settings.require_redis_url()
    redis = make_redis(url)
    broker = make_broker(url)
    try:
        async with aiohttp.ClientSession() as session:
            sender = SmsSender(redis, make_provider(settings, session), SmsMetrics(registry))
            consumer = StreamConsumer(
                redis=redis, stream=STREAM, group=GROUP,
                consumer=settings.consumer_for("sms-sender"),
                handle=sender.handle, metrics=ConsumerMetrics(registry), batch_size=20,
                poll_ms=200, claim_idle_ms=settings.sms_claim_idle_ms,
                max_deliveries=settings.sms_max_deliveries,
            )
            consumer.subscribe(broker)
            async with running(broker, [consumer]):
                log.info("sms sender consuming", provider=settings.sms_provider, stream=STREAM)
                yield sender
    finally:
        await redis.aclose()


async def main() -> None:
    settings = Settings()
    registry = CollectorRegistry()
    await run_worker("sms-sender", settings, registry, settings.sms_metrics_port,
                     sms_sender(settings, registry))
