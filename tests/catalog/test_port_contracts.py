"""What the handlers rely on from their ports, run against the fakes of tests/catalog/fakes.py
and against the real adapters (SQLite/PostgreSQL, real Redis), so the unit tier's fakes
cannot drift from what they stand for. The real runs are marked `integration`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from services.catalog.adapters.orm import (
    Banner,
    Chapter,
    Course,
    CourseCategory,
    Section,
    Teacher,
)
from services.catalog.adapters.page_cache import BannerCache, CacheMetrics
from services.catalog.bootstrap import database
from services.catalog.domain import Conflict
from services.catalog.ports import CacheUnreachable, CatalogStore
from services.catalog.settings import Settings
from shared.embedded_redis import free_port
from shared.redis import make_redis
from tests.catalog.fakes import FakeBannerCache, FakeCatalogStore
from tests.support import databases, redis_servers

REAL = pytest.mark.integration


@pytest.fixture(params=["fake", *(pytest.param(b, marks=REAL) for b in databases.BACKENDS)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CatalogStore]:
    """The fake, then the SQL store on each database of tests/conftest.py's `db_backend`."""
    if request.param == "fake":
        yield FakeCatalogStore()
        return
    factory: databases.DatabaseFactory = request.getfixturevalue("database_factory")
    url = await factory.new("catalog", request.param)
    async with database(Settings(database_url=url, var_dir=tmp_path)) as (_engine, sql):
        yield sql


async def added(store: CatalogStore, *rows: Any) -> list[Any]:
    async with store.writing() as repo:
        for row in rows:
            await repo.add(row)
    return list(rows)


