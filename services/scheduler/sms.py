"""Sending `sms.send` events: each message once per success, failures left for a retry."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError
from redis.asyncio import Redis

from services.scheduler.adapters.sms_providers import SmsMessage, SmsProvider
from services.scheduler.metrics import SmsMetrics
from shared.consumers import Delivery
from shared.logging import get_logger
from shared.streams import dead_letter

log = get_logger(__name__)

STREAM, GROUP = "notify.sms", "sms-sender"
SENT_TTL_S = 7 * 24 * 3600


class SmsFailed(Exception):
    pass


def sent_key(message_id: str) -> str:
    return f"sms:sent:{message_id}"


class SmsSender:
    def __init__(self, redis: Redis, provider: SmsProvider, metrics: SmsMetrics) -> None:
        self.redis = redis
        self.provider = provider
        self.metrics = metrics

    async def handle(self, batch: Sequence[Delivery]) -> None:
        """Send each message of the batch; raise at the end if any failed, so the batch stays
        pending. Messages already sent are marked and skipped when it comes back."""
        failures: list[str] = []
        for delivery in batch:
            envelope = delivery.envelope
            if envelope.type != "sms.send":
                log.warning("ignored event type", stream=STREAM, type=envelope.type)
                continue
            if await self.redis.exists(sent_key(envelope.id)):
                continue
            try:
                sms = SmsMessage.model_validate(envelope.data)
            except ValidationError as exc:  # no retry can fix it
                await dead_letter(self.redis, STREAM, GROUP, delivery.entry_id, delivery.fields,
                                  str(exc), delivery.deliveries)
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
