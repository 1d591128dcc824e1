"""The contract's JSON shapes of catalog rows, one function per shape, each returning its
TypedDict (`...Out`, `...Written`): the OpenAPI document's response schemas are made from them.

Every image path becomes absolute here, through `shared.urls.absolute_url`, for the request
path and the banner cache rebuild alike (`bootstrap.py` renders the cached copy with `banners`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, cast

from typing_extensions import TypedDict

from services.catalog.adapters.orm import Banner, Chapter, Course, CourseCategory, Section, Teacher
from services.catalog.domain import SECTION_PREVIEW
from services.catalog.handlers import CourseDetail
from services.catalog.ports import CourseListRow, CoursePage
from shared.urls import absolute_url


def money(value: Any) -> str:
    """Decimal string with two places: "39.90"."""
    return f"{value:.2f}"


class BannerOut(TypedDict):
    id: int
    title: str
    image: str | None
    link: str
    info: str
    orders: int


class CategoryOut(TypedDict):
    id: int
    name: str


class TeacherBriefOut(TypedDict):
    id: int
    name: str
    role: int
    title: str
    image: str | None


class TeacherOut(TeacherBriefOut):
    signature: str | None
    brief: str


class SectionPreviewOut(TypedDict):
    chapter: int
    orders: int
    name: str
    section_type: int
    duration: str | None
    free_trail: bool


class SectionOut(SectionPreviewOut):
    id: int
    section_link: str | None
    pub_date: str


class CourseFields(TypedDict):
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
    price: str
    period: int


class CourseOut(CourseFields):
    """A course in a list (and a written course): its first sections in `section_list`."""

    teacher: TeacherBriefOut | None
    category: CategoryOut | None
    section_list: list[SectionPreviewOut]


class ChapterOut(TypedDict):
    id: int
    chapter: int
    name: str
    summary: str | None
    sections: list[SectionOut]


class CourseDetailOut(CourseFields):
    teacher: TeacherOut | None
    category: CategoryOut | None
    section_list: list[SectionPreviewOut]
    pub_date: str
    attachment_path: str | None
    chapters: list[ChapterOut]


class AdminFields(TypedDict):
    orders: int
    is_show: bool
    created_at: str
    updated_at: str


class BannerWritten(BannerOut, AdminFields):
    pass


class CategoryWritten(CategoryOut, AdminFields):
    pass


class TeacherWritten(TeacherOut, AdminFields):
    pass


class CourseWritten(CourseOut, AdminFields):
    pass


class ChapterWritten(AdminFields):
    id: int
    course_id: int
    chapter: int
    name: str
    summary: str | None
    pub_date: str


class SectionWritten(AdminFields):
    id: int
    chapter_id: int
    name: str
    section_type: int
    section_link: str | None
    duration: str | None
    free_trail: bool
    pub_date: str


def banner(row: Banner, base_url: str) -> BannerOut:
    return {
        "id": row.id,
        "title": row.title,
        "image": absolute_url(base_url, row.image),
        "link": row.link,
        "info": row.info,
        "orders": row.orders,
    }


def banners(rows: Iterable[Banner], base_url: str) -> list[BannerOut]:
    return [banner(row, base_url) for row in rows]


def category(row: CourseCategory) -> CategoryOut:
    return {"id": row.id, "name": row.name}


def teacher_brief(row: Teacher, base_url: str) -> TeacherBriefOut:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "title": row.title,
        "image": absolute_url(base_url, row.image),
    }


def teacher(row: Teacher, base_url: str) -> TeacherOut:
    return {**teacher_brief(row, base_url), "signature": row.signature, "brief": row.brief}


class SectionFields(Protocol):
    """A section as an ORM row or as a plain result row of its columns."""

    orders: int
    name: str
    section_type: int
    duration: str | None
    free_trail: bool


def section_preview(row: SectionFields, chapter_number: int) -> SectionPreviewOut:
    return {
        "chapter": chapter_number,
        "orders": row.orders,
        "name": row.name,
        "section_type": row.section_type,
        "duration": row.duration,
        "free_trail": row.free_trail,
    }


def section(row: Section, chapter_number: int) -> SectionOut:
    return {
        "id": row.id,
        **section_preview(row, chapter_number),
        "section_link": row.section_link,
        "pub_date": row.pub_date.isoformat(),
    }


def _live(row: Any) -> Any:
    """A linked row soft-deleted since is rendered as absent."""
    return row if row is not None and not row.is_delete else None


def _course_fields(row: Course | CourseListRow, base_url: str) -> CourseFields:
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "course_type": row.course_type,
        "level": row.level,
        "status": row.status,
        "brief": row.brief,
        "course_img": absolute_url(base_url, row.course_img),
        "students": row.students,
        "sections": row.sections,
        "pub_sections": row.pub_sections,
        "price": money(row.price),
        "period": row.period,
    }


def course(row: Course, base_url: str, preview: list[SectionPreviewOut]) -> CourseOut:
    """A course with its ORM teacher and category: `preview` holds its first sections
    (`section_preview`)."""
    linked_teacher, linked_category = _live(row.teacher), _live(row.course_category)
    return {
        **_course_fields(row, base_url),
        "teacher": teacher_brief(linked_teacher, base_url) if linked_teacher else None,
        "category": category(linked_category) if linked_category else None,
        "section_list": preview,
    }


def course_item(
    row: CourseListRow, base_url: str, preview: list[SectionPreviewOut]
) -> CourseOut:
    """A course in a list, from a plain row (`ports.CourseListRow`): the body `course`
    renders for the same course."""
    # A joined row's columns are all set whenever its id is (ports.CourseListRow).
    return {
        **_course_fields(row, base_url),
        "teacher": None if row.teacher_id is None else cast(TeacherBriefOut, {
            "id": row.teacher_id,
            "name": row.teacher_name,
            "role": row.teacher_role,
            "title": row.teacher_title,
            "image": absolute_url(base_url, row.teacher_image),
        }),
        "category": None if row.category_id is None else cast(CategoryOut, {
            "id": row.category_id, "name": row.category_name}),
        "section_list": preview,
    }


def chapter(row: Chapter, sections: list[Section]) -> ChapterOut:
    return {
        "id": row.id,
        "chapter": row.chapter,
        "name": row.name,
        "summary": row.summary,
        "sections": [section(s, row.chapter) for s in sections],
    }


def courses(page: CoursePage, base_url: str) -> list[CourseOut]:
    return [
        course_item(row, base_url, [section_preview(s, s.chapter_number)
                                     for s in page.previews.get(row.id, [])])
        for row in page.courses
    ]


def course_detail(detail: CourseDetail, base_url: str) -> CourseDetailOut:
    row, chapters = detail.course, detail.chapters
    preview = [section_preview(s, c.chapter) for c, sections in chapters for s in sections]
    listed = course(row, base_url, preview[:SECTION_PREVIEW])
    linked_teacher = _live(row.teacher)
    return {
        **_course_fields(row, base_url),
        "teacher": teacher(linked_teacher, base_url) if linked_teacher else None,
        "category": listed["category"],
        "section_list": listed["section_list"],
        "pub_date": row.pub_date.isoformat(),
        "attachment_path": row.attachment_path,
        "chapters": [chapter(c, sections) for c, sections in chapters],
    }


def admin_fields(row: Any) -> AdminFields:
    """What an admin write answers with besides the public shape."""
    return {
        "orders": row.orders,
        "is_show": row.is_show,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def chapter_written(row: Chapter) -> ChapterWritten:
    return {
        "id": row.id,
        "course_id": row.course_id,
        "chapter": row.chapter,
        "name": row.name,
        "summary": row.summary,
        "pub_date": row.pub_date.isoformat(),
        **admin_fields(row),
    }


def section_written(row: Section) -> SectionWritten:
    return {
        "id": row.id,
        "chapter_id": row.chapter_id,
        "name": row.name,
        "section_type": row.section_type,
        "section_link": row.section_link,
        "duration": row.duration,
        "free_trail": row.free_trail,
        "pub_date": row.pub_date.isoformat(),
        **admin_fields(row),
    }


WRITTEN: dict[type[Any], Callable[[Any, str], Any]] = {
    Banner: lambda row, base: {**banner(row, base), **admin_fields(row)},
    CourseCategory: lambda row, _base: {**category(row), **admin_fields(row)},
    Teacher: lambda row, base: {**teacher(row, base), **admin_fields(row)},
    Course: lambda row, base: {**course(row, base, []), **admin_fields(row)},
    Chapter: lambda row, _base: chapter_written(row),
    Section: lambda row, _base: section_written(row),
}


def written(row: Any, base_url: str) -> Any:
    """The answer to an admin create or update: the public shape and the admin fields."""
    return WRITTEN[type(row)](row, base_url)