class TestCatalogStore:
    async def test_add_sets_ids_and_defaults_and_the_commit_keeps_them(
        self, store: CatalogStore
    ) -> None:
        [banner] = await added(store, Banner(title="t", image="/b.jpg"))
        assert isinstance(banner.id, int)
        assert (banner.is_delete, banner.is_show, banner.orders) == (False, True, 0)
        assert banner.created_at.utcoffset() is not None
        async with store.reading() as repo:
            again = await repo.get(Banner, banner.id)
        assert again is not None and (again.title, again.link) == ("t", "")

    async def test_a_failed_unit_of_work_leaves_nothing(self, store: CatalogStore) -> None:
        [category] = await added(store, CourseCategory(name="Go"))
        with pytest.raises(RuntimeError):
            async with store.writing() as repo:
                row = await repo.get(CourseCategory, category.id)
                assert row is not None
                row.name = "Rust"
                await repo.add(Teacher(name="T", title="t"))
                raise RuntimeError("refused after the changes")
        async with store.reading() as repo:
            assert [c.name for c in await repo.categories()] == ["Go"]
            assert (await repo.teachers(0, 10))[0] == 0

    async def test_an_update_moves_updated_at(self, store: CatalogStore) -> None:
        [teacher] = await added(store, Teacher(name="T", title="t"))
        await asyncio.sleep(0.002)
        async with store.writing() as repo:
            row = await repo.get(Teacher, teacher.id)
            assert row is not None
            row.title = "lead"
        assert row.updated_at > teacher.created_at

    async def test_a_category_name_is_unique_among_deleted_rows_too(
        self, store: CatalogStore
    ) -> None:
        _, go = await added(store, CourseCategory(name="Python", is_delete=True),
                                 CourseCategory(name="Go"))
        with pytest.raises(Conflict):
            await added(store, CourseCategory(name="Python"))
        with pytest.raises(Conflict):
            async with store.writing() as repo:
                row = await repo.get(CourseCategory, go.id)
                assert row is not None
                row.name = "Python"  # refused at the commit
        async with store.reading() as repo:
            assert [c.name for c in await repo.categories()] == ["Go"]

    async def test_public_reads_skip_deleted_and_hidden_rows_in_order(
        self, store: CatalogStore
    ) -> None:
        *_, deleted = await added(store, Banner(title="b", image="/i", orders=2),
                    Banner(title="a2", image="/i", orders=1),
                    Banner(title="a1", image="/i", orders=1),
                    Banner(title="hidden", image="/i", is_show=False),
                    Banner(title="deleted", image="/i", is_delete=True))
        teachers = await added(store, *(Teacher(name=f"T{i}", title="t", orders=5 - i)
                                        for i in range(4)), Teacher(name="H", title="t",
                                                                    is_show=False))
        async with store.reading() as repo:
            assert [b.title for b in await repo.banners()] == ["a2", "a1", "b"]
            count, page = await repo.teachers(1, 2)
            assert count == 4 and [t.name for t in page] == ["T2", "T1"]
            assert await repo.teacher(teachers[-1].id) is None
            shown = await repo.teacher(teachers[0].id)
            assert shown is not None and shown.name == "T0"
            again = await repo.get(Banner, deleted.id)  # `get` sees every row
            assert again is not None and again.is_delete

    async def test_courses_filter_search_order_and_bring_their_links(
        self, store: CatalogStore
    ) -> None:
        go, _ = await added(store, CourseCategory(name="Go"), CourseCategory(name="Other"))
        [teacher] = await added(store, Teacher(name="T", title="t", is_delete=True))
        courses = await added(store, *(
            Course(name=name, kind=kind, price=Decimal(price), brief=brief, students=students,
                   course_category_id=go.id if name.startswith("Go") else None,
                   teacher_id=teacher.id)
            for name, kind, price, brief, students in (
                ("Go basics", "free", "0", None, 5),
                ("Go 100%", "actual", "99", "fast", 5),
                ("Rust", "actual", "39.9", "like go, but", 9),
                ("Hidden go", "actual", "1", None, 0),
            )))
        async with store.writing() as repo:
            hidden = await repo.get(Course, courses[3].id)
            assert hidden is not None
            hidden.is_show = False

        async def names(**query: Any) -> tuple[int, list[str]]:
            args = {"kind": None, "category": None, "search": None, "ordering": "orders",
                    "offset": 0, "limit": 10, **query}
            async with store.reading() as repo:
                page = await repo.course_page(**args)
            return page.count, [r.name for r in page.courses]

        assert await names() == (3, ["Go basics", "Go 100%", "Rust"])
        assert await names(kind="actual", ordering="-price") == (2, ["Go 100%", "Rust"])
        assert await names(category=go.id, ordering="-id") == (2, ["Go 100%", "Go basics"])
        assert await names(search="GO") == (3, ["Go basics", "Go 100%", "Rust"])  # and brief
        assert await names(search="100%") == (1, ["Go 100%"])
        assert await names(search="1_0") == (0, [])  # `_` and `%` are literal
        assert await names(ordering="-students", offset=1, limit=1) == (3, ["Go basics"])
        assert await names(offset=3) == (3, [])  # past the end: the count still
        assert await names(search="nothing", offset=1) == (0, [])
        async with store.reading() as repo:
            page = await repo.course_page(kind=None, category=None, search=None,
                                          ordering="id", offset=0, limit=1)
            first = page.courses[0]
            assert first.teacher_id is None and first.teacher_name is None  # deleted: null
            assert first.category_id == go.id and first.category_name == "Go"
            assert await repo.course(hidden.id) is None
            assert await repo.course(hidden.id, public=False) is not None

    async def test_chapters_previews_and_live_parents(self, store: CatalogStore) -> None:
        course, gone = await added(store, Course(name="C", kind="free"),
                                   Course(name="D", kind="free", is_delete=True))
        two, one, hidden, orphan = await added(
            store, Chapter(course_id=course.id, chapter=2, name="Two"),
            Chapter(course_id=course.id, chapter=1, name="One"),
            Chapter(course_id=course.id, chapter=3, name="Hidden", is_show=False),
            Chapter(course_id=gone.id, chapter=1, name="Orphan"))
        await added(store, *(Section(chapter_id=chapter.id, name=f"{chapter.name}-{n}",
                                     orders=n, is_show=n != 2)
                             for chapter in (two, one, hidden) for n in (3, 1, 2)))
        async with store.reading() as repo:
            chapters = await repo.chapters(course.id)
            assert [(c.name, [s.name for s in ss]) for c, ss in chapters] == [
                ("One", ["One-1", "One-3"]), ("Two", ["Two-1", "Two-3"])]
            page = await repo.course_page(kind=None, category=None, search=None,
                                          ordering="orders", offset=0, limit=10)
            assert [c.id for c in page.courses] == [course.id]
            assert [(p.chapter_number, p.name, p.orders) for p in page.previews[course.id]] == [
                (1, "One-1", 1), (1, "One-3", 3), (2, "Two-1", 1), (2, "Two-3", 3)]
            assert gone.id not in page.previews
            live = await repo.chapter_of_live_course(hidden.id)  # hidden, but not deleted
            assert live is not None and live.course_id == course.id
            assert await repo.chapter_of_live_course(orphan.id) is None

    async def test_a_page_brings_at_most_four_previews_per_course_in_its_order(
        self, store: CatalogStore
    ) -> None:
        first, second, bare = await added(store, Course(name="A", kind="free", students=1),
                                          Course(name="B", kind="free", students=2),
                                          Course(name="C", kind="free", students=2))
        chapters = await added(store, *(Chapter(course_id=c.id, chapter=n, name=f"{c.name}{n}")
                                        for c in (first, second) for n in (2, 1)))
        await added(store, *(Section(chapter_id=ch.id, name=f"{ch.name}-{n}", orders=n)
                             for ch in chapters for n in (3, 1, 2)))
        async with store.reading() as repo:
            page = await repo.course_page(kind=None, category=None, search=None,
                                          ordering="-students", offset=0, limit=10)
            assert [c.name for c in page.courses] == ["B", "C", "A"]  # id breaks the tie
            assert page.count == 3 and bare.id not in page.previews
            for course in (first, second):
                assert [(p.course_id, p.name) for p in page.previews[course.id]] == [
                    (course.id, f"{course.name}1-{n}") for n in (1, 2, 3)] + [
                    (course.id, f"{course.name}2-1")]


