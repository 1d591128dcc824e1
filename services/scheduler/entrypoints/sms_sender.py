"""`coursestream worker sms-sender`: group `sms-sender` on `notify.sms`."""

from __future__ import annotations

import asyncio
import signal
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
from shared.logging import configure_logging, get_logger
from shared.metrics import serve_worker_metrics
from shared.redis import make_redis

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
                yield sender
    finally:
        await redis.aclose()


async def main() -> None:
    settings = Settings()
    configure_logging("sms-sender", settings.log_level, settings.log_json)
    registry = CollectorRegistry()
    serve_worker_metrics(registry, settings.worker_metrics_host, settings.sms_metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with sms_sender(settings, registry):
        log.info("sms sender running", provider=settings.sms_provider, stream=STREAM)
        await stop.wait()
