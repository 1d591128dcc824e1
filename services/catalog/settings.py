"""The catalog's settings: the shared ones plus its database and banner cache tuning.

Its own variables carry the `CATALOG_` prefix, since `coursestream up` hands one environment
to every service.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings


def _own(name: str, default: Any, **constraints: Any) -> Any:
    return Field(default=default, validation_alias=AliasChoices(f"CATALOG_{name.upper()}", name),
                 **constraints)


class Settings(ServiceSettings):
    service: ClassVar[str] = "catalog"

    database_url: str = _own("database_url", "")
    # The Redis copy is checked against the version on every read, so its TTL only frees
    # memory; it is no part of freshness.
    banner_cache_ttl_s: int = _own("banner_cache_ttl_s", 3600, ge=1)
    # How long one replica may hold the rebuild lease; a crashed holder blocks others no longer.
    banner_lease_ms: int = _own("banner_lease_ms", 5000, ge=100)
    # How long a reader without the lease waits for the holder's copy before querying itself.
    banner_wait_ms: int = _own("banner_wait_ms", 3000, ge=0)
    banner_poll_ms: int = _own("banner_poll_ms", 10, ge=1)
    # The course pages' cache (lists and details) takes the banner lease/wait/poll tuning;
    # its Redis copies expire after this (many keys: shorter than the banners'), and each
    # process keeps at most `page_cache_local_size` of them.
    page_cache_ttl_s: int = _own("page_cache_ttl_s", 600, ge=1)
    page_cache_local_size: int = _own("page_cache_local_size", 512, ge=1)
    # catalog.events is read without a group, so it is capped when written.
    events_maxlen: int = _own("events_maxlen", 10_000, ge=100)
