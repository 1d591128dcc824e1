"""The `scheduler.requests` consumer (group `scheduler`): delays asked for by other services."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from services.scheduler.entrypoints.schemas import DelayCancel, DelayRequest
from services.scheduler.handlers import SchedulerHandlers
from services.scheduler.streams import (
    DELAY_CANCELLED,
    DELAY_REQUESTED,
    REQUESTS_GROUP,
    REQUESTS_STREAM,
)
from shared.consumers import ConsumerMetrics, Delivery, StreamConsumer
from shared.errors import DomainError
from shared.logging import get_logger
from shared.redis import RedisClient
from shared.streams import dead_letter
from shared.tracing import continued

log = get_logger(__name__)


async def handle_request(handlers: SchedulerHandlers, delivery: Delivery) -> None:
    envelope = delivery.envelope
    if envelope.type == DELAY_REQUESTED:
        # Without a key of its own, the request's event id makes a redelivery idempotent.
        await handlers.request_delay(
            DelayRequest.model_validate(envelope.data), producer=envelope.producer,
            correlation_id=envelope.correlation_id or envelope.id, from_event=True,
            key=f"event:{envelope.id}",
        )
    elif envelope.type == DELAY_CANCELLED:
        await handlers.cancel_delay(DelayCancel.model_validate(envelope.data))
    else:
        log.warning("ignored event type", stream=REQUESTS_STREAM, type=envelope.type)


def requests_consumer(
    redis: RedisClient, handlers: SchedulerHandlers, metrics: ConsumerMetrics, consumer: str,
    claim_idle_ms: int = 30_000,
) -> StreamConsumer:
    async def handle(batch: Sequence[Delivery]) -> None:
        for delivery in batch:
            try:
                with continued(delivery.envelope.traceparent):  # the delay carries the trace
                    await handle_request(handlers, delivery)
            except (ValidationError, DomainError) as exc:
                # Bad input stays bad: dead at once, so the rest of the batch goes on.
                await dead_letter(redis, REQUESTS_STREAM, REQUESTS_GROUP, delivery.entry_id,
                                  delivery.fields, str(exc), delivery.deliveries)
                metrics.dead.labels(REQUESTS_STREAM, REQUESTS_GROUP).inc()

    return StreamConsumer(
        redis=redis, stream=REQUESTS_STREAM, group=REQUESTS_GROUP, consumer=consumer,
        handle=handle, metrics=metrics, claim_idle_ms=claim_idle_ms, poll_ms=200,
    )
