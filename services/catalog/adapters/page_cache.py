"""Rendered catalog reads (the banner list, the course pages), cache-aside in Redis and in
process, never stale once a write returned.

One `VersionedCache` holds any number of keyed copies under one version token in Redis,
replaced after every committed write to the rows they are built from:
- a copy (in Redis or in process) is served only when built under the current token;
- a rebuild reads the token, then the database, then stores its copy with a compare-and-set
  that refuses it if the token changed meanwhile, so a slow reader holding rows read before a
  write can never put them back;
- the token is a fresh ULID, never a counter, so a Redis that lost its data can never make an
  old copy match again.
Every key of one cache shares one hash tag (`catalog:{<tag>}:...`), so the compare-and-set
touches one cluster slot.
Reads: concurrent readers of one process share one version GET per wave (shared.coalesce,
which never hands a reader a GET begun before it asked), so a local hit costs a fraction of a
round trip under load. The in-process copies are a bounded LRU, dropped on a version change.
Stampedes: one rebuild per process per (token, key) (a shared task), one per cluster per key
(a lease); the others poll Redis for the new copy, bounded by `wait_ms`, then query themselves.

Two caches are built (`bootstrap.py`): `banners` (tag `banners`, one key) and `pages` (tag
`pages`: the course lists and course details, invalidated by any course, chapter, section,
teacher or category write).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from cachetools import LRUCache
from prometheus_client import CollectorRegistry, Counter
from redis.exceptions import RedisError

from services.catalog.domain import CachedCopy, fresh
from services.catalog.ports import CacheUnreachable
from shared.coalesce import CoalescedRead
from shared.events import new_event_id
from shared.logging import get_logger
from shared.redis import RedisClient, text

log = get_logger(__name__)


def version_key(tag: str) -> str:
    return f"catalog:{{{tag}}}:version"


def copy_key(tag: str, key: str) -> str:
    # `copy:` keeps these apart from the banner list's former `catalog:{banners}:list`
    # (`{"version", "banners"}`), which replicas of the previous release still read and write
    # during a rolling deploy; both releases share the version key, so invalidation holds.
    return f"catalog:{{{tag}}}:copy:{key}"


def lease_key(tag: str, key: str) -> str:
    return f"catalog:{{{tag}}}:lease:{key}"


BANNERS_TAG, BANNERS_KEY = "banners", "list"
PAGES_TAG = "pages"
# The banner cache's keys (the CLI's `banner-cache` and the tests read them).
VERSION_KEY = version_key(BANNERS_TAG)
COPY_KEY = copy_key(BANNERS_TAG, BANNERS_KEY)
LEASE_KEY = lease_key(BANNERS_TAG, BANNERS_KEY)

STORE_IF_CURRENT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

Load = Callable[[], Awaitable[Any]]


async def replace_version(redis: RedisClient, tag: str = BANNERS_TAG) -> str:
    """Make every existing copy of cache `tag` unservable; call after its rows changed."""
    version = new_event_id()
    await redis.set(version_key(tag), version)
    return version


class CacheMetrics:
    """`<prefix>_hits_total{layer}`, `<prefix>_rebuilds_total{trigger}`,
    `<prefix>_stale_refused_total`: `catalog_banner_cache` for the banners; with `cache` (the
    course pages: `catalog_page_cache`, `cache="courses"`) each carries a `cache` label too."""

    def __init__(self, registry: CollectorRegistry, prefix: str = "catalog_banner_cache",
                 what: str = "Banner list", cache: str | None = None) -> None:
        first = ["cache"] if cache is not None else []
        self._first = [cache] if cache is not None else []
        self._hits = Counter(
            f"{prefix}_hits_total", f"{what} reads by the layer that answered.",
            [*first, "layer"], registry=registry,
        )
        self.local_hits = self.hit("local")  # every read under load: kept, not looked up
        self._rebuilds = Counter(
            f"{prefix}_rebuilds_total", f"{what} rebuilds from the database.",
            [*first, "trigger"], registry=registry,
        )
        refused = Counter(
            f"{prefix}_stale_refused_total",
            "Rebuilt copies not stored because a write changed the version meanwhile.",
            first, registry=registry,
        )
        self.refused = refused.labels(*self._first) if cache is not None else refused

    def hit(self, layer: str) -> Counter:
        return self._hits.labels(*self._first, layer)

    def rebuilt(self, trigger: str) -> Counter:
        return self._rebuilds.labels(*self._first, trigger)


def page_metrics(registry: CollectorRegistry) -> CacheMetrics:
    return CacheMetrics(registry, "catalog_page_cache", "Course page", cache="courses")


def _decode(raw: bytes | None) -> CachedCopy | None:
    if raw is None:
        return None
    try:
        body = orjson.loads(raw)
        return CachedCopy(version=body["version"], value=body["value"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None  # not a copy this release wrote: a miss


class VersionedCache:
    """Keyed copies under one version token; implements the `ports.VersionedCache` a write
    needs (`invalidate`), and serves the reads (`get`, `get_json`). `load` (per call) queries
    the database and renders the copy (JSON-serialisable) of one key."""

    def __init__(
        self, redis: RedisClient, metrics: CacheMetrics, *, tag: str = BANNERS_TAG,
        ttl_ms: int = 3_600_000, lease_ms: int = 5000, wait_ms: int = 3000, poll_ms: int = 10,
        local_size: int = 512,
    ) -> None:
        self.redis = redis
        self.metrics = metrics
        self.tag = tag
        self.version_key = version_key(tag)
        self.ttl_ms, self.lease_ms = ttl_ms, lease_ms
        self.wait_s, self.poll_s = wait_ms / 1000, poll_ms / 1000
        # key -> the in-process copy, and its JSON rendering (made once per copy: a copy never
        # changes, a new version brings a new copy). Only copies of `_local_version`.
        self._local: LRUCache[str, tuple[CachedCopy, bytes | None]] = LRUCache(local_size)
        self._local_version: str | None = None
        self._inflight: dict[tuple[str, str], asyncio.Task[tuple[str, Any]]] = {}
        # Concurrent readers share one version GET, never one begun before they asked.
        self._current_version = CoalescedRead(self._version)
        self._store = redis.register_script(STORE_IF_CURRENT)
        self._release = redis.register_script(RELEASE_LEASE)

    def local_copy(self, key: str) -> CachedCopy | None:
        entry = self._local.get(key)
        return entry[0] if entry is not None else None

    async def get(self, key: str, load: Load) -> Any:
        """The copy of `key`, never older than the last write that returned."""
        return (await self._get(key, load))[0]

    async def get_json(self, key: str, load: Load) -> bytes:
        """`get` as a JSON body, without re-serialising the in-process copy on every read."""
        value, copy = await self._get(key, load)
        if copy is None:
            return orjson.dumps(value)  # read from the database, not (or not yet) cached
        entry = self._local.get(key)
        if entry is None or entry[0] is not copy:
            return orjson.dumps(value)  # dropped meanwhile
        if entry[1] is None:
            entry = (copy, orjson.dumps(value))
            self._local[key] = entry
        assert entry[1] is not None
        return entry[1]

    async def _get(self, key: str, load: Load) -> tuple[Any, CachedCopy | None]:
        try:
            version = await self._current_version.get()
        except (RedisError, OSError) as exc:
            # The database is the truth and always fresh; only the caches need Redis.
            log.warning("redis unreachable; read from the database", cache=self.tag,
                        error=str(exc))
            self.metrics.hit("db").inc()
            self.metrics.rebuilt("redis-down").inc()
            return await load(), None
        if version != self._local_version:
            self._local.clear()
            self._local_version = version
        local = self.local_copy(key)
        if local is not None and fresh(local, version):
            self.metrics.local_hits.inc()
            return local.value, local
        task = self._inflight.get((version, key))
        if task is None:
            task = asyncio.create_task(self._fetch(version, key, load))
            self._inflight[(version, key)] = task
            task.add_done_callback(lambda done: self._forget((version, key), done))
        # A reader that gives up must not cancel the rebuild the others wait for.
        layer, value = await asyncio.shield(task)
        self.metrics.hit(layer).inc()
        local = self.local_copy(key)
        return value, local if local is not None and local.value is value else None

    async def invalidate(self) -> str:
        """Every existing copy stops matching; writes call it before and after their
        commit. Raises `CacheUnreachable` when Redis does not answer."""
        try:
            version = await replace_version(self.redis, self.tag)
        except (RedisError, OSError) as error:
            raise CacheUnreachable(str(error)) from error
        self.drop_local()
        return version

    async def rebuild(self, key: str, load: Load) -> Any:
        """A new version and a copy of `key` built under it, so rows changed behind the API's
        back (a migration, a manual fix) show up too."""
        version = await self.invalidate()
        return await self._rebuild(version, key, load, trigger="command")

    def drop_local(self) -> None:
        """Another replica wrote: free the in-process copies now rather than at the next
        read."""
        self._local.clear()
        self._local_version = None

    async def _version(self) -> str:
        raw = await self.redis.get(self.version_key)
        if raw is None:  # first start, or Redis lost its data: a token no copy carries
            await self.redis.set(self.version_key, new_event_id(), nx=True)
            raw = await self.redis.get(self.version_key)
        return text(raw)

    def _forget(self, inflight: tuple[str, str], task: asyncio.Task[tuple[str, Any]]) -> None:
        if self._inflight.get(inflight) is task:
            del self._inflight[inflight]
        if not task.cancelled():
            task.exception()  # retrieved here; the readers awaiting it get it too

    def _keep(self, key: str, copy: CachedCopy) -> None:
        if copy.version == self._local_version:
            self._local[key] = (copy, None)

    async def _fetch(self, version: str, key: str, load: Load) -> tuple[str, Any]:
        """(layer that answered, value) for the readers of `key` under `version` here."""
        deadline = asyncio.get_running_loop().time() + self.wait_s
        lease_at = lease_key(self.tag, key)
        current, copy = version, _decode(await self.redis.get(copy_key(self.tag, key)))
        while True:
            if copy is not None and fresh(copy, current):
                self._keep(key, copy)
                return "redis", copy.value
            lease = new_event_id()
            if await self.redis.set(lease_at, lease, nx=True, px=self.lease_ms):
                try:
                    # The holder before us stored its copy just before letting go: look again.
                    current, copy = await self._current(current, key)
                    if copy is not None and fresh(copy, current):
                        self._keep(key, copy)
                        return "redis", copy.value
                    return "db", await self._rebuild(current, key, load, trigger="miss")
                finally:
                    await self._release(keys=[lease_at], args=[lease])
            if asyncio.get_running_loop().time() >= deadline:
                log.warning("cache lease holder too slow; querying without the lease",
                            cache=self.tag, key=key)
                return "db", await self._rebuild(current, key, load, trigger="wait-timeout")
            await asyncio.sleep(self.poll_s)
            current, copy = await self._current(current, key)

    async def _current(self, version: str, key: str) -> tuple[str, CachedCopy | None]:
        """The version now (a write meanwhile moves readers on to it) and the Redis copy,
        in one round trip."""
        version_raw, raw = await self.redis.mget(self.version_key, copy_key(self.tag, key))
        return (version if version_raw is None else text(version_raw)), _decode(raw)

    async def _rebuild(self, version: str, key: str, load: Load, trigger: str) -> Any:
        value = await load()
        self.metrics.rebuilt(trigger).inc()
        body = orjson.dumps({"version": version, "value": value})
        if await self._store(keys=[self.version_key, copy_key(self.tag, key)],
                             args=[version, body, self.ttl_ms]):
            self._keep(key, CachedCopy(version, value))
        else:
            # Rows read before a write committed: serve them to the readers that asked before
            # it returned, but keep them out of every cache.
            self.metrics.refused.inc()
        return value


class BannerCache(VersionedCache):
    """The banner list: one key (`list`) of a `VersionedCache` tagged `banners`; `load`
    queries the database and renders the list (one query per call)."""

    def __init__(
        self, redis: RedisClient, load: Load, metrics: CacheMetrics, **options: Any
    ) -> None:
        super().__init__(redis, metrics, tag=BANNERS_TAG, **options)
        self.load = load

    @property
    def local(self) -> CachedCopy | None:
        return self.local_copy(BANNERS_KEY)

    async def get(self, key: str = BANNERS_KEY, load: Load | None = None) -> Any:
        """The shown banners by `orders`, never older than the last write that returned."""
        return await super().get(key, load or self._load)

    async def get_json(self, key: str = BANNERS_KEY, load: Load | None = None) -> bytes:
        return await super().get_json(key, load or self._load)

    async def rebuild(self, key: str = BANNERS_KEY, load: Load | None = None) -> Any:
        """The `banners.rebuild-cache` command."""
        return await super().rebuild(key, load or self._load)

    async def _load(self) -> Any:
        return await self.load()  # looked up per call (a test swaps it for a slow one)