Load = Callable[[], Awaitable[list[dict[str, Any]]]]
MakeCache = Callable[..., Any]


class Table:
    """The banner rows a cache loads; `stall` holds a load back after its read."""

    def __init__(self) -> None:
        self.title, self.loads = "one", 0
        self.read = asyncio.Event()
        self.stall: asyncio.Event | None = None

    async def load(self) -> list[dict[str, Any]]:
        self.loads += 1
        rows = [{"id": 1, "title": self.title}]
        self.read.set()
        if self.stall is not None:
            await asyncio.wait_for(self.stall.wait(), 5)
        return rows


@pytest.fixture(params=["fake", *(pytest.param(b, marks=REAL) for b in redis_servers.BACKENDS)])
async def make_cache(request: pytest.FixtureRequest) -> AsyncIterator[MakeCache]:
    """`make_cache(load, reachable=True)`: the fake, then the real cache on each Redis of
    tests/conftest.py's `redis_url` (emptied first); unreachable: a port nobody listens on."""
    if request.param == "fake":
        url = ""
    elif request.param == "embedded":
        url = request.getfixturevalue("embedded_redis").url
    else:
        url = os.environ["REDIS_URL"]
    clients: list[Redis] = []

    async def make(load: Load, reachable: bool = True) -> Any:
        if not url:
            fake = FakeBannerCache(load)
            fake.reachable = reachable
            return fake
        redis = make_redis(url if reachable else f"redis://127.0.0.1:{free_port()}")
        clients.append(redis)
        if reachable:
            await redis.flushdb()
        return BannerCache(redis, load, CacheMetrics(CollectorRegistry()), poll_ms=1)

    yield make
    for client in clients:
        await client.aclose()


class TestBannerCache:
    async def test_a_copy_serves_until_an_invalidation(self, make_cache: MakeCache) -> None:
        table = Table()
        cache = await make_cache(table.load)
        assert [b["title"] for b in await cache.get()] == ["one"]
        table.title = "two"  # changed, cache not told
        assert [b["title"] for b in await cache.get()] == ["one"]
        assert table.loads == 1
        await cache.invalidate()
        assert [b["title"] for b in await cache.get()] == ["two"]

    async def test_a_load_overtaken_by_an_invalidation_is_never_kept(
        self, make_cache: MakeCache
    ) -> None:
        table = Table()
        cache = await make_cache(table.load)
        table.stall = stall = asyncio.Event()
        slow = asyncio.create_task(cache.get())
        await asyncio.wait_for(table.read.wait(), 5)
        table.title = "two"
        await cache.invalidate()
        stall.set()
        assert [b["title"] for b in await slow] == ["one"]  # asked before the invalidation
        table.stall = None
        assert [b["title"] for b in await cache.get()] == ["two"]

    async def test_unreachable_it_refuses_to_invalidate_and_reads_load(
        self, make_cache: MakeCache
    ) -> None:
        table = Table()
        cache = await make_cache(table.load, reachable=False)
        with pytest.raises(CacheUnreachable):
            await cache.invalidate()
        assert [b["title"] for b in await cache.get()] == ["one"]
        table.title = "two"
        assert [b["title"] for b in await cache.get()] == ["two"]
