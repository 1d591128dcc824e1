"""The catalog's use cases on in-memory fakes of their ports: no Redis, no database.

What a write does and in which order (the banner version replaced before and after the
commit, then the event), what each refusal is, and that a refused write changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from services.catalog import handlers
from services.catalog.adapters.orm import Course
from services.catalog.domain import CacheUnavailable, Conflict, UnknownReference
from services.catalog.handlers import BANNER, CATEGORY, CHAPTER, COURSE, SECTION, TEACHER, Handlers
from shared.errors import NotFound
from shared.pagination import PageParams
from tests.catalog.fakes import FakeBannerCache, FakeCatalogStore, FakeEventPublisher


class Catalog:
    """The handlers with their fakes, and what the fakes saw."""

    def __init__(self) -> None:
        self.store = FakeCatalogStore()
        self.cache = FakeBannerCache(self._load_banners)
        self.events = FakeEventPublisher()
        self.pages = FakeBannerCache(self._no_load)  # the course pages: only invalidated here
        self.handlers = Handlers(self.store, self.cache, self.events, self.pages)
        self.loads = 0

    async def _no_load(self) -> Any:
        raise AssertionError("the handlers never read through the page cache")

    async def _load_banners(self) -> list[dict[str, Any]]:
        self.loads += 1
        async with self.store.reading() as repo:
            return [{"id": b.id, "title": b.title} for b in await repo.banners()]

    def seen(self) -> list[tuple[str, dict[str, Any], str | None]]:
        return [(e.type, e.data, e.correlation_id) for e in self.events.published]

    def state(self) -> Any:
        return (self.store.tables, self.cache.version, len(self.events.published))


ALL = PageParams(page=1, page_size=100)


@pytest.fixture
def catalog() -> Catalog:
    return Catalog()


async def tree(catalog: Catalog) -> dict[str, Any]:
    h = catalog.handlers
    category = await h.create(CATEGORY, {"name": "Python"}, None)
    teacher = await h.create(TEACHER, {"name": "Alex", "title": "Lead"}, None)
    course = await h.create(COURSE, {"name": "Py", "kind": "free", "teacher_id": teacher.id,
                                     "category_id": category.id}, None)
    chapter = await h.create(CHAPTER, {"name": "Basics"}, None, parent_id=course.id)
    section = await h.create(SECTION, {"name": "Hello", "orders": 1}, None, parent_id=chapter.id)
    return {"category": category, "teacher": teacher, "course": course, "chapter": chapter,
            "section": section}


async def test_a_banner_write_replaces_the_version_before_and_after_then_publishes(
    catalog: Catalog,
) -> None:
    assert await catalog.cache.get() == []
    banner = await catalog.handlers.create(BANNER, {"title": "one", "image": "/b.jpg"}, "c-1")
    assert catalog.cache.invalidations == 2
    assert catalog.seen() == [
        ("banner.changed", {"entity": "banner", "id": banner.id, "action": "created"}, "c-1")]
    assert await catalog.cache.get() == [{"id": banner.id, "title": "one"}]

    await catalog.handlers.update(BANNER, banner.id, {"title": "two"}, None)
    assert await catalog.cache.get() == [{"id": banner.id, "title": "two"}]
    await catalog.handlers.delete(BANNER, banner.id, None)
    assert await catalog.cache.get() == []
    assert [d["action"] for _, d, _ in catalog.seen()] == ["created", "updated", "deleted"]
    assert catalog.cache.invalidations == 6


async def test_a_banner_write_with_the_cache_unreachable_is_refused_before_any_change(
    catalog: Catalog,
) -> None:
    banner = await catalog.handlers.create(BANNER, {"title": "one", "image": "/b.jpg"}, None)
    before = catalog.state()
    catalog.cache.reachable = False
    for write in (catalog.handlers.create(BANNER, {"title": "x", "image": "/x.jpg"}, None),
                  catalog.handlers.update(BANNER, banner.id, {"title": "x"}, None),
                  catalog.handlers.delete(BANNER, banner.id, None)):
        with pytest.raises(CacheUnavailable) as refused:
            await write
        assert refused.value.detail == "The banner cache cannot be reached; nothing was changed."
    assert catalog.state() == before
    # Other writes do not need the cache.
    await catalog.handlers.create(CATEGORY, {"name": "Go"}, None)


async def test_a_course_is_answered_with_its_links_and_every_write_names_its_course(
    catalog: Catalog,
) -> None:
    rows = await tree(catalog)
    course = rows["course"]
    assert isinstance(course, Course)
    assert course.course_category_id == rows["category"].id  # body `category_id`, renamed
    assert course.teacher is not None and course.teacher.name == "Alex"
    assert course.course_category is not None and course.course_category.name == "Python"
    assert course.price == Decimal("0") and course.is_show and not course.is_delete
    assert [(t, d["entity"], d.get("course_id")) for t, d, _ in catalog.seen()] == [
        ("course.changed", "category", None),
        ("course.changed", "teacher", None),
        ("course.changed", "course", course.id),
        ("course.changed", "chapter", course.id),
        ("course.changed", "section", course.id),
    ]
    await catalog.handlers.delete(SECTION, rows["section"].id, "c-2")
    assert catalog.seen()[-1] == ("course.changed", {
        "entity": "section", "id": rows["section"].id, "action": "deleted",
        "course_id": course.id}, "c-2")
    assert catalog.cache.invalidations == 0  # only banner writes touch the banner cache
    # Every other write replaces the pages' version before and after its commit.
    assert catalog.pages.invalidations == 2 * 6


async def test_a_course_write_with_the_page_cache_unreachable_is_refused_before_any_change(
    catalog: Catalog,
) -> None:
    rows = await tree(catalog)
    catalog.pages.reachable = False
    published = len(catalog.seen())
    with pytest.raises(CacheUnavailable) as refused:
        await catalog.handlers.update(COURSE, rows["course"].id, {"name": "x"}, None)
    assert refused.value.detail == (
        "The course page cache cannot be reached; nothing was changed.")
    async with catalog.store.reading() as repo:
        course = await repo.course(rows["course"].id)
    assert course is not None and course.name != "x"
    assert len(catalog.seen()) == published


async def test_links_to_missing_or_deleted_rows_are_refused_field_by_field(
    catalog: Catalog,
) -> None:
    rows = await tree(catalog)
    await catalog.handlers.delete(TEACHER, rows["teacher"].id, None)
    before = catalog.state()
    with pytest.raises(UnknownReference) as refused:
        await catalog.handlers.create(COURSE, {"name": "C", "kind": "free", "category_id": 99,
                                               "teacher_id": rows["teacher"].id}, None)
    assert [(e.field, e.reason, e.kind) for e in refused.value.errors] == [
        ("teacher_id", f"no Teacher {rows['teacher'].id}", "unknown_reference"),
        ("category_id", "no CourseCategory 99", "unknown_reference"),
    ]
    assert refused.value.detail == f"no Teacher {rows['teacher'].id}; no CourseCategory 99"
    with pytest.raises(UnknownReference):
        await catalog.handlers.update(COURSE, rows["course"].id, {"category_id": 99}, None)
    assert catalog.state() == before


async def test_unknown_parents_and_rows_are_not_found(catalog: Catalog) -> None:
    rows = await tree(catalog)
    h = catalog.handlers
    await h.delete(COURSE, rows["course"].id, None)
    before = catalog.state()
    refusals: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("No course with id 999.", lambda: h.create(CHAPTER, {"name": "x"}, None, parent_id=999)),
        (f"No chapter with id {rows['chapter'].id}.",  # its course is deleted
         lambda: h.create(SECTION, {"name": "x"}, None, parent_id=rows["chapter"].id)),
        (f"No course with id {rows['course'].id}.",
         lambda: h.update(COURSE, rows["course"].id, {"name": "x"}, None)),
        ("No section with id 999.", lambda: h.delete(SECTION, 999, None)),
        ("No teacher with id 999.", lambda: h.teacher(999)),
        (f"No course with id {rows['course'].id}.", lambda: h.course(rows["course"].id)),
    ]
    for detail, call in refusals:
        with pytest.raises(NotFound) as refused:
            await call()
        assert refused.value.detail == detail
    assert catalog.state() == before


async def test_a_taken_category_name_is_a_conflict_and_publishes_nothing(
    catalog: Catalog,
) -> None:
    rows = await tree(catalog)
    await catalog.handlers.delete(CATEGORY, rows["category"].id, None)  # deleted still counts
    go = await catalog.handlers.create(CATEGORY, {"name": "Go"}, None)
    before = catalog.state()
    with pytest.raises(Conflict):
        await catalog.handlers.create(CATEGORY, {"name": "Python"}, None)
    with pytest.raises(Conflict):
        await catalog.handlers.update(CATEGORY, go.id, {"name": "Python"}, None)
    assert catalog.state() == before


async def test_hidden_rows_are_edited_by_admins_and_left_out_of_reads(catalog: Catalog) -> None:
    rows = await tree(catalog)
    h = catalog.handlers
    course_id = rows["course"].id
    hidden = await h.update(COURSE, course_id, {"is_show": False}, None)
    assert hidden.is_show is False and hidden.updated_at >= hidden.created_at
    with pytest.raises(NotFound):
        await h.course(course_id)
    assert (await h.courses(ALL)).count == 0
    await h.update(COURSE, course_id, {"is_show": True, "brief": "b"}, None)
    detail = await h.course(course_id)
    assert detail.course.brief == "b"
    assert [(c.name, [s.name for s in sections]) for c, sections in detail.chapters] == [
        ("Basics", ["Hello"])]


async def test_course_pages_filter_order_and_preview_the_first_sections(
    catalog: Catalog,
) -> None:
    h = catalog.handlers
    for name, kind, price in (("Go basics", "free", "0"), ("Go pro", "actual", "99"),
                              ("Rust", "actual", "39.9")):
        await h.create(COURSE, {"name": name, "kind": kind, "price": Decimal(price)}, None)
    page = await h.courses(PageParams(page=1, page_size=1), kind="actual", ordering="-price")
    assert page.count == 2 and [c.name for c in page.courses] == ["Go pro"]
    found = await h.courses(ALL, search="GO", ordering="-id")
    assert [c.name for c in found.courses] == ["Go pro", "Go basics"]

    course = found.courses[0]
    chapter_2 = await h.create(CHAPTER, {"name": "Two", "chapter": 2}, None, parent_id=course.id)
    chapter_1 = await h.create(CHAPTER, {"name": "One", "chapter": 1}, None, parent_id=course.id)
    for chapter, name in ((chapter_2, "Two"), (chapter_1, "One")):
        for n in (3, 1, 2):
            await h.create(SECTION, {"name": f"{name}-{n}", "orders": n}, None,
                           parent_id=chapter.id)
    previews = (await h.courses(ALL, search="go pro")).previews[course.id]
    assert [(p.chapter_number, p.name) for p in previews] == [
        (1, "One-1"), (1, "One-2"), (1, "One-3"), (2, "Two-1")]


async def test_reads_of_lists_skip_deleted_and_hidden_rows(catalog: Catalog) -> None:
    h = catalog.handlers
    for name, orders in (("b", 2), ("a", 1), ("hidden", 0)):
        await h.create(CATEGORY, {"name": name, "orders": orders,
                                  "is_show": name != "hidden"}, None)
    teachers = [await h.create(TEACHER, {"name": f"T{i}", "title": "t"}, None) for i in range(3)]
    await h.delete(TEACHER, teachers[1].id, None)
    assert [c.name for c in await h.categories()] == ["a", "b"]
    count, rows = await h.teachers(PageParams(page=2, page_size=1))
    assert count == 2 and [t.name for t in rows] == ["T2"]
    assert (await h.teacher(teachers[0].id)).name == "T0"


def test_every_entity_names_its_event() -> None:
    assert {e.name: e.event for e in (BANNER, CATEGORY, TEACHER, COURSE, CHAPTER, SECTION)} == {
        "banner": "banner.changed", "category": "course.changed",
        "teacher": "course.changed", "course": "course.changed",
        "chapter": "course.changed", "section": "course.changed",
    }
    assert handlers.RENAMED == {"category_id": "course_category_id"}
