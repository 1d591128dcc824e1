"""What the catalog's handlers need from the world, as protocols.

The adapters (`adapters/repository.py`, `adapters/page_cache.py`,
`adapters/event_publisher.py`) implement them on SQLAlchemy and Redis; `tests/catalog/fakes.py`
in memory. Rows are the ORM classes of `adapters/orm.py`, used as plain objects, except on
the course list's read path (`course_page`): plain rows, `CourseListRow` and `SectionPreview`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
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


@dataclass(slots=True)
class SectionPreview:
    """A section of a course list's `section_list`: a plain row, not an ORM object."""

    course_id: int
    chapter_number: int
    orders: int
    name: str
    section_type: int
    duration: str | None
    free_trail: bool


# The course columns a list item renders (`serializers.course_item`).
COURSE_LIST_COLUMNS = ("id", "name", "kind", "course_type", "level", "status", "brief",
                       "course_img", "students", "sections", "pub_sections", "price", "period")


class CourseListRow(Protocol):
    """A course of a list page as a plain row: its `COURSE_LIST_COLUMNS`, and the columns of
    its teacher and category, all None when there is none or it is soft-deleted."""

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
    price: Decimal
    period: int
    teacher_id: int | None
    teacher_name: str | None
    teacher_role: int | None
    teacher_title: str | None
    teacher_image: str | None
    category_id: int | None
    category_name: str | None


@dataclass(frozen=True)
class CoursePage:
    count: int
    courses: Sequence[CourseListRow]
    previews: dict[int, list[SectionPreview]]  # course id -> its first sections


class CatalogRepository(Protocol):
    """Reads and writes inside one unit of work. Public reads see live (not soft-deleted),
    shown rows, in the contract's order; `get` sees every row."""

    async def banners(self) -> Sequence[Banner]: ...

    async def categories(self) -> Sequence[CourseCategory]: ...

    async def teachers(self, offset: int, limit: int) -> tuple[int, Sequence[Teacher]]: ...

    async def teacher(self, teacher_id: int) -> Teacher | None: ...

    async def course_page(
        self, *, kind: str | None, category: int | None, search: str | None, ordering: str,
        offset: int, limit: int,
    ) -> CoursePage:
        """A page of courses (and the count of all that match) with their first
        `SECTION_PREVIEW` sections in reading order, as plain rows."""
        ...

    async def course(self, course_id: int, *, public: bool = True) -> Course | None:
        """With teacher and category; `public=False`: hidden too (not deleted)."""
        ...

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
