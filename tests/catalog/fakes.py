"""In-memory fakes of the catalog's ports (services/catalog/ports.py), for the unit tier.

They behave like the real adapters where handlers can tell (test_port_contracts.py runs the
same tests on both): a unit of work sees its own writes and commits them only on leaving
without an error; ids and column defaults are set when a row is added; category names are
unique; public reads skip deleted and hidden rows, in the contract's order.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect

from services.catalog.adapters.orm import (
    Banner,
    BaseFields,
    Chapter,
    Course,
    CourseCategory,
    Section,
    Teacher,
    utcnow,
)
from services.catalog.domain import SECTION_PREVIEW, Conflict, ordering_key
from services.catalog.ports import (
    COURSE_LIST_COLUMNS,
    CacheUnreachable,
    CoursePage,
    RowT,
    SectionPreview,
)
from shared.events import Envelope

Values = dict[str, Any]


def _columns(model: type[BaseFields]) -> list[str]:
    return [attr.key for attr in inspect(model).column_attrs]


def _public(row: BaseFields) -> bool:
    return not row.is_delete and row.is_show


def _by_orders(rows: list[RowT]) -> list[RowT]:
    return sorted(rows, key=lambda r: (r.orders, r.id))


@dataclass
class CourseRow:
    """A `ports.CourseListRow`."""

    id: int
    name: str
    kind: str
    course_type: int
    level: int
    status: int
    brief: str | None
    course_img: str | None
    students: int
    sections: int
    pub_sections: int
    price: Any
    period: int
    teacher_id: int | None
    teacher_name: str | None
    teacher_role: int | None
    teacher_title: str | None
    teacher_image: str | None
    category_id: int | None
    category_name: str | None


def _list_row(course: Course) -> CourseRow:
    teacher, category = course.teacher, course.course_category
    teacher = teacher if teacher is not None and not teacher.is_delete else None
    category = category if category is not None and not category.is_delete else None
    return CourseRow(
        *(getattr(course, name) for name in COURSE_LIST_COLUMNS),
        teacher.id if teacher else None, teacher.name if teacher else None,
        teacher.role if teacher else None, teacher.title if teacher else None,
        teacher.image if teacher else None,
        category.id if category else None, category.name if category else None)


class FakeCatalogStore:
    """Tables of column values; each unit of work hands out its own row objects."""

    def __init__(self) -> None:
        self.tables: dict[type[BaseFields], dict[int, Values]] = {}
        self.ids = itertools.count(1)

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[FakeCatalogRepository]:
        yield FakeCatalogRepository(self)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[FakeCatalogRepository]:
        repo = FakeCatalogRepository(self)
        yield repo  # an error here leaves the tables as they were
        repo.commit()

    def count(self, model: type[BaseFields]) -> int:
        return len(self.tables.get(model, {}))


class FakeCatalogRepository:
    def __init__(self, store: FakeCatalogStore) -> None:
        self.store = store
        self.seen: dict[tuple[type[BaseFields], int], tuple[BaseFields, Values]] = {}
        self.added: list[BaseFields] = []

    # --- the unit of work -------------------------------------------------------------

    def _load(self, model: type[RowT], row_id: int) -> RowT | None:
        if (model, row_id) in self.seen:
            return self.seen[model, row_id][0]  # type: ignore[return-value]
        values = self.store.tables.get(model, {}).get(row_id)
        if values is None:
            return None
        row = model(**values)
        self.seen[model, row_id] = (row, values)
        return row

    def _all(self, model: type[RowT]) -> list[RowT]:
        rows = [self._load(model, i) for i in list(self.store.tables.get(model, {}))]
        added = [r for r in self.added if isinstance(r, model)]
        return [r for r in rows if r is not None] + added

    def _values(self, row: BaseFields) -> Values:
        return {key: getattr(row, key) for key in _columns(type(row))}

    def _check_unique(self, row: BaseFields) -> None:
        if isinstance(row, CourseCategory) and any(
            other.name == row.name and other is not row for other in self._all(CourseCategory)
        ):
            raise Conflict()

    def commit(self) -> None:
        changed = [row for row, before in self.seen.values() if self._values(row) != before]
        for row in changed + self.added:
            self._check_unique(row)
        for row in changed:
            row.updated_at = utcnow()  # the column's onupdate
        for row in changed + self.added:
            self.store.tables.setdefault(type(row), {})[row.id] = self._values(row)

    # --- the port -----------------------------------------------------------------------

    async def add(self, row: BaseFields) -> None:
        """As a flush: ids and column defaults now, the row stored at the commit."""
        for attr in inspect(type(row)).column_attrs:
            default = attr.columns[0].default
            if getattr(row, attr.key) is None and default is not None:
                setattr(row, attr.key, default.arg(None) if default.is_callable else default.arg)
        row.id = next(self.store.ids)
        self._check_unique(row)
        self.added.append(row)

    async def get(self, model: type[RowT], row_id: int) -> RowT | None:
        return self._load(model, row_id)

    async def banners(self) -> Sequence[Banner]:
        return _by_orders([r for r in self._all(Banner) if _public(r)])

    async def categories(self) -> Sequence[CourseCategory]:
        return _by_orders([r for r in self._all(CourseCategory) if _public(r)])

    async def teachers(self, offset: int, limit: int) -> tuple[int, Sequence[Teacher]]:
        rows = _by_orders([r for r in self._all(Teacher) if _public(r)])
        return len(rows), rows[offset:offset + limit]

    async def teacher(self, teacher_id: int) -> Teacher | None:
        row = self._load(Teacher, teacher_id)
        return row if row is not None and _public(row) else None

    def _linked(self, course: Course) -> Course:
        course.teacher = self._load(Teacher, course.teacher_id) if course.teacher_id else None
        course.course_category = (self._load(CourseCategory, course.course_category_id)
                                  if course.course_category_id else None)
        return course

    async def course_page(
        self, *, kind: str | None, category: int | None, search: str | None, ordering: str,
        offset: int, limit: int,
    ) -> CoursePage:
        needle = search.lower() if search else None
        rows = [
            r for r in self._all(Course) if _public(r)
            and (kind is None or r.kind == kind)
            and (category is None or r.course_category_id == category)
            and (needle is None or needle in r.name.lower() or needle in (r.brief or "").lower())
        ]
        field, descending = ordering_key(ordering)
        rows.sort(key=lambda r: r.id)
        rows.sort(key=lambda r: getattr(r, field), reverse=descending)  # stable: id breaks ties
        page = [self._linked(r) for r in rows[offset:offset + limit]]
        return CoursePage(len(rows), [_list_row(r) for r in page],
                          await self._previews([r.id for r in page]))

    async def course(self, course_id: int, *, public: bool = True) -> Course | None:
        row = self._load(Course, course_id)
        if row is None or row.is_delete or (public and not row.is_show):
            return None
        return self._linked(row)

    async def chapters(self, course_id: int) -> list[tuple[Chapter, list[Section]]]:
        chapters = sorted((c for c in self._all(Chapter) if c.course_id == course_id
                           and _public(c)), key=lambda c: (c.chapter, c.orders, c.id))
        sections = _by_orders([s for s in self._all(Section) if _public(s)])
        return [(c, [s for s in sections if s.chapter_id == c.id]) for c in chapters]

    async def _previews(self, course_ids: Sequence[int]) -> dict[int, list[SectionPreview]]:
        previews: dict[int, list[SectionPreview]] = {}
        for course_id in course_ids:
            rows = [SectionPreview(course_id, c.chapter, s.orders, s.name, s.section_type,
                                   s.duration, s.free_trail)
                    for c, sections in await self.chapters(course_id) for s in sections]
            if rows:
                previews[course_id] = rows[:SECTION_PREVIEW]
        return previews

    async def chapter_of_live_course(self, chapter_id: int) -> Chapter | None:
        chapter = self._load(Chapter, chapter_id)
        if chapter is None or chapter.is_delete:
            return None
        course = self._load(Course, chapter.course_id)
        return chapter if course is not None and not course.is_delete else None


class FakeBannerCache:
    """A version and one copy, stored only if no invalidation came while it was loaded; an
    unreachable cache refuses `invalidate` and reads go to `load`, as with Redis down."""

    def __init__(self, load: Callable[[], Awaitable[list[dict[str, Any]]]]) -> None:
        self.load = load
        self.version = 0
        self.copy: tuple[int, list[dict[str, Any]]] | None = None
        self.reachable = True
        self.invalidations = 0

    async def invalidate(self) -> str:
        if not self.reachable:
            raise CacheUnreachable("the fake cache is down")
        self.version += 1
        self.invalidations += 1
        return str(self.version)

    async def get(self) -> list[dict[str, Any]]:
        if not self.reachable:
            return await self.load()
        version = self.version
        if self.copy is not None and self.copy[0] == version:
            return self.copy[1]
        banners = await self.load()
        if version == self.version:  # the compare-and-set of the real cache
            self.copy = (version, banners)
        return banners


class FakeEventPublisher:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    async def publish(self, envelope: Envelope) -> str:
        self.published.append(envelope)
        return f"{len(self.published)}-0"
