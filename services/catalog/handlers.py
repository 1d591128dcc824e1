"""The catalog's use cases: one method per read or admin write, on the ports of `ports.py`.

They answer rows; `entrypoints/serializers.py` renders them. A write commits, then replaces
the version of the cache its rows feed (a banner: `banners`; a course, chapter, section,
teacher or category: `pages`, the course lists and details), then publishes its event on
`catalog.events`; only then does it return, so no reader can see the old page afterwards.
Writes also replace the version before the transaction (see `Handlers._writing`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from services.catalog.adapters.orm import (
    Banner,
    BaseFields,
    Chapter,
    Course,
    CourseCategory,
    Section,
    Teacher,
)
from services.catalog.domain import CacheUnavailable, UnknownReference
from services.catalog.ports import (
    CacheUnreachable,
    CatalogRepository,
    CatalogStore,
    CoursePage,
    EventPublisher,
    RowT,
    VersionedCache,
)
from services.catalog.streams import BANNER_CHANGED, COURSE_CHANGED
from shared.errors import FieldError, NotFound
from shared.event_data import EntityChanged
from shared.events import Envelope
from shared.pagination import PageParams


@dataclass(frozen=True)
class Entity:
    name: str
    model: type[BaseFields]
    event: str


BANNER = Entity("banner", Banner, BANNER_CHANGED)
CATEGORY = Entity("category", CourseCategory, COURSE_CHANGED)
TEACHER = Entity("teacher", Teacher, COURSE_CHANGED)
COURSE = Entity("course", Course, COURSE_CHANGED)
CHAPTER = Entity("chapter", Chapter, COURSE_CHANGED)
SECTION = Entity("section", Section, COURSE_CHANGED)

# Body field -> column where the contract's name differs from the seed's.
RENAMED = {"category_id": "course_category_id"}


def not_found(what: str, row_id: int) -> NotFound:
    return NotFound(f"No {what} with id {row_id}.")


@dataclass(frozen=True)
class CourseDetail:
    course: Course
    chapters: list[tuple[Chapter, list[Section]]]


@dataclass(frozen=True)
class Handlers:
    """Built once by `bootstrap`, on the adapters there (on fakes in the unit tests)."""

    store: CatalogStore
    banners: VersionedCache  # the banner list
    events: EventPublisher
    pages: VersionedCache  # the course lists and details, built from every other entity

    # --- reads (the HTTP routes read the banner list and the course pages through the
    # caches, `adapters/page_cache.py`, which call these on a miss) -------------------------

    async def categories(self) -> Sequence[CourseCategory]:
        async with self.store.reading() as repo:
            return await repo.categories()

    async def courses(
        self, page: PageParams, *, kind: str | None = None, category: int | None = None,
        search: str | None = None, ordering: str = "orders",
    ) -> CoursePage:
        async with self.store.reading() as repo:
            return await repo.course_page(
                kind=kind, category=category, search=search, ordering=ordering,
                offset=page.offset, limit=page.page_size,
            )

    async def course(self, course_id: int) -> CourseDetail:
        async with self.store.reading() as repo:
            row = await repo.course(course_id)
            if row is None:
                raise not_found("course", course_id)
            return CourseDetail(row, await repo.chapters(course_id))

    async def teachers(self, page: PageParams) -> tuple[int, Sequence[Teacher]]:
        async with self.store.reading() as repo:
            return await repo.teachers(page.offset, page.page_size)

    async def teacher(self, teacher_id: int) -> Teacher:
        async with self.store.reading() as repo:
            row = await repo.teacher(teacher_id)
            if row is None:
                raise not_found("teacher", teacher_id)
            return row

    # --- admin writes ---------------------------------------------------------------------

    async def create(
        self, entity: Entity, fields: dict[str, Any], correlation_id: str | None,
        parent_id: int | None = None,
    ) -> BaseFields:
        """Insert a row (a chapter under course `parent_id`, a section under chapter
        `parent_id`)."""
        async with self._writing(entity) as repo:
            values = await _checked(repo, fields)
            course_id = await _attach(repo, entity, values, parent_id)
            row = entity.model(**values)
            await repo.add(row)
            if entity is COURSE:
                course_id = row.id
        row = await self._read_back(row)
        await self._after_commit(entity, row.id, "created", course_id, correlation_id)
        return row

    async def update(
        self, entity: Entity, row_id: int, fields: dict[str, Any], correlation_id: str | None,
    ) -> BaseFields:
        async with self._writing(entity) as repo:
            row = await _live(repo, entity.model, row_id)
            if row is None:
                raise not_found(entity.name, row_id)
            for name, value in (await _checked(repo, fields)).items():
                setattr(row, name, value)
            course_id = await _course_of(repo, row)
        row = await self._read_back(row)
        await self._after_commit(entity, row.id, "updated", course_id, correlation_id)
        return row

    async def delete(self, entity: Entity, row_id: int, correlation_id: str | None) -> None:
        """Soft delete: the row stays, flagged `is_delete`, and vanishes from every read."""
        async with self._writing(entity) as repo:
            row = await _live(repo, entity.model, row_id)
            if row is None:
                raise not_found(entity.name, row_id)
            row.is_delete = True
            course_id = await _course_of(repo, row)
        await self._after_commit(entity, row.id, "deleted", course_id, correlation_id)

    async def _read_back(self, row: BaseFields) -> BaseFields:
        """A written course is answered with its teacher and category, read after commit."""
        if not isinstance(row, Course):
            return row
        async with self.store.reading() as repo:
            course = await repo.course(row.id, public=False)
        assert course is not None
        return course

    @contextlib.asynccontextmanager
    async def _writing(self, entity: Entity) -> AsyncIterator[CatalogRepository]:
        """A transaction committed on leaving (a unique clash is `domain.Conflict`).

        A write first replaces the version of its cache: a cache that cannot be told refuses
        the write before anything changed, instead of leaving a stale copy behind it.
        """
        try:
            await self._cache_of(entity).invalidate()
        except CacheUnreachable as error:
            raise CacheUnavailable("banner" if entity is BANNER else "course page") from error
        async with self.store.writing() as repo:
            yield repo

    def _cache_of(self, entity: Entity) -> VersionedCache:
        return self.banners if entity is BANNER else self.pages

    async def _after_commit(
        self, entity: Entity, row_id: int, action: str, course_id: int | None,
        correlation_id: str | None,
    ) -> None:
        # Again: a reader between the first replacement and the commit may have cached the
        # rows from before it.
        await self._cache_of(entity).invalidate()
        data = EntityChanged.model_validate(
            {"entity": entity.name, "id": row_id, "action": action, "course_id": course_id})
        await self.events.publish(Envelope(
            type=entity.event, producer="catalog", correlation_id=correlation_id,
            data=data.model_dump(exclude_none=True)))


async def _live(repo: CatalogRepository, model: type[RowT], row_id: int) -> RowT | None:
    """A row that is not soft-deleted, shown or hidden (admins edit hidden rows too)."""
    row = await repo.get(model, row_id)
    return row if row is not None and not row.is_delete else None


async def _checked(repo: CatalogRepository, fields: dict[str, Any]) -> dict[str, Any]:
    """Column values from body fields; links must point at live rows."""
    errors = []
    for field, model in (("teacher_id", Teacher), ("category_id", CourseCategory)):
        linked = fields.get(field)
        if linked is not None and await _live(repo, model, linked) is None:
            errors.append(FieldError(field, f"no {model.__name__} {linked}",
                                     kind="unknown_reference"))
    if errors:
        raise UnknownReference(*errors)
    return {RENAMED.get(name, name): value for name, value in fields.items()}


async def _attach(
    repo: CatalogRepository, entity: Entity, values: dict[str, Any], parent_id: int | None
) -> int | None:
    """Link a new chapter or section to its live parent; the course it belongs to."""
    if entity is CHAPTER:
        assert parent_id is not None
        if await _live(repo, Course, parent_id) is None:
            raise not_found("course", parent_id)
        values["course_id"] = parent_id
        return parent_id
    if entity is SECTION:
        assert parent_id is not None
        chapter = await repo.chapter_of_live_course(parent_id)
        if chapter is None:
            raise not_found("chapter", parent_id)
        values["chapter_id"] = parent_id
        return chapter.course_id
    return None


async def _course_of(repo: CatalogRepository, row: BaseFields) -> int | None:
    if isinstance(row, Course):
        return row.id
    if isinstance(row, Chapter):
        return row.course_id
    if isinstance(row, Section):
        chapter = await repo.get(Chapter, row.chapter_id)
        return chapter.course_id if chapter else None
    return None
