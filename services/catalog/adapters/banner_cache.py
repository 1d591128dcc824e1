"""The banner list, cache-aside in Redis and in process, never stale once a write returned.

Freshness rests on a version token in Redis, replaced after every committed banner write:
- a copy (in Redis or in process) is served only when built under the current token;
- a rebuild reads the token, then the database, then stores its copy with a compare-and-set
  that refuses it if the token changed meanwhile, so a slow reader holding rows read before a
  write can never put them back;
- the token is a fresh ULID, never a counter, so a Redis that lost its data can never make an
  old copy match again.
Reads: concurrent readers of one process share one version GET per wave (shared.coalesce,
which never hands a reader a GET begun before it asked), so a local hit costs a fraction of a
round trip under load.
Stampedes: one rebuild per process per token (a shared task), one per cluster (a lease); the
others poll Redis for the new copy, bounded by `wait_ms`, then query themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.catalog.domain import CachedBanners, fresh
from services.catalog.ports import CacheUnreachable
from shared.coalesce import CoalescedRead
from shared.events import new_event_id
from shared.logging import get_logger
from shared.redis import text

log = get_logger(__name__)

# One hash tag: the compare-and-set touches the version and the copy in one cluster slot.
VERSION_KEY = "catalog:{banners}:version"
COPY_KEY = "catalog:{banners}:list"
LEASE_KEY = "catalog:{banners}:lease"

STORE_IF_CURRENT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

Banners = list[dict[str, Any]]
Load = Callable[[], Awaitable[Banners]]


async def replace_version(redis: Redis) -> str:
    """Make every existing banner copy unservable; call after banner rows changed."""
    version = new_event_id()
    await redis.set(VERSION_KEY, version)
    return version


class BannerCacheMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.hits = Counter(
            "catalog_banner_cache_hits_total", "Banner list reads by the layer that answered.",
            ["layer"], registry=registry,
        )
        self.local_hits = self.hits.labels("local")  # every read under load: kept, not looked up
        self.rebuilds = Counter(
            "catalog_banner_cache_rebuilds_total", "Banner list rebuilds from the database.",
            ["trigger"], registry=registry,
        )
        self.refused = Counter(
            "catalog_banner_cache_stale_refused_total",
            "Rebuilt copies not stored because a write changed the version meanwhile.",
            registry=registry,
        )


def _decode(raw: bytes | None) -> CachedBanners | None:
    if raw is None:
        return None
    body = orjson.loads(raw)
    return CachedBanners(version=body["version"], banners=body["banners"])



class BannerCache:
    """The `BannerCache` port, and the reads of `GET /banners`. `load` queries the database
    and renders the list (one query per call)."""

    def __init__(
        self, redis: Redis, load: Load, metrics: BannerCacheMetrics, *, ttl_ms: int = 3_600_000,
        lease_ms: int = 5000, wait_ms: int = 3000, poll_ms: int = 10,
    ) -> None:
        self.redis = redis
        self.load = load
        self.metrics = metrics
        self.ttl_ms, self.lease_ms = ttl_ms, lease_ms
        self.wait_s, self.poll_s = wait_ms / 1000, poll_ms / 1000
        self.local: CachedBanners | None = None
        # The in-process copy rendered as JSON, rendered once per copy (a copy never changes:
        # a new version brings a new copy).
        self._rendered: tuple[CachedBanners, bytes] | None = None
        self._inflight: dict[str, asyncio.Task[tuple[str, Banners]]] = {}
        # Concurrent readers share one version GET, never one begun before they asked.
        self._current_version = CoalescedRead(self._version)
        self._store = redis.register_script(STORE_IF_CURRENT)
        self._release = redis.register_script(RELEASE_LEASE)

    async def get(self) -> Banners:
        """The shown banners by `orders`, never older than the last write that returned."""
        try:
            version = await self._current_version.get()
        except (RedisError, OSError) as exc:
            # The database is the truth and always fresh; only the caches need Redis.
            log.warning("redis unreachable; banners read from the database", error=str(exc))
            self.metrics.hits.labels("db").inc()
            self.metrics.rebuilds.labels("redis-down").inc()
            return await self.load()
        local = self.local
        if local is not None and fresh(local, version):
            self.metrics.local_hits.inc()
            return local.banners
        task = self._inflight.get(version)
        if task is None:
            task = asyncio.create_task(self._fetch(version))
            self._inflight[version] = task
            task.add_done_callback(lambda done: self._forget(version, done))
        # A reader that gives up must not cancel the rebuild the others wait for.
        layer, banners = await asyncio.shield(task)
        self.metrics.hits.labels(layer).inc()
        return banners

    async def get_json(self) -> bytes:
        """`get` as a JSON body, without re-serialising the in-process copy on every read."""
        banners = await self.get()
        local = self.local
        if local is None or banners is not local.banners:
            return orjson.dumps(banners)  # read from the database, not (or not yet) cached
        if self._rendered is None or self._rendered[0] is not local:
            self._rendered = (local, orjson.dumps(banners))
        return self._rendered[1]

    async def invalidate(self) -> str:
        """Every existing copy stops matching; banner writes call it before and after their
        commit. Raises `CacheUnreachable` when Redis does not answer."""
        try:
            version = await replace_version(self.redis)
        except (RedisError, OSError) as error:
            raise CacheUnreachable(str(error)) from error
        self.local = None
        return version

    async def rebuild(self) -> Banners:
        """The `banners.rebuild-cache` command: a new version and a copy built under it, so
        rows changed behind the API's back (a migration, a manual fix) show up too."""
        version = await self.invalidate()
        return await self._rebuild(version, trigger="command")

    def drop_local(self) -> None:
        """Another replica wrote: free the in-process copy now rather than at the next read."""
        self.local = None

    async def _version(self) -> str:
        raw = await self.redis.get(VERSION_KEY)
        if raw is None:  # first start, or Redis lost its data: a token no copy carries
            await self.redis.set(VERSION_KEY, new_event_id(), nx=True)
            raw = await self.redis.get(VERSION_KEY)
        return text(raw)

    def _forget(self, version: str, task: asyncio.Task[tuple[str, Banners]]) -> None:
        if self._inflight.get(version) is task:
            del self._inflight[version]
        if not task.cancelled():
            task.exception()  # retrieved here; the readers awaiting it get it too

    async def _fetch(self, version: str) -> tuple[str, Banners]:
        """(layer that answered, banners) for the readers of `version` in this process."""
        deadline = asyncio.get_running_loop().time() + self.wait_s
        current, copy = version, _decode(await self.redis.get(COPY_KEY))
        while True:
            if copy is not None and fresh(copy, current):
                self.local = copy
                return "redis", copy.banners
            lease = new_event_id()
            if await self.redis.set(LEASE_KEY, lease, nx=True, px=self.lease_ms):
                try:
                    # The holder before us stored its copy just before letting go: look again.
                    current, copy = await self._current(current)
                    if copy is not None and fresh(copy, current):
                        self.local = copy
                        return "redis", copy.banners
                    return "db", await self._rebuild(current, trigger="miss")
                finally:
                    await self._release(keys=[LEASE_KEY], args=[lease])
            if asyncio.get_running_loop().time() >= deadline:
                log.warning("banner lease holder too slow; querying without the lease")
                return "db", await self._rebuild(current, trigger="wait-timeout")
            await asyncio.sleep(self.poll_s)
            current, copy = await self._current(current)

    async def _current(self, version: str) -> tuple[str, CachedBanners | None]:
        """The version now (a write meanwhile moves readers on to it) and the Redis copy,
        in one round trip."""
        version_raw, raw = await self.redis.mget(VERSION_KEY, COPY_KEY)
        return (version if version_raw is None else text(version_raw)), _decode(raw)

    async def _rebuild(self, version: str, trigger: str) -> Banners:
        banners = await self.load()
        self.metrics.rebuilds.labels(trigger).inc()
        body = orjson.dumps({"version": version, "banners": banners})
        if await self._store(keys=[VERSION_KEY, COPY_KEY], args=[version, body, self.ttl_ms]):
            self.local = CachedBanners(version, banners)
        else:
            # Rows read before a write committed: serve them to the readers that asked before
            # it returned, but keep them out of every cache.
            self.metrics.refused.inc()
        return banners
