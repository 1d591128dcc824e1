"""The catalog's ports `CatalogStore` and `CatalogRepository` on SQLAlchemy. Public reads
see live (not soft-deleted), shown rows."""

from __future__ import annotations

import contextlib
import functools
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from services.catalog.adapters.orm import (
    Banner,
    BaseFields,
    Chapter,
    Course,
    CourseCategory,
    Section,
    Teacher,
)
from services.catalog.domain import SECTION_PREVIEW, Conflict, ordering_key
from services.catalog.ports import (
    COURSE_LIST_COLUMNS,
    CoursePage,
    RowT,
    SectionPreview,
)


def _public(model: Any) -> Any:
    return (model.is_delete.is_(False)) & (model.is_show.is_(True))


class SqlCatalogStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[SqlCatalogRepository]:
        async with self.sessions() as session:
            yield SqlCatalogRepository(session)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[SqlCatalogRepository]:
        try:
            async with self.sessions() as session, session.begin():
                yield SqlCatalogRepository(session)
        except IntegrityError as error:
            raise Conflict() from error


class SqlCatalogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- public reads -------------------------------------------------------------------

    async def banners(self) -> Sequence[Banner]:
        query = select(Banner).where(_public(Banner)).order_by(Banner.orders, Banner.id)
        return (await self.session.scalars(query)).all()

    async def categories(self) -> Sequence[CourseCategory]:
        query = (select(CourseCategory).where(_public(CourseCategory))
                 .order_by(CourseCategory.orders, CourseCategory.id))
        return (await self.session.scalars(query)).all()

    async def teachers(self, offset: int, limit: int) -> tuple[int, Sequence[Teacher]]:
        where = _public(Teacher)
        count = await self.session.scalar(select(func.count()).select_from(Teacher).where(where))
        rows = await self.session.scalars(
            select(Teacher).where(where).order_by(Teacher.orders, Teacher.id)
            .offset(offset).limit(limit)
        )
        return int(count or 0), rows.all()

    async def teacher(self, teacher_id: int) -> Teacher | None:
        return await self.session.scalar(
            select(Teacher).where(Teacher.id == teacher_id, _public(Teacher))
        )

    async def course_page(
        self, *, kind: str | None, category: int | None, search: str | None, ordering: str,
        offset: int, limit: int,
    ) -> CoursePage:
        """A list page in one query (`_page_statements`), on the session's connection as
        Core rows, no ORM objects. A count query only for a page past the end (no row to
        carry the total)."""
        page_query, count_query = _page_statements(kind is not None, category is not None,
                                                   bool(search), ordering)
        params: dict[str, Any] = {"kind": kind, "category": category, "offset": offset,
                                  "limit": limit}
        if search:
            params["needle"] = _escape_like(search.lower())
        connection = await self.session.connection()
        courses: list[Any] = []
        previews: dict[int, list[SectionPreview]] = {}
        for row in await connection.execute(page_query, params):
            if not courses or courses[-1].id != row.id:
                courses.append(row)
            if row.chapter_number is not None:
                previews.setdefault(row.id, []).append(SectionPreview(
                    row.id, row.chapter_number, row.preview_orders, row.preview_name,
                    row.section_type, row.duration, row.free_trail))
        if courses:
            count = courses[0].total
        elif offset:
            count = (await connection.execute(count_query, params)).scalar()
        else:
            count = 0
        return CoursePage(int(count or 0), courses, previews)

    async def course(self, course_id: int, *, public: bool = True) -> Course | None:
        query = self._course_query().where(Course.id == course_id)
        query = query.where(_public(Course) if public else Course.is_delete.is_(False))
        return await self.session.scalar(query)

    @staticmethod
    def _course_query() -> Select[Course]:
        return select(Course).options(
            selectinload(Course.teacher), selectinload(Course.course_category)
        )

    async def chapters(self, course_id: int) -> list[tuple[Chapter, list[Section]]]:
        chapters = (await self.session.scalars(
            select(Chapter).where(Chapter.course_id == course_id, _public(Chapter))
            .order_by(Chapter.chapter, Chapter.orders, Chapter.id)
        )).all()
        sections: dict[int, list[Section]] = defaultdict(list)
        if chapters:
            rows = await self.session.scalars(
                select(Section)
                .where(Section.chapter_id.in_([c.id for c in chapters]), _public(Section))
                .order_by(Section.orders, Section.id)
            )
            for row in rows:
                sections[row.chapter_id].append(row)
        return [(c, sections[c.id]) for c in chapters]

    # --- admin --------------------------------------------------------------------------

    async def get(self, model: type[RowT], row_id: int) -> RowT | None:
        return await self.session.get(model, row_id)

    async def add(self, row: BaseFields) -> None:
        self.session.add(row)
        await self.session.flush()

    async def chapter_of_live_course(self, chapter_id: int) -> Chapter | None:
        return await self.session.scalar(
            select(Chapter).join(Course, Course.id == Chapter.course_id)
            .where(Chapter.id == chapter_id, Chapter.is_delete.is_(False),
                   Course.is_delete.is_(False))
        )


