"""The scheduler's settings: its database, leader lease, delay mover and SMS providers."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field

from services.scheduler.streams import TARGET_STREAMS
from shared.settings import ServiceSettings, SettingsError

BUILTIN_FILE = Path(__file__).resolve().parent / "builtin_schedules.toml"


class Settings(ServiceSettings):
    service = "scheduler"

    database_url: str = Field(
        default="", validation_alias=AliasChoices("SCHEDULER_DATABASE_URL", "database_url")
    )
    # Streams a schedule or a delay may write to; anything else is refused with 422.
    scheduler_target_streams: tuple[str, ...] = TARGET_STREAMS
    scheduler_builtin_file: Path = BUILTIN_FILE
    # A leader that stops renewing loses the lease after this; a follower polls every
    # `scheduler_follower_poll_ms`, so takeover needs at most their sum (< 5 s).
    scheduler_lease_ms: int = 3000
    scheduler_follower_poll_ms: int = 500
    # The leader re-reads schedules changed by other replicas at least this often.
    scheduler_tick_ms: int = 500
    # A deterministic event id is refused a second publish for this long.
    scheduler_dedupe_ttl_s: int = 24 * 3600
    scheduler_delay_batch: int = 1000
    scheduler_delay_poll_ms: int = 50
    # How long an idempotency `key` of a fired delay keeps answering with the same delay.
    scheduler_delay_key_ttl_s: int = 24 * 3600
    scheduler_claim_idle_ms: int = 30_000
    # The most runs one backfill fires (a longer window: 422, backfill it in parts).
    scheduler_backfill_max_runs: int = Field(default=1000, ge=1, le=100_000)

    sms_provider: Literal["console", "http"] = "console"
    sms_http_url: str = ""
    sms_http_timeout_s: float = 5.0
    sms_http_attempts: int = 3  # tries within one delivery, with exponential backoff
    sms_http_backoff_s: float = 0.2
    sms_max_deliveries: int = 5
    sms_claim_idle_ms: int = 30_000
    sms_metrics_port: int = Field(default=8013, ge=0, le=65535)  # the worker's /metrics; 0: off

    def refuse_unsafe_production(self) -> None:
        """Called when the SMS sender starts: in production the console provider (codes
        written to a file) would let codes go nowhere, or to whoever reads the file."""
        if self.is_production and self.sms_provider == "console":
            raise SettingsError("ENV=production needs SMS_PROVIDER=http and SMS_HTTP_URL; "
                                "the console provider is for development")
        if self.sms_provider == "http" and not self.sms_http_url:
            raise SettingsError("SMS_PROVIDER=http needs SMS_HTTP_URL")

    @property
    def sms_outbox(self) -> Path:
        return self.var_dir / "sms-outbox.jsonl"
