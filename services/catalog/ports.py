"""What the catalog's handlers need from the world, as protocols.

The adapters (`adapters/repository.py`, `adapters/page_cache.py`,
`adapters/event_publisher.py`) implement them on SQLAlchemy and Redis; `tests/catalog/fakes.py`
in memory. Rows are the ORM classes of `adapters/orm.py`, used as plain objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

from services.catalog.adapters.orm import (
    Banner,
    BaseFields,
    Chapter,
    Course,
    CourseCategory,
    Section,
    Teacher,
)
from shared.events import Envelope

RowT = TypeVar("RowT", bound=BaseFields)


class SectionPreview(Protocol):
    """A section of a course list's `section_list`: a plain row, not an ORM object."""

    course_id: int
    chapter_number: int
    orders: int
    name: str
    section_type: int
    duration: str | None
    free_trail: bool


class CatalogRepository(Protocol):
    """Reads and writes inside one unit of work. Public reads see live (not soft-deleted),
    shown rows, in the contract's order; `get` sees every row."""

    async def banners(self) -> Sequence[Banner]: ...

    async def categories(self) -> Sequence[CourseCategory]: ...

    async def teachers(self, offset: int, limit: int) -> tuple[int, Sequence[Teacher]]: ...

    async def teacher(self, teacher_id: int) -> Teacher | None: ...

    async def courses(
        self, *, kind: str | None, category: int | None, search: str | None, ordering: str,
        offset: int, limit: int,
    ) -> tuple[int, Sequence[Course]]:
        """A page of courses with their teacher and category loaded."""
        ...

    async def course(self, course_id: int, *, public: bool = True) -> Course | None:
        """With teacher and category; `public=False`: hidden too (not deleted)."""
        ...

    async def section_previews(
        self, course_ids: Sequence[int]
    ) -> dict[int, list[SectionPreview]]: ...

    async def chapters(self, course_id: int) -> list[tuple[Chapter, list[Section]]]: ...

    async def get(self, model: type[RowT], row_id: int) -> RowT | None:
        """Any row by id, deleted or hidden too."""
        ...

    async def chapter_of_live_course(self, chapter_id: int) -> Chapter | None:
        """A live chapter whose course is live too (hidden ones included)."""
        ...

    async def add(self, row: BaseFields) -> None:
        """Insert now (ids and defaults set); a unique clash raises `domain.Conflict`."""
        ...


class CatalogStore(Protocol):
    """Units of work over the catalog's database."""

    def reading(self) -> AbstractAsyncContextManager[CatalogRepository]:
        """Reads only; nothing is committed."""
        ...

    def writing(self) -> AbstractAsyncContextManager[CatalogRepository]:
        """One transaction, committed on leaving without an error (rolled back with one);
        a unique clash, at `add` or at the commit, raises `domain.Conflict`."""
        ...


class CacheUnreachable(Exception):
    """A read cache's store (Redis) did not answer."""


class VersionedCache(Protocol):
    """The part of a read cache (the banners, the course pages) a write needs."""

    async def invalidate(self) -> str:
        """Make every existing copy unservable (a new version, returned); raises
        `CacheUnreachable` when that cannot be done."""
        ...


class EventPublisher(Protocol):
    """Appends envelopes to `catalog.events`."""

    async def publish(self, envelope: Envelope) -> str:
        """The new entry's id."""
        ...
