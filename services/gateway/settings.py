"""The gateway's settings: upstreams, its admin port, its database, the signing key, SMS codes."""

from __future__ import annotations

import json
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import AliasChoices, BaseModel, Field, StringConstraints, field_validator
from pydantic_settings import NoDecode

from shared.auth import ensure_dev_keypair
from shared.settings import ServiceSettings, SettingsError

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SMS_CODE_SECRET = "development-only-sms-code-secret"


class RatePolicy(BaseModel):
    """`quota` requests per `window_s` seconds per user (else per address)."""

    quota: int = Field(ge=1)
    window_s: int = Field(ge=1)


class Settings(ServiceSettings):
    service: ClassVar[str] = "gateway"

    database_url: str = Field(
        default="", validation_alias=AliasChoices("GATEWAY_DATABASE_URL", "database_url")
    )
    catalog_url: str = "http://127.0.0.1:8001"
    seckill_url: str = "http://127.0.0.1:8002"
    scheduler_url: str = "http://127.0.0.1:8003"
    # Metrics live on a second site, never on the public one.
    gateway_admin_host: str = "127.0.0.1"
    gateway_admin_port: int = 8009
    # Upstream pool: connections kept alive and reused across requests.
    proxy_pool_limit: int = Field(default=512, ge=1)
    proxy_connect_timeout_s: float = Field(default=3.0, gt=0)
    # Longest silence from an upstream (waiting for headers, or between body chunks) -> 504.
    proxy_read_timeout_s: float = Field(default=30.0, gt=0)
    # Replicas per upstream (docs/gateway.md, "Upstreams"), a JSON or comma list of base URLs,
    # e.g. UPSTREAM_SECKILL_URLS=http://10.0.0.5:8002,http://10.0.0.6:8002; empty: the one
    # *_URL above. A hostname resolving to several addresses is that many replicas.
    upstream_catalog_urls: Annotated[list[str], NoDecode] = []
    upstream_seckill_urls: Annotated[list[str], NoDecode] = []
    upstream_scheduler_urls: Annotated[list[str], NoDecode] = []
    upstream_dns_refresh_s: float = Field(default=30.0, gt=0)
    # Active checks: GET /readyz of every replica this often, failed without an answer in
    # check_timeout_s; so many in a row flip it.
    upstream_check_every_s: float = Field(default=5.0, gt=0)
    upstream_check_timeout_s: float = Field(default=2.0, gt=0)
    upstream_unhealthy_after: int = Field(default=3, ge=1)
    upstream_healthy_after: int = Field(default=2, ge=1)
    # Passive: so many connect errors, timeouts or 5xx in a row eject a replica for eject_s,
    # doubled on each ejection in a row up to eject_max_s.
    upstream_eject_after: int = Field(default=5, ge=1)
    upstream_eject_s: float = Field(default=5.0, gt=0)
    upstream_eject_max_s: float = Field(default=300.0, gt=0)
    # Requests (event streams included) open per upstream; past it a 503 with Retry-After.
    upstream_max_in_flight: int = Field(default=1000, ge=1)
    # Retries allowed per request made (GET and HEAD, or a refused connection).
    upstream_retry_ratio: float = Field(default=0.2, ge=0, le=1)
    # Wait for an upstream's headers per try (a GET is retried elsewhere past it), and the
    # whole answer's deadline per route, overridden by service in upstream_deadlines_s (JSON,
    # e.g. '{"seckill": 5}'); for event streams it bounds the wait for headers only.
    upstream_try_timeout_s: float = Field(default=5.0, gt=0)
    upstream_deadline_s: float = Field(default=15.0, gt=0)
    upstream_deadlines_s: dict[str, float] = {}
    # Largest request body the gateway accepts (413 problem past it), for every route.
    gateway_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The built web client (`npm run build` in web/), served at `/`; the demo images at
    # `/media/...` (docs/gateway.md, "The web client").
    web_dist_dir: Path = REPOSITORY_ROOT / "web" / "dist"
    web_media_dir: Path = REPOSITORY_ROOT / "web" / "media"

    # Inline PEM wins over the file; development falls back to the pair under var/.
    jwt_private_key: str | None = None
    jwt_private_key_file: Path | None = None
    # Access tokens are short: a revoked session's tokens die within this even without Redis's
    # revocation state; clients keep going with the refresh token.
    token_ttl_s: int = Field(default=900, ge=60)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, ge=60)

    sms_code_secret: str = DEFAULT_SMS_CODE_SECRET
    sms_code_ttl_s: int = Field(default=300, ge=1)
    sms_code_cooldown_s: int = Field(default=60, ge=1)
    sms_code_max_tries: int = Field(default=5, ge=1)
    sms_ip_limit: int = Field(default=20, ge=1)
    sms_ip_window_s: int = Field(default=3600, ge=1)
    # Daily caps on codes sent, per phone and per address; wrong codes per phone, across the
    # codes it is sent (a new code gives no new guesses).
    sms_codes_per_phone_per_day: int = Field(default=10, ge=1)
    sms_codes_per_ip_per_day: int = Field(default=100, ge=1)
    sms_code_failures_per_phone: int = Field(default=10, ge=1)
    sms_code_failures_window_s: int = Field(default=24 * 3600, ge=1)
    # Failed logins (password or code) per address, across phones.
    login_failures_per_ip: int = Field(default=30, ge=1)
    login_failures_window_s: int = Field(default=900, ge=1)
    # Load balancers in front of the gateway (JSON list of networks, e.g. ["10.0.0.0/8"]): for
    # a request from one of them, limits count the address it put in X-Forwarded-For.
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    # Web origins allowed to call the API from a browser (JSON list, e.g.
    # ["https://app.example.com"]); none: same-origin only (services/gateway/entrypoints/cors.py).
    cors_allowed_origins: list[Annotated[str, StringConstraints(
        pattern=r"^https?://[^/\s]+$")]] = Field(default_factory=list)
    # Wrong passwords per phone, across addresses (guessing one account from many places).
    password_failures_per_phone: int = Field(default=10, ge=1)
    password_failures_window_s: int = Field(default=900, ge=1)
    # Password checks (Argon2id, 64 MiB each) running at once in this process, and waiting.
    password_checks_concurrency: int = Field(default=2, ge=1)
    password_checks_queue: int = Field(default=64, ge=0)

    # Rate limits per route class (services/gateway/entrypoints/limits.py), as JSON, e.g.
    # RATE_LIMIT_READS='{"quota": 1200, "window_s": 60}'; RATE_LIMITS_ENABLED=false: none.
    rate_limits_enabled: bool = True
    rate_limit_reads: RatePolicy = RatePolicy(quota=1200, window_s=60)
    rate_limit_writes: RatePolicy = RatePolicy(quota=120, window_s=60)
    rate_limit_auth: RatePolicy = RatePolicy(quota=30, window_s=60)
    rate_limit_attempts: RatePolicy = RatePolicy(quota=3, window_s=1)
    rate_limit_events: RatePolicy = RatePolicy(quota=20, window_s=60)

    def rate_policies(self) -> dict[str, RatePolicy]:
        if not self.rate_limits_enabled:
            return {}
        return {"reads": self.rate_limit_reads, "writes": self.rate_limit_writes,
                "auth": self.rate_limit_auth, "attempts": self.rate_limit_attempts,
                "events": self.rate_limit_events}

    def refuse_unsafe_production(self) -> None:
        """Called when the gateway starts serving. Not a validator: `coursestream migrate`,
        `demo-data` and `users add` read these settings too and need no signing key."""
        if not self.is_production:
            return
        if not (self.jwt_private_key or self.jwt_private_key_file):
            raise SettingsError(
                "ENV=production needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE; "
                "the generated development key pair is not allowed"
            )
        if self.sms_code_secret == DEFAULT_SMS_CODE_SECRET:
            raise SettingsError("ENV=production needs SMS_CODE_SECRET (not the default)")

    def private_key_pem(self) -> str:
        """The signing key: inline, from a file, or the development pair under var/."""
        if self.jwt_private_key:
            return self.jwt_private_key
        if self.jwt_private_key_file:
            return self.jwt_private_key_file.read_text()
        private_path, _ = ensure_dev_keypair(self.var_dir)
        return private_path.read_text()

    @field_validator("upstream_catalog_urls", "upstream_seckill_urls",
                     "upstream_scheduler_urls", mode="before")
    @classmethod
    def _url_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [
                part.strip() for part in text.split(",") if part.strip()]
        return value

    def replica_urls(self) -> dict[str, list[str]]:
        """Public path prefix -> the base URLs of its replicas."""
        lists = {"catalog": self.upstream_catalog_urls, "seckill": self.upstream_seckill_urls,
                 "scheduler": self.upstream_scheduler_urls}
        return {prefix: lists[prefix.rsplit("/", 1)[-1]] or [url]
                for prefix, url in self.upstreams().items()}

    def upstreams(self) -> dict[str, str]:
        """Public path prefix -> upstream base URL."""
        return {
            "/api/v1/catalog": self.catalog_url,
            "/api/v1/seckill": self.seckill_url,
            "/api/v1/scheduler": self.scheduler_url,
        }
