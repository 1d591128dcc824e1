"""Typed settings shared by every service; each service adds its own on top."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every service verifies every token it has not seen before, and an RSA-2048 verify costs about
# a quarter of an Ed25519 or P-256 one (26 against 118 and 76 µs on the 2-core machine); the
# gateway signs once per login (about 0.7 ms). See docs/decisions.md.
JWT_ALGORITHM = "RS256"
# What JWT_ALGORITHMS may list: signatures by an RSA key (the kind the gateway signs with).
# Never HS* (whoever can verify could sign) nor `none`.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})

class SettingsError(ValueError):
    """Raised when the settings are unsafe or incomplete for the chosen environment."""


class Settings(BaseSettings):
    """Settings common to every process. Read from the environment only here."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    env: Literal["development", "test", "production"] = "development"
    var_dir: Path = Path("var")
    redis_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_json: bool = True
    # Inline PEM wins over the file; in development a key pair is generated under var/.
    jwt_public_key: str | None = None
    jwt_public_key_file: Path | None = None
    # During a key rotation (docs/operations.md): the public keys tokens may still be signed
    # with, besides the current one, as PEM blocks one after the other (an empty text or file:
    # none). A token names its key by `kid`. Inline wins over the file.
    jwt_previous_public_keys: str | None = None
    jwt_previous_public_keys_file: Path | None = None
    jwt_algorithms: tuple[str, ...] = (JWT_ALGORITHM,)
    jwt_issuer: str = "coursestream"
    jwt_audience: str = "coursestream"
    # The secret the gateway signs its principal assertions with and every service checks them
    # with (shared.auth.Assertions, docs/gateway.md "One token check per request"): a long
    # random string, never given to a client. Inline wins over the file; in development one is
    # generated under var/; in production, unset means no assertions (every service checks
    # the bearer token itself, as without a gateway).
    gateway_assertion_key: str | None = Field(default=None, min_length=32)
    gateway_assertion_key_file: Path | None = None
    # How long a service keeps a token's revocation state before asking Redis again, and so
    # also the oldest gateway assertion it accepts (the gateway's revocation answer in it).
    revocation_cache_s: float = Field(default=5.0, ge=0)
    consumer_name: str | None = None
    # Where a stream worker serves /metrics (its port is the worker's own setting): every
    # interface, so that Prometheus reaches it in a container; `coursestream up` sets
    # 127.0.0.1 (one machine, nothing to scrape it from outside).
    worker_metrics_host: str = "0.0.0.0"
    # How often a process that consumes streams reads their health (shared.stream_health).
    stream_health_every_s: float = Field(default=15.0, gt=0)
    # Graceful stop of a service (shared.drain): on SIGTERM, /readyz is 503 while requests are
    # still served for drain_s; then in-flight requests and the rest of the stop get
    # shutdown_timeout_s before the process exits anyway.
    drain_s: float = Field(default=5.0, ge=0)
    shutdown_timeout_s: float = Field(default=10.0, gt=0)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @field_validator("jwt_algorithms")
    @classmethod
    def _asymmetric_only(cls, algorithms: tuple[str, ...]) -> tuple[str, ...]:
        refused = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if refused or not algorithms:
            raise ValueError(f"JWT_ALGORITHMS may list only {sorted(ASYMMETRIC_ALGORITHMS)}; "
                             f"refused: {refused or 'an empty list'}")
        return algorithms

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.is_production and not (self.jwt_public_key or self.jwt_public_key_file):
            raise SettingsError(
                "ENV=production needs JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE; "
                "the generated development key pair is not allowed"
            )
        return self

    def consumer_for(self, role: str) -> str:
        """This process's consumer name in a group: `CONSUMER_NAME`, else host + role. Stable
        across restarts on one host, so a restarted process reads its own pending entries at
        once instead of waiting for a claim; replicas on one host must set CONSUMER_NAME."""
        return self.consumer_name or f"{socket.gethostname()}-{role}"

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise SettingsError(
                "REDIS_URL is not set; set it, or run `coursestream up` (it starts an "
                "embedded Redis), and run commands in the folder it runs in: they use its Redis"
            )
        return self.redis_url


class ServiceSettings(Settings):
    """Settings of a service that owns a database: `<SERVICE>_DATABASE_URL`, else SQLite."""

    service: ClassVar[str]
    database_url: str = Field(default="")

    @model_validator(mode="after")
    def _default_database(self) -> ServiceSettings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / f'{self.service}.db'}"
        return self
