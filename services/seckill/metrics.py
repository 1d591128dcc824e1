"""The seckill service's own Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.metrics import LATENCY_BUCKETS


class AdmissionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "seckill_attempts_total", "Seckill attempts by outcome.", ["outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "seckill_admission_seconds", "Time of the admission script call.",
            buckets=LATENCY_BUCKETS, registry=registry,
        )


class OrderWriterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.batch_size = Histogram(
            "seckill_order_writer_batch_size", "Order requests per written batch.",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000), registry=registry,
        )
        self.orders = Counter(
            "seckill_orders_written_total", "Order requests handled, by result.", ["result"],
            registry=registry,
        )
        self.dead = Counter(
            "seckill_order_requests_dead_total",
            "Order requests dead-lettered (ticket failed, unit returned).", registry=registry,
        )


class InvariantMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.drift = Gauge(
            "seckill_invariant_drift",
            "Units by which the item misses orders + Redis stock + pending requests = stock "
            "(0 when the invariant holds), from the periodic read-only reconcile.",
            ["item"], registry=registry,
        )
