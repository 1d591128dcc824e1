"""Validated input of the catalog's endpoints: query strings and admin bodies.

A PATCH body is its create body with every field optional; `null` is accepted only where the
column is nullable, and an empty body is refused.
"""

from __future__ import annotations

import types
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from services.catalog.adapters.orm import today
from services.catalog.domain import (
    CourseKind,
    CourseOrdering,
    CourseStatus,
    CourseType,
    Level,
    SectionType,
    TeacherRole,
)
from shared.openapi import money

MAX_INT = 2**31 - 1  # PostgreSQL `integer`
MAX_SMALLINT = 2**15 - 1
PRICE_TOP, PRICE_SCHEMA = money(4)  # numeric(6, 2)


class CourseQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: CourseKind | None = None
    category: int | None = Field(None, ge=1, le=MAX_INT)
    ordering: CourseOrdering = "orders"
    search: str | None = Field(None, max_length=100)

    @field_validator("search")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    orders: int = Field(0, ge=0, le=MAX_INT)
    is_show: bool = True


class BannerIn(Body):
    title: str = Field(min_length=1, max_length=64)
    image: str = Field(min_length=1, max_length=255, description="/media/... or https://...")
    link: str = Field("", max_length=255)
    info: str = Field("", max_length=4000)


class CategoryIn(Body):
    name: str = Field(min_length=1, max_length=64)


class TeacherIn(Body):
    name: str = Field(min_length=1, max_length=32)
    role: TeacherRole = TeacherRole.LECTURER
    title: str = Field(min_length=1, max_length=64)
    signature: str | None = Field(None, max_length=255)
    image: str | None = Field(None, max_length=255)
    brief: str = Field("", max_length=1024)


class CourseIn(Body):
    name: str = Field(min_length=1, max_length=128)
    kind: CourseKind
    course_img: str | None = Field(None, max_length=255)
    course_type: CourseType = CourseType.PAID
    brief: str | None = Field(None, max_length=2048)
    level: Level = Level.BEGINNER
    pub_date: date = Field(default_factory=today)
    period: int = Field(7, ge=1, le=3650)
    attachment_path: str | None = Field(None, max_length=128)
    status: CourseStatus = CourseStatus.ONLINE
    students: int = Field(0, ge=0, le=MAX_INT)
    sections: int = Field(0, ge=0, le=MAX_INT)
    pub_sections: int = Field(0, ge=0, le=MAX_INT)
    price: Decimal = Field(Decimal("0"), ge=0, le=PRICE_TOP, max_digits=6, decimal_places=2,
                           json_schema_extra=PRICE_SCHEMA)
    teacher_id: int | None = Field(None, ge=1, le=MAX_INT)
    category_id: int | None = Field(None, ge=1, le=MAX_INT)


class ChapterIn(Body):
    chapter: int = Field(1, ge=1, le=MAX_SMALLINT)
    name: str = Field(min_length=1, max_length=128)
    summary: str | None = Field(None, max_length=4000)
    pub_date: date = Field(default_factory=today)


class SectionIn(Body):
    name: str = Field(min_length=1, max_length=128)
    section_type: SectionType = SectionType.VIDEO
    section_link: str | None = Field(None, max_length=255)
    duration: str | None = Field(None, max_length=32)
    free_trail: bool = False


class Patch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              json_schema_extra={"minProperties": 1})
    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _check(self) -> Patch:
        if not self.model_fields_set:
            raise ValueError("nothing to change: the body names no field")
        nulls = sorted(n for n in self.model_fields_set
                       if getattr(self, n) is None and n not in self.nullable)
        if nulls:
            raise ValueError(f"may not be null: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


def _allows_none(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def patch_model(create: type[Body]) -> type[Patch]:
    """The PATCH body of `create`: same fields and constraints, each optional (left out, not
    null, unless the column is nullable: the document says so too)."""
    fields: dict[str, Any] = {}
    for name, info in create.model_fields.items():
        # The constraints go on the type, inside the union: on the union, the document would
        # carry them as unknown keywords ("ge") instead of "minimum".
        constrained: Any = (Annotated[info.annotation, *info.metadata] if info.metadata
                            else info.annotation)
        if not _allows_none(info.annotation):
            constrained = constrained | SkipJsonSchema[None]  # type: ignore[misc]
        fields[name] = (constrained, Field(None, description=info.description,
                                           json_schema_extra=info.json_schema_extra))
    model = create_model(f"{create.__name__[:-2]}Patch", __base__=Patch, **fields)
    model.nullable = frozenset(
        n for n, i in create.model_fields.items() if _allows_none(i.annotation)
    )
    return model


BannerPatch = patch_model(BannerIn)
CategoryPatch = patch_model(CategoryIn)
TeacherPatch = patch_model(TeacherIn)
CoursePatch = patch_model(CourseIn)
ChapterPatch = patch_model(ChapterIn)
SectionPatch = patch_model(SectionIn)
