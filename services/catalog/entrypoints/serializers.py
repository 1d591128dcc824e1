"""The contract's JSON shapes of catalog rows, one function per shape.

Every image path becomes absolute here, through `shared.urls.absolute_url`, for the request
path and the banner cache rebuild alike (`bootstrap.py` renders the cached copy with `banners`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from services.catalog.adapters.orm import Banner, Chapter, Course, CourseCategory, Section, Teacher
from services.catalog.domain import SECTION_PREVIEW
from services.catalog.handlers import CourseDetail
from services.catalog.ports import CourseListRow, CoursePage
from shared.urls import absolute_url


def money(value: Any) -> str:
    """Decimal string with two places: "39.90"."""
    return f"{value:.2f}"


def banner(row: Banner, base_url: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "image": absolute_url(base_url, row.image),
        "link": row.link,
        "info": row.info,
        "orders": row.orders,
    }


def banners(rows: Iterable[Banner], base_url: str) -> list[dict[str, Any]]:
    return [banner(row, base_url) for row in rows]


def category(row: CourseCategory) -> dict[str, Any]:
    return {"id": row.id, "name": row.name}


def teacher_brief(row: Teacher, base_url: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "title": row.title,
        "image": absolute_url(base_url, row.image),
    }


def teacher(row: Teacher, base_url: str) -> dict[str, Any]:
    return {**teacher_brief(row, base_url), "signature": row.signature, "brief": row.brief}


class SectionFields(Protocol):
    """A section as an ORM row or as a plain result row of its columns."""

    orders: int
    name: str
    section_type: int
    duration: str | None
    free_trail: bool


def section_preview(row: SectionFields, chapter_number: int) -> dict[str, Any]:
    return {
        "chapter": chapter_number,
        "orders": row.orders,
        "name": row.name,
        "section_type": row.section_type,
        "duration": row.duration,
        "free_trail": row.free_trail,
    }


def section(row: Section, chapter_number: int) -> dict[str, Any]:
    return {
        "id": row.id,
        **section_preview(row, chapter_number),
        "section_link": row.section_link,
        "pub_date": row.pub_date.isoformat(),
    }


def _live(row: Any) -> Any:
    """A linked row soft-deleted since is rendered as absent."""
    return row if row is not None and not row.is_delete else None


def _course_fields(row: Course | CourseListRow, base_url: str) -> dict[str, Any]:
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


def course(row: Course, base_url: str, preview: list[dict[str, Any]]) -> dict[str, Any]:
    """A course with its ORM teacher and category: `preview` holds its first sections
    (`section_preview`)."""
    linked_teacher, linked_category = _live(row.teacher), _live(row.course_category)
    return {
        **_course_fields(row, base_url),
        "teacher": teacher_brief(linked_teacher, base_url) if linked_teacher else None,
        "category": category(linked_category) if linked_category else None,
        "section_list": preview,
    }


def course_item(row: CourseListRow, base_url: str, preview: list[dict[str, Any]]) -> dict[str, Any]:
    """A course in a list, from a plain row (`ports.CourseListRow`): the body `course`
    renders for the same course."""
    return {
        **_course_fields(row, base_url),
        "teacher": None if row.teacher_id is None else {
            "id": row.teacher_id,
            "name": row.teacher_name,
            "role": row.teacher_role,
            "title": row.teacher_title,
            "image": absolute_url(base_url, row.teacher_image),
        },
        "category": None if row.category_id is None else {
            "id": row.category_id, "name": row.category_name},
        "section_list": preview,
    }


def chapter(row: Chapter, sections: list[Section]) -> dict[str, Any]:
    return {
        "id": row.id,
        "chapter": row.chapter,
        "name": row.name,
        "summary": row.summary,
        "sections": [section(s, row.chapter) for s in sections],
    }


def courses(page: CoursePage, base_url: str) -> list[dict[str, Any]]:
    return [
        course_item(row, base_url, [section_preview(s, s.chapter_number)
                                     for s in page.previews.get(row.id, [])])
        for row in page.courses
    ]


def course_detail(detail: CourseDetail, base_url: str) -> dict[str, Any]:
    row, chapters = detail.course, detail.chapters
    preview = [section_preview(s, c.chapter) for c, sections in chapters for s in sections]
    body = course(row, base_url, preview[:SECTION_PREVIEW])
    linked_teacher = _live(row.teacher)
    body.update(
        teacher=teacher(linked_teacher, base_url) if linked_teacher else None,
        pub_date=row.pub_date.isoformat(),
        attachment_path=row.attachment_path,
        chapters=[chapter(c, sections) for c, sections in chapters],
    )
    return body


def admin_fields(row: Any) -> dict[str, Any]:
    """What an admin write answers with besides the public shape."""
    return {
        "orders": row.orders,
        "is_show": row.is_show,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def chapter_written(row: Chapter) -> dict[str, Any]:
    return {
        "id": row.id,
        "course_id": row.course_id,
        "chapter": row.chapter,
        "name": row.name,
        "summary": row.summary,
        "pub_date": row.pub_date.isoformat(),
        **admin_fields(row),
    }


def section_written(row: Section) -> dict[str, Any]:
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


WRITTEN: dict[type[Any], Callable[[Any, str], dict[str, Any]]] = {
    Banner: lambda row, base: {**banner(row, base), **admin_fields(row)},
    CourseCategory: lambda row, _base: {**category(row), **admin_fields(row)},
    Teacher: lambda row, base: {**teacher(row, base), **admin_fields(row)},
    Course: lambda row, base: {**course(row, base, []), **admin_fields(row)},
    Chapter: lambda row, _base: chapter_written(row),
    Section: lambda row, _base: section_written(row),
}


def written(row: Any, base_url: str) -> dict[str, Any]:
    """The answer to an admin create or update: the public shape and the admin fields."""
    return WRITTEN[type(row)](row, base_url)
