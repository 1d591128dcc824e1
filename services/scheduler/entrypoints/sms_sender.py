"""`coursestream worker sms-sender`: group `sms-sender` on `notify.sms`, each message sent once
per success, failures left for a retry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.scheduler.adapters.sms_providers import open_provider
from services.scheduler.bootstrap import bootstrap
from services.scheduler.domain.sms import SmsMessage
from services.scheduler.metrics import SmsMetrics
from services.scheduler.ports import SmsProvider
from services.scheduler.settings import Settings
from services.scheduler.streams import SMS_GROUP, SMS_SEND, SMS_STREAM
from shared.broker import make_broker
from shared.consumers import ConsumerMetrics, Delivery, StreamConsumer, running
from shared.logging import get_logger
from shared.redis import RedisClient
from shared.streams import dead_letter
from shared.worker import run_worker

log = get_logger(__name__)

SENT_TTL_S = 7 * 24 * 3600


class SmsFailed(Exception):
    pass


def sent_key(message_id: str) -> str:
    return f"sms:sent:{message_id}"


class SmsSender:
    def __init__(self, redis: RedisClient, provider: SmsProvider, metrics: SmsMetrics) -> None:
        self.redis = redis
        self.provider = provider
        self.metrics = metrics

    async def handle(self, batch: Sequence[Delivery]) -> None:
        """Send each message of the batch; raise at the end if any failed, so the batch stays
        pending. Messages already sent are marked and skipped when it comes back."""
        failures: list[str] = []
        for delivery in batch:
            envelope = delivery.envelope
            if envelope.type != SMS_SEND:
                log.warning("ignored event type", stream=SMS_STREAM, type=envelope.type)
                continue
            if await self.redis.exists(sent_key(envelope.id)):
                continue
            try:
                sms = SmsMessage.model_validate(envelope.data)
            except ValidationError as exc:  # no retry can fix it
                await dead_letter(self.redis, SMS_STREAM, SMS_GROUP, delivery.entry_id,
                                  delivery.fields, str(exc), delivery.deliveries)
                continue
            try:
                await self.provider.send(envelope.id, sms)
            except Exception as exc:
                self.metrics.failed.labels(self.provider.name).inc()
                log.warning("sms failed", message_id=envelope.id, error=repr(exc),
                            deliveries=delivery.deliveries)
                failures.append(f"{envelope.id}: {exc!r}")
                continue
            await self.redis.set(sent_key(envelope.id), 1, ex=SENT_TTL_S)
            self.metrics.sent.labels(self.provider.name).inc()
        if failures:
            raise SmsFailed("; ".join(failures))


@asynccontextmanager
async def sms_sender(
    settings: Settings, registry: CollectorRegistry | None = None
) -> AsyncIterator[SmsSender]:
    """The sender, consuming until the block ends."""
    registry = registry or CollectorRegistry()
    async with bootstrap(settings) as runtime, open_provider(settings) as provider:
        sender = SmsSender(runtime.redis, provider, SmsMetrics(registry))
        consumer = StreamConsumer(
            redis=runtime.redis, stream=SMS_STREAM, group=SMS_GROUP,
            consumer=settings.consumer_for("sms-sender"),
            handle=sender.handle, metrics=ConsumerMetrics(registry), batch_size=20,
            poll_ms=200, claim_idle_ms=settings.sms_claim_idle_ms,
            max_deliveries=settings.sms_max_deliveries,
        )
        broker = make_broker(settings.require_redis_url())
        consumer.subscribe(broker)
        async with running(broker, [consumer], health_every_s=settings.stream_health_every_s):
            log.info("sms sender consuming", provider=settings.sms_provider, stream=SMS_STREAM)
            yield sender


async def main() -> None:
    settings = Settings()
    registry = CollectorRegistry()
    await run_worker("sms-sender", settings, registry, settings.sms_metrics_port,
                     sms_sender(settings, registry))
