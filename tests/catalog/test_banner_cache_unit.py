"""The banner cache's logic against an in-memory fake of the few Redis commands it uses
(fast, deterministic interleavings). The same properties run on real Redis and real databases
in test_banner_cache.py."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from services.catalog.adapters.page_cache import (
    COPY_KEY,
    LEASE_KEY,
    PAGES_TAG,
    RELEASE_LEASE,
    STORE_IF_CURRENT,
    VERSION_KEY,
    BannerCache,
    CacheMetrics,
    VersionedCache,
    page_metrics,
    version_key,
)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


class FakeRedis:
    """GET, SET [NX] [PX], MGET and the cache's two scripts, without expiry."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    async def set(self, key: str, value: Any, nx: bool = False, px: int | None = None) -> bool:
        if nx and key in self.data:
            return False
        self.data[key] = _bytes(value)
        return True

    async def mget(self, *keys: str) -> list[bytes | None]:
        return [self.data.get(k) for k in keys]

    def register_script(self, script: str) -> Any:
        return {STORE_IF_CURRENT: self._store, RELEASE_LEASE: self._release}[script]

    async def _store(self, keys: list[str], args: list[Any]) -> int:
        if self.data.get(keys[0]) != _bytes(args[0]):
            return 0
        self.data[keys[1]] = _bytes(args[1])
        return 1

    async def _release(self, keys: list[str], args: list[Any]) -> int:
        if self.data.get(keys[0]) != _bytes(args[0]):
            return 0
        del self.data[keys[0]]
        return 1


class Table:
    """Stands for the banner table: `load` reads it, optionally stalling after the read."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.loads = 0
        self.stall: asyncio.Event | None = None
        self.read = asyncio.Event()

    async def load(self) -> list[dict[str, Any]]:
        self.loads += 1
        rows = [{"id": 1, "title": self.title}]
        self.read.set()
        if self.stall is not None:
            await asyncio.wait_for(self.stall.wait(), 5)
        return rows


def make_cache(redis: FakeRedis, table: Table, **options: Any) -> tuple[BannerCache, Any]:
    registry = CollectorRegistry()
    fake: Any = redis
    cache = BannerCache(fake, table.load, CacheMetrics(registry), poll_ms=1, **options)
    return cache, registry


def titles(banners: list[dict[str, Any]]) -> list[str]:
    return [b["title"] for b in banners]


async def test_concurrent_readers_in_one_process_share_one_load() -> None:
    table = Table("one")
    cache, registry = make_cache(FakeRedis(), table)
    results = await asyncio.gather(*(cache.get() for _ in range(200)))
    assert table.loads == 1
    assert all(titles(r) == ["one"] for r in results)
    assert registry.get_sample_value("catalog_banner_cache_hits_total", {"layer": "db"}) == 200
    await cache.get()
    assert registry.get_sample_value("catalog_banner_cache_hits_total", {"layer": "local"}) == 1


async def test_a_stalled_reader_cannot_store_rows_a_write_made_old() -> None:
    redis, table = FakeRedis(), Table("old")
    cache, registry = make_cache(redis, table)
    table.stall = asyncio.Event()
    slow = asyncio.create_task(cache.get())
    await asyncio.wait_for(table.read.wait(), 5)

    table.title = "new"  # the write commits...
    await cache.invalidate()  # ...and replaces the version before it returns
    table.stall.set()
    assert titles(await slow) == ["old"]  # its own reader asked before the write returned
    assert COPY_KEY not in redis.data and cache.local is None
    assert registry.get_sample_value("catalog_banner_cache_stale_refused_total") == 1

    table.stall = None
    assert titles(await cache.get()) == ["new"]


async def test_a_reader_giving_up_does_not_cancel_the_shared_load() -> None:
    table = Table("one")
    table.stall = asyncio.Event()
    cache, _ = make_cache(FakeRedis(), table)
    impatient, patient = asyncio.create_task(cache.get()), asyncio.create_task(cache.get())
    await asyncio.wait_for(table.read.wait(), 5)
    impatient.cancel()
    table.stall.set()
    assert titles(await patient) == ["one"]
    assert table.loads == 1


async def test_a_waiting_reader_takes_the_copy_another_replica_stores() -> None:
    redis, table = FakeRedis(), Table("unused")
    cache, _ = make_cache(redis, table, wait_ms=5000)
    await redis.set(VERSION_KEY, "v1")
    await redis.set(LEASE_KEY, "other-replica")
    reader = asyncio.create_task(cache.get())
    await asyncio.sleep(0.02)
    assert not reader.done()
    # Meanwhile a write moved the version on, and the other replica stored that version's copy.
    await redis.set(VERSION_KEY, "v2")
    await redis.set(COPY_KEY, orjson.dumps({"version": "v2", "value": [{"title": "v2"}]}))
    assert titles(await asyncio.wait_for(reader, 5)) == ["v2"]
    assert table.loads == 0


async def test_a_reader_stops_waiting_for_a_dead_lease_holder() -> None:
    redis, table = FakeRedis(), Table("fresh")
    cache, registry = make_cache(redis, table, wait_ms=30)
    await redis.set(LEASE_KEY, "crashed-replica")
    assert titles(await cache.get()) == ["fresh"]
    assert registry.get_sample_value(
        "catalog_banner_cache_rebuilds_total", {"trigger": "wait-timeout"}) == 1


async def test_a_copy_of_another_version_is_never_served() -> None:
    redis, table = FakeRedis(), Table("current")
    cache, _ = make_cache(redis, table)
    await redis.set(VERSION_KEY, "v9")
    await redis.set(COPY_KEY, orjson.dumps({"version": "v8", "value": [{"title": "old"}]}))
    assert titles(await cache.get()) == ["current"]


async def test_a_copy_in_another_format_is_a_miss() -> None:
    redis, table = FakeRedis(), Table("current")
    cache, _ = make_cache(redis, table)
    await redis.set(VERSION_KEY, "v1")
    await redis.set(COPY_KEY, orjson.dumps({"version": "v1", "banners": [{"title": "old"}]}))
    assert titles(await cache.get()) == ["current"]


async def test_keyed_copies_are_bounded_in_process_and_dropped_on_a_new_version() -> None:
    redis, registry = FakeRedis(), CollectorRegistry()
    fake: Any = redis
    loads: list[str] = []

    def loader(key: str) -> Any:
        async def load() -> dict[str, str]:
            loads.append(key)
            return {"key": key}
        return load

    cache = VersionedCache(fake, page_metrics(registry), tag=PAGES_TAG, local_size=2)
    for key in ("a", "b", "c"):
        assert await cache.get(key, loader(key)) == {"key": key}
    assert cache.local_copy("a") is None and cache.local_copy("c") is not None  # LRU of 2
    assert orjson.loads(await cache.get_json("c", loader("c"))) == {"key": "c"}
    assert loads == ["a", "b", "c"]
    assert registry.get_sample_value("catalog_page_cache_hits_total",
                                     {"cache": "courses", "layer": "local"}) == 1
    await redis.set(version_key(PAGES_TAG), "another")  # a write on another replica
    assert await cache.get("c", loader("c")) == {"key": "c"}
    assert cache.local_copy("b") is None  # dropped with the old version
    assert loads == ["a", "b", "c", "c"]
