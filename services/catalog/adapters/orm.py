"""The catalog's tables (after the seed's Luffy models), on a MetaData of its own."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.db import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return utcnow().date()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class BaseFields:
    """The seed's BaseModel: soft delete, visibility, manual order, UTC timestamps."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    is_delete: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    is_show: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    orders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def choice(column: str, values: range | tuple[Any, ...]) -> CheckConstraint:
    allowed = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


class Banner(BaseFields, Base):
    __tablename__ = "catalog_banner"

    title: Mapped[str] = mapped_column(String(64))
    image: Mapped[str] = mapped_column(String(255))  # a path under the web root: /media/...
    link: Mapped[str] = mapped_column(String(255), default="")
    info: Mapped[str] = mapped_column(Text, default="")


class CourseCategory(BaseFields, Base):
    __tablename__ = "catalog_course_category"

    name: Mapped[str] = mapped_column(String(64), unique=True)


class Teacher(BaseFields, Base):
    __tablename__ = "catalog_teacher"
    __table_args__ = (choice("role", range(3)),)

    name: Mapped[str] = mapped_column(String(32))
    role: Mapped[int] = mapped_column(SmallInteger, default=0)
    title: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(String(255))
    image: Mapped[str | None] = mapped_column(String(255))
    brief: Mapped[str] = mapped_column(Text, default="")


class Course(BaseFields, Base):
    __tablename__ = "catalog_course"
    __table_args__ = (
        choice("kind", ("free", "actual", "light")),
        choice("course_type", range(3)),
        choice("level", range(3)),
        choice("status", range(3)),
    )

    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    course_img: Mapped[str | None] = mapped_column(String(255))
    course_type: Mapped[int] = mapped_column(SmallInteger, default=0)
    brief: Mapped[str | None] = mapped_column(Text)
    level: Mapped[int] = mapped_column(SmallInteger, default=0)
    pub_date: Mapped[date] = mapped_column(Date, default=today)
    period: Mapped[int] = mapped_column(Integer, default=7)  # suggested days of study
    attachment_path: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[int] = mapped_column(SmallInteger, default=0)
    students: Mapped[int] = mapped_column(Integer, default=0)
    sections: Mapped[int] = mapped_column(Integer, default=0)
    pub_sections: Mapped[int] = mapped_column(Integer, default=0)
    price: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("0"))
    teacher_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_teacher.id"), index=True)
    # The seed's category link has no database constraint (db_constraint=False).
    course_category_id: Mapped[int | None] = mapped_column(Integer, index=True)

    teacher: Mapped[Teacher | None] = relationship(lazy="raise")
    course_category: Mapped[CourseCategory | None] = relationship(
        primaryjoin="foreign(Course.course_category_id) == CourseCategory.id", lazy="raise"
    )


class Chapter(BaseFields, Base):
    """The seed's CourseChapter."""

    __tablename__ = "catalog_chapter"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_course.id", ondelete="CASCADE"), index=True
    )
    chapter: Mapped[int] = mapped_column(SmallInteger, default=1)  # chapter number
    name: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str | None] = mapped_column(Text)
    pub_date: Mapped[date] = mapped_column(Date, default=today)
    section_rows: Mapped[list[Section]] = relationship(
        back_populates="chapter_row", lazy="raise", order_by="(Section.orders, Section.id)"
    )


class Section(BaseFields, Base):
    """The seed's CourseSection (a lesson)."""

    __tablename__ = "catalog_section"
    __table_args__ = (choice("section_type", range(3)),)

    chapter_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_chapter.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    section_type: Mapped[int] = mapped_column(SmallInteger, default=2)
    section_link: Mapped[str | None] = mapped_column(String(255))  # video id or document link
    duration: Mapped[str | None] = mapped_column(String(32))  # display only, e.g. "12:30"
    pub_date: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    free_trail: Mapped[bool] = mapped_column(Boolean, default=False)  # the seed's spelling

    chapter_row: Mapped[Chapter] = relationship(back_populates="section_rows", lazy="raise")


metadata = Base.metadata
