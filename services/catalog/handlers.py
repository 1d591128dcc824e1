"""The catalog's use cases: one function per read or admin write.

A write commits, then (banners) replaces the cache version, then publishes its event on
`catalog.events`; only then does it return, so no reader can see the old list afterwards.
Banner writes also replace the version before the transaction (see `_unit_of_work`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.catalog import serializers
from services.catalog.adapters.banner_cache import BannerCache
from services.catalog.adapters.orm import (
    Banner,
    BaseFields,
    Chapter,
    Course,
    CourseCategory,
    Section,
    Teacher,
)
from services.catalog.adapters.repository import CatalogRepository
from services.catalog.domain import (
    BANNER_CHANGED,
    COURSE_CHANGED,
    EVENTS_STREAM,
    SECTION_PREVIEW,
)
from services.catalog.settings import Settings
from shared.events import Envelope, publish
from shared.pagination import PageParams
from shared.problems import Problem


@dataclass
class Catalog:
    """What the use cases need; built once by `create_app`."""

    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    banners: BannerCache
    settings: Settings

    @property
    def base_url(self) -> str:
        return self.settings.public_base_url


def not_found(what: str, row_id: int) -> Problem:
    return Problem(404, "not-found", f"No {what} with id {row_id}.")


# --- reads ------------------------------------------------------------------------------


async def load_banners(
    sessions: async_sessionmaker[AsyncSession], base_url: str
) -> list[dict[str, Any]]:
    """The database side of the banner cache: one query, rendered."""
    async with sessions() as session:
        rows = await CatalogRepository(session).banners()
        return serializers.banners(rows, base_url)


async def list_categories(catalog: Catalog) -> list[dict[str, Any]]:
    async with catalog.sessions() as session:
        return [serializers.category(c) for c in await CatalogRepository(session).categories()]


async def list_courses(
    catalog: Catalog, page: PageParams, *, kind: str | None = None, category: int | None = None,
    search: str | None = None, ordering: str = "orders",
) -> tuple[int, list[dict[str, Any]]]:
    async with catalog.sessions() as session:
        repo = CatalogRepository(session)
        count, rows = await repo.courses(
            kind=kind, category=category, search=search, ordering=ordering,
            offset=page.offset, limit=page.page_size,
        )
        previews = await repo.section_previews([row.id for row in rows])
        return count, [
            serializers.course(row, catalog.base_url, [
                serializers.section_preview(s, s.chapter_number) for s in previews[row.id]
            ])
            for row in rows
        ]


async def course_detail(catalog: Catalog, course_id: int) -> dict[str, Any]:
    async with catalog.sessions() as session:
        repo = CatalogRepository(session)
        row = await repo.course(course_id)
        if row is None:
            raise not_found("course", course_id)
        chapters = await repo.chapters(course_id)
        preview = [serializers.section_preview(s, c.chapter)
                   for c, sections in chapters for s in sections][:SECTION_PREVIEW]
        return serializers.course_detail(row, catalog.base_url, chapters, preview)


async def list_teachers(catalog: Catalog, page: PageParams) -> tuple[int, list[dict[str, Any]]]:
    async with catalog.sessions() as session:
        count, rows = await CatalogRepository(session).teachers(page.offset, page.page_size)
        return count, [serializers.teacher(row, catalog.base_url) for row in rows]


async def teacher_detail(catalog: Catalog, teacher_id: int) -> dict[str, Any]:
    async with catalog.sessions() as session:
        row = await CatalogRepository(session).teacher(teacher_id)
        if row is None:
            raise not_found("teacher", teacher_id)
        return serializers.teacher(row, catalog.base_url)


# --- admin writes -----------------------------------------------------------------------


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


async def create(
    catalog: Catalog, entity: Entity, fields: dict[str, Any], correlation_id: str | None,
    parent_id: int | None = None,
) -> dict[str, Any]:
    """Insert a row (a chapter under course `parent_id`, a section under chapter
    `parent_id`)."""
    async with _unit_of_work(catalog, entity) as repo:
        values = await _checked(repo, fields)
        course_id = await _attach(repo, entity, values, parent_id)
        row = entity.model(**values)
        repo.session.add(row)
        await repo.session.flush()
        if entity is COURSE:
            course_id = row.id
    return await _written(catalog, entity, row, "created", course_id, correlation_id)


async def update(
    catalog: Catalog, entity: Entity, row_id: int, fields: dict[str, Any],
    correlation_id: str | None,
) -> dict[str, Any]:
    async with _unit_of_work(catalog, entity) as repo:
        row = await repo.live(entity.model, row_id)
        if row is None:
            raise not_found(entity.name, row_id)
        for name, value in (await _checked(repo, fields)).items():
            setattr(row, name, value)
        course_id = await _course_of(repo, row)
    return await _written(catalog, entity, row, "updated", course_id, correlation_id)


async def delete(
    catalog: Catalog, entity: Entity, row_id: int, correlation_id: str | None
) -> None:
    """Soft delete: the row stays, flagged `is_delete`, and vanishes from every read."""
    async with _unit_of_work(catalog, entity) as repo:
        row = await repo.live(entity.model, row_id)
        if row is None:
            raise not_found(entity.name, row_id)
        row.is_delete = True
        course_id = await _course_of(repo, row)
    await _after_commit(catalog, entity, row.id, "deleted", course_id, correlation_id)


@contextlib.asynccontextmanager
async def _unit_of_work(catalog: Catalog, entity: Entity) -> AsyncIterator[CatalogRepository]:
    """A transaction committed on leaving; a unique-constraint clash becomes a 409.

    A banner write first replaces the cache version: a Redis that cannot be told refuses the
    write before anything changed (503), instead of leaving a stale copy behind it.
    """
    if entity is BANNER:
        try:
            await catalog.banners.invalidate()
        except (RedisError, OSError) as error:
            raise Problem(503, "cache-unavailable",
                          "The banner cache cannot be reached; nothing was changed.") from error
    try:
        async with catalog.sessions() as session, session.begin():
            yield CatalogRepository(session)
    except IntegrityError as error:
        raise Problem(409, "conflict", "A row with these values exists already.") from error


async def _checked(repo: CatalogRepository, fields: dict[str, Any]) -> dict[str, Any]:
    """Column values from body fields; links must point at live rows (422 otherwise)."""
    errors: list[dict[str, Any]] = []
    for field, model in (("teacher_id", Teacher), ("category_id", CourseCategory)):
        linked = fields.get(field)
        if linked is not None and await repo.live(model, linked) is None:
            errors.append({"loc": ["body", field], "msg": f"no {model.__name__} {linked}",
                           "type": "unknown_reference"})
    if errors:
        raise Problem(422, "validation-error", "; ".join(e["msg"] for e in errors),
                      title="Invalid request", errors=errors)
    return {RENAMED.get(name, name): value for name, value in fields.items()}


async def _attach(
    repo: CatalogRepository, entity: Entity, values: dict[str, Any], parent_id: int | None
) -> int | None:
    """Link a new chapter or section to its live parent; the course it belongs to."""
    if entity is CHAPTER:
        assert parent_id is not None
        if await repo.live(Course, parent_id) is None:
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
        chapter = await repo.session.get(Chapter, row.chapter_id)
        return chapter.course_id if chapter else None
    return None


RENDER: dict[str, Callable[[Any, str], dict[str, Any]]] = {
    "banner": lambda row, base: {**serializers.banner(row, base),
                                 **serializers.admin_fields(row)},
    "category": lambda row, _base: {**serializers.category(row),
                                    **serializers.admin_fields(row)},
    "teacher": lambda row, base: {**serializers.teacher(row, base),
                                  **serializers.admin_fields(row)},
    "chapter": lambda row, _base: serializers.chapter_written(row),
    "section": lambda row, _base: serializers.section_written(row),
}


async def _written(
    catalog: Catalog, entity: Entity, row: BaseFields, action: str, course_id: int | None,
    correlation_id: str | None,
) -> dict[str, Any]:
    if entity is COURSE:  # rendered with its teacher and category, read back after commit
        async with catalog.sessions() as session:
            course = await CatalogRepository(session).course(row.id, public=False)
            assert course is not None
            body = {**serializers.course(course, catalog.base_url, []),
                    **serializers.admin_fields(course)}
    else:
        body = RENDER[entity.name](row, catalog.base_url)
    await _after_commit(catalog, entity, row.id, action, course_id, correlation_id)
    return body


async def _after_commit(
    catalog: Catalog, entity: Entity, row_id: int, action: str, course_id: int | None,
    correlation_id: str | None,
) -> None:
    if entity is BANNER:  # again: a reader between the first replacement and the commit
        await catalog.banners.invalidate()  # may have cached the rows from before it
    data: dict[str, Any] = {"entity": entity.name, "id": row_id, "action": action}
    if course_id is not None:
        data["course_id"] = course_id
    envelope = Envelope(type=entity.event, producer="catalog", correlation_id=correlation_id,
                        data=data)
    await publish(catalog.redis, EVENTS_STREAM, envelope,
                  maxlen=catalog.settings.events_maxlen)
