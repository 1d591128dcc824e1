"""The seckill service's settings: its database, partitions and order-writer tuning."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service: ClassVar[str] = "seckill"

    database_url: str = Field(
        default="", validation_alias=AliasChoices("SECKILL_DATABASE_URL", "database_url")
    )
    # Keys carry the hash tag {pN}, N = item_id % partitions: one slot per admission.
    seckill_partitions: int = Field(default=4, ge=1, le=1024)
    seckill_pay_timeout_s: int = Field(default=900, ge=1)
    ticket_ttl_s: int = Field(default=86_400, ge=60)
    # How long `GET /tickets/{t}/events` waits for a final status before it ends anyway.
    ticket_events_timeout_s: float = Field(default=30.0, gt=0)
    # An SSE comment line this often while it waits: proxies in between (the gateway cuts an
    # upstream silent for PROXY_READ_TIMEOUT_S, 30 s) see a live stream.
    ticket_events_heartbeat_s: float = Field(default=10.0, gt=0)
    # Open event streams per user in one process; past it 429 (one user's flood of streams
    # must not cost everyone else's admissions).
    ticket_events_per_user: int = Field(default=5, ge=1)
    # The app's Redis pool: admissions, ticket reads. The event streams take one connection
    # of it in all (one shared pub/sub connection).
    seckill_redis_max_connections: int = Field(default=200, ge=2)
    order_writer_batch: int = Field(default=200, ge=1, le=10_000)
    order_writer_poll_ms: int = Field(default=100, ge=10)
    order_writer_claim_idle_ms: int = Field(default=30_000, ge=100)
    order_writer_max_deliveries: int = Field(default=5, ge=1)
    # The order writer serves /metrics on this port; 0 turns it off.
    order_writer_metrics_port: int = Field(default=8012, ge=0, le=65535)
    # The read-only reconcile pass of the app (the gauge seckill_invariant_drift{item}) runs
    # this often; 0 turns it off.
    seckill_invariant_every_s: float = Field(default=60.0, ge=0)
