"""`coursestream worker order-writer`: turns admitted order requests into orders.

One consumer per partition stream `seckill:{pN}:orders`, group `order-writer`, on
shared.consumers.StreamConsumer (own pending first, then new entries in batches, claims of
entries idle on a dead consumer, dead letters after `max_deliveries`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

from services.seckill import handlers
from services.seckill.bootstrap import bootstrap
from services.seckill.domain import DatabaseUnavailable
from services.seckill.metrics import OrderWriterMetrics
from services.seckill.settings import Settings
from services.seckill.streams import ORDER_WRITER_GROUP, all_orders_streams
from shared.broker import make_broker
from shared.consumers import ConsumerMetrics, Delivery, StreamConsumer, running
from shared.logging import get_logger
from shared.metrics import Metrics
from shared.worker import run_worker

log = get_logger(__name__)


@dataclass(frozen=True)
class Instruments:
    """The writer's metrics on one registry (served by `main`, read by tests)."""

    metrics: Metrics
    writer: OrderWriterMetrics
    consumers: ConsumerMetrics

    @classmethod
    def create(cls) -> Instruments:
        metrics = Metrics("order-writer")
        return cls(metrics, OrderWriterMetrics(metrics.registry),
                   ConsumerMetrics(metrics.registry))


@contextlib.asynccontextmanager
async def order_writer(
    settings: Settings, instruments: Instruments | None = None
) -> AsyncIterator[None]:
    """Run the order writer until the block exits. A request that fails for good is
    dead-lettered with its compensation (`handlers.order_failed`); a database out of reach
    (DatabaseUnavailable) never dead-letters: the requests wait in the pending list."""
    instruments = instruments or Instruments.create()
    writer_metrics, consumer_metrics = instruments.writer, instruments.consumers
    async with bootstrap(settings) as rt:

        async def on_dead(delivery: Delivery, error: str) -> bool:
            return await handlers.order_failed(delivery, error, rt.repo, rt.store,
                                               rt.publisher, writer_metrics)

        streams = all_orders_streams(settings.seckill_partitions)
        consumers = [
            StreamConsumer(
                redis=rt.redis, stream=stream, group=ORDER_WRITER_GROUP,
                consumer=settings.consumer_for("order-writer"),
                handle=partial(handlers.write_orders, repo=rt.repo, store=rt.store,
                               publisher=rt.publisher,
                               pay_timeout_s=settings.seckill_pay_timeout_s,
                               metrics=writer_metrics),
                metrics=consumer_metrics, batch_size=settings.order_writer_batch,
                poll_ms=settings.order_writer_poll_ms,
                claim_idle_ms=settings.order_writer_claim_idle_ms,
                max_deliveries=settings.order_writer_max_deliveries,
                transient=(DatabaseUnavailable,), on_dead=on_dead,
            )
            for stream in streams
        ]
        broker = make_broker(settings.require_redis_url())
        for consumer in consumers:
            consumer.subscribe(broker)
        async with running(broker, consumers, health_every_s=settings.stream_health_every_s):
            log.info("order writer running", streams=len(consumers))
            yield


async def main() -> None:
    settings = Settings()
    instruments = Instruments.create()
    await run_worker("order-writer", settings, instruments.metrics.registry,
                     settings.order_writer_metrics_port, order_writer(settings, instruments))
