"""Unit tests without I/O: domain rules, query and body parsing, serializers, the answers
to the catalog's refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.catalog.adapters.orm import Banner, Course, CourseCategory, Section, Teacher
from services.catalog.domain import (
    CachedCopy,
    CacheUnavailable,
    Conflict,
    UnknownReference,
    fresh,
    ordering_key,
)
from services.catalog.entrypoints import serializers
from services.catalog.entrypoints.problems import PROBLEMS
from services.catalog.entrypoints.schemas import CourseIn, CoursePatch, CourseQuery, SectionPatch
from shared.errors import FieldError, NotFound
from shared.problems import from_domain_error

BASE = "https://courses.example"


def test_only_a_copy_of_the_current_version_is_fresh() -> None:
    copy = CachedCopy("v2", [{"id": 1}])
    assert fresh(copy, "v2")
    assert not fresh(copy, "v3")
    assert not fresh(None, "v2")


def test_ordering_key() -> None:
    assert ordering_key("-price") == ("price", True)
    assert ordering_key("orders") == ("orders", False)


def test_course_query_defaults_and_refusals() -> None:
    query = CourseQuery.model_validate({"search": "  ", "page": "2"})
    assert (query.ordering, query.search, query.kind) == ("orders", None, None)
    for bad in ({"ordering": "name"}, {"ordering": "--id"}, {"kind": "vip"},
                {"category": "0"}, {"category": str(2**31)}, {"search": "x" * 101}):
        with pytest.raises(ValidationError):
            CourseQuery.model_validate(bad)


def test_course_body_money_and_choices() -> None:
    body = CourseIn.model_validate({"name": " Go ", "kind": "light", "price": "9.9"})
    assert (body.name, body.price, body.period) == ("Go", Decimal("9.9"), 7)
    for bad in ({"price": "-1"}, {"price": "12345.6"}, {"course_type": 3}, {"level": -1},
                {"kind": "actual", "unknown": 1}):
        with pytest.raises(ValidationError):
            CourseIn.model_validate({"name": "n", "kind": "free", **bad})


def test_patch_bodies_keep_constraints_and_refuse_null_where_not_nullable() -> None:
    assert CoursePatch.model_validate({"brief": None}).changes() == {"brief": None}
    assert CoursePatch.model_validate({"price": "1.50"}).changes() == {"price": Decimal("1.50")}
    for bad in ({}, {"name": None}, {"price": "1.234"}, {"name": ""}, {"x": 1}):
        with pytest.raises(ValidationError):
            CoursePatch.model_validate(bad)
    with pytest.raises(ValidationError):
        SectionPatch.model_validate({"free_trail": None})


def test_banner_images_are_absolute_and_built_in_one_place() -> None:
    row = Banner(id=3, title="t", image="/media/banners/1.svg", link="/x", info="i", orders=2)
    assert serializers.banner(row, BASE + "/") == {
        "id": 3, "title": "t", "image": f"{BASE}/media/banners/1.svg", "link": "/x",
        "info": "i", "orders": 2,
    }
    row.image = "https://cdn.example/b.png"
    assert serializers.banner(row, BASE)["image"] == "https://cdn.example/b.png"


def test_course_renders_money_links_and_hides_deleted_links() -> None:
    teacher = Teacher(id=1, name="A", role=0, title="T", image=None, is_delete=False)
    category = CourseCategory(id=2, name="Go", is_delete=True)
    course = Course(
        id=5, name="C", kind="free", course_type=0, level=1, status=0, brief=None,
        course_img="/media/courses/1.svg", students=3, sections=8, pub_sections=8,
        price=Decimal("39.9"), period=7, pub_date=date(2026, 1, 1),
    )
    course.teacher, course.course_category = teacher, category
    section = Section(id=9, name="S", orders=1, section_type=2, duration="01:00",
                      free_trail=True, pub_date=datetime(2026, 1, 1, tzinfo=UTC))
    body = serializers.course(course, BASE, [serializers.section_preview(section, 1)])
    assert body["price"] == "39.90"
    assert body["course_img"] == f"{BASE}/media/courses/1.svg"
    assert body["teacher"] == {"id": 1, "name": "A", "role": 0, "title": "T", "image": None}
    assert body["category"] is None
    assert body["section_list"] == [{"chapter": 1, "orders": 1, "name": "S", "section_type": 2,
                                     "duration": "01:00", "free_trail": True}]


def test_each_refusal_is_answered_as_the_api_documents() -> None:
    """docs/catalog.md: 404 not-found, 409 conflict, 409 unknown-reference with
    `unknown_reference` field errors, 503 cache-unavailable (no Retry-After)."""
    answers = {
        NotFound("No course with id 9."): (404, "not-found", "Not Found", None),
        Conflict(): (409, "conflict", "Conflict", None),
        CacheUnavailable(): (503, "cache-unavailable", "Service Unavailable", None),
        UnknownReference(FieldError("teacher_id", "no Teacher 9", kind="unknown_reference")): (
            409, "unknown-reference", "Conflict",
            [{"loc": ["body", "teacher_id"], "msg": "no Teacher 9", "type": "unknown_reference"}]),
    }
    for error, (status, slug, title, errors) in answers.items():
        problem = from_domain_error(error, PROBLEMS)
        assert problem is not None
        body = problem.body()
        assert (problem.status, body["type"], body["title"], body.get("errors")) == (
            status, f"https://coursestream.dev/problems/{slug}", title, errors)
        assert body["detail"] == str(error.detail) and problem.headers == {}
    assert from_domain_error(UnknownReference(
        FieldError("teacher_id", "no Teacher 9"), FieldError("category_id", "no CourseCategory 8")
    ), PROBLEMS).body()["detail"] == "no Teacher 9; no CourseCategory 8"  # type: ignore[union-attr]