LIKE_ESCAPE = "/"


def _escape_like(text: str) -> str:
    """`%` and `_` literal in a LIKE pattern (what `contains(autoescape=True)` does)."""
    return (text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%")
            .replace("_", LIKE_ESCAPE + "_"))


@functools.lru_cache(maxsize=64)
def _page_statements(
    by_kind: bool, by_category: bool, by_search: bool, ordering: str
) -> tuple[Select[Any], Select[Any]]:
    """The statements of a course list page for one shape of query, built once (building
    them cost more than running them): values come as bound parameters `kind`, `category`,
    `needle` (escaped), `offset` and `limit`.

    The page: the page's courses with their live teacher's and category's columns (a
    soft-deleted one is not joined: null columns) and the total as a window count,
    left-joined to their first `SECTION_PREVIEW` sections in reading order. And the count,
    for a page past the end."""
    where = [_public(Course)]
    if by_kind:
        where.append(Course.kind == bindparam("kind"))
    if by_category:
        where.append(Course.course_category_id == bindparam("category"))
    if by_search:
        needle = bindparam("needle", type_=String())
        where.append(or_(func.lower(Course.name).contains(needle, escape=LIKE_ESCAPE),
                         func.lower(Course.brief).contains(needle, escape=LIKE_ESCAPE)))
    field, descending = ordering_key(ordering)
    column = getattr(Course, field)
    # id breaks ties, so pages never overlap or skip rows
    page = (
        select(*(getattr(Course, name) for name in COURSE_LIST_COLUMNS),
               column.label("sort_key"),
               Teacher.id.label("teacher_id"), Teacher.name.label("teacher_name"),
               Teacher.role.label("teacher_role"), Teacher.title.label("teacher_title"),
               Teacher.image.label("teacher_image"),
               CourseCategory.id.label("category_id"),
               CourseCategory.name.label("category_name"),
               func.count().over().label("total"))
        .select_from(Course)
        .outerjoin(Teacher, (Teacher.id == Course.teacher_id) & Teacher.is_delete.is_(False))
        .outerjoin(CourseCategory, (CourseCategory.id == Course.course_category_id)
                   & CourseCategory.is_delete.is_(False))
        .where(*where)
        .order_by(column.desc() if descending else column.asc(), Course.id)
        .offset(bindparam("offset", type_=Integer()))
        .limit(bindparam("limit", type_=Integer()))
    ).cte("page")
    rank = func.row_number().over(
        partition_by=Chapter.course_id,
        order_by=(Chapter.chapter, Chapter.orders, Chapter.id, Section.orders, Section.id),
    ).label("rank")
    ranked = (
        select(Chapter.course_id.label("preview_course_id"),
               Chapter.chapter.label("chapter_number"),
               Section.orders.label("preview_orders"), Section.name.label("preview_name"),
               Section.section_type, Section.duration, Section.free_trail, rank)
        .join(Section, Section.chapter_id == Chapter.id)
        .where(Chapter.course_id.in_(select(page.c.id)), _public(Chapter), _public(Section))
    ).cte("ranked")
    sort_key = page.c.sort_key.desc() if descending else page.c.sort_key.asc()
    query = (
        select(page, ranked.c.chapter_number, ranked.c.preview_orders, ranked.c.preview_name,
               ranked.c.section_type, ranked.c.duration, ranked.c.free_trail)
        .select_from(page.outerjoin(ranked, (ranked.c.preview_course_id == page.c.id)
                                    & (ranked.c.rank <= SECTION_PREVIEW)))
        .order_by(sort_key, page.c.id, ranked.c.rank)
    )
    return query, select(func.count()).select_from(Course).where(*where)
