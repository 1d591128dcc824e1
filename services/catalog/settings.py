"""The catalog's settings: the shared ones plus its database and banner cache tuning."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service: ClassVar[str] = "catalog"

    database_url: str = Field(default="", validation_alias=AliasChoices("CATALOG_DATABASE_URL",
                                                                "database_url"))
    # The Redis copy is checked against the version on every read, so its TTL only frees
    # memory; it is no part of freshness.
    banner_cache_ttl_s: int = Field(default=3600, ge=1)
    # How long one replica may hold the rebuild lease; a crashed holder blocks others no longer.
    banner_lease_ms: int = Field(default=5000, ge=100)
    # How long a reader without the lease waits for the holder's copy before querying itself.
    banner_wait_ms: int = Field(default=3000, ge=0)
    banner_poll_ms: int = Field(default=10, ge=1)
    # catalog.events is read without a group, so it is capped when written.
    events_maxlen: int = Field(default=10_000, ge=100)
