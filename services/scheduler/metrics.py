"""The scheduler's own Prometheus metrics, on the app's (or the worker's) registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60)


class SchedulerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.fires = Counter(
            "scheduler_fires_total", "Scheduled runs by schedule and outcome.",
            ["schedule", "outcome"], registry=registry,
        )
        self.lateness = Histogram(
            "scheduler_fire_lateness_seconds",
            "Time from the planned fire time to the publish, for schedules and delays.",
            ["kind"], buckets=LATENESS_BUCKETS, registry=registry,
        )
        self.missed = Counter(
            "scheduler_missed_runs_total",
            "Nominal runs not fired: past the misfire grace, or folded by coalesce.",
            ["schedule", "reason"], registry=registry,
        )
        self.pending_delays = Gauge(
            "scheduler_pending_delays", "Delayed events waiting for their time.",
            registry=registry,
        )
        self.delays_moved = Counter(
            "scheduler_delays_moved_total", "Delayed events moved to their streams.",
            registry=registry,
        )
        self.leader = Gauge(
            "scheduler_leader", "1 while this replica holds the leader lease.",
            registry=registry,
        )


class SmsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter(
            "sms_sent_total", "SMS handed to the provider.", ["provider"], registry=registry
        )
        self.failed = Counter(
            "sms_failed_total", "SMS deliveries that failed (left for a retry, or dead).",
            ["provider"], registry=registry,
        )
