"""Catalog rules and vocabulary, free of I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Literal

from shared.errors import AlreadyExists, FieldError, InvalidInput, Unavailable


class CourseKind(StrEnum):
    """The seed's three course pages: free, hands-on (actual) and light courses."""

    FREE = "free"
    ACTUAL = "actual"
    LIGHT = "light"


class CourseType(IntEnum):
    PAID = 0
    VIP = 1
    DEGREE = 2


class Level(IntEnum):
    BEGINNER = 0
    INTERMEDIATE = 1
    ADVANCED = 2


class CourseStatus(IntEnum):
    ONLINE = 0
    OFFLINE = 1
    PRE_RELEASE = 2


class SectionType(IntEnum):
    DOCUMENT = 0
    EXERCISE = 1
    VIDEO = 2


class TeacherRole(IntEnum):
    LECTURER = 0
    TUTOR = 1
    HEAD_TEACHER = 2


# The contract's `ordering` values for course lists; anything else is a 400.
CourseOrdering = Literal[
    "orders", "-orders", "id", "-id", "price", "-price", "students", "-students"
]
SECTION_PREVIEW = 4  # sections shown per course in lists, as on the seed's course page


def ordering_key(ordering: str) -> tuple[str, bool]:
    """`-price` -> ("price", descending=True)."""
    return ordering.lstrip("-"), ordering.startswith("-")


@dataclass(frozen=True, slots=True)
class CachedCopy:
    """A cached rendering (the banner list, a course page) with the cache version it was
    built under."""

    version: str
    value: Any


def fresh(copy: CachedCopy | None, version: str) -> bool:
    """A cached copy may be served only when it was built under the current version.

    The version changes after every committed write to the rows the copy is built from, and
    a copy is stored only if the version it was read under is still current at store time,
    so a matching copy holds rows read after the last write committed.
    """
    return copy is not None and copy.version == version


# --- refusals (answered by entrypoints/problems.py) ---------------------------------------


class Conflict(AlreadyExists):
    """A unique value (a category name) is taken, by a live or a deleted row."""

    def __init__(self) -> None:
        super().__init__("A row with these values exists already.")


class CacheUnavailable(Unavailable):
    """A write refused before anything changed: its read cache could not be told."""

    def __init__(self, cache: str = "banner") -> None:
        super().__init__(f"The {cache} cache cannot be reached; nothing was changed.")


class UnknownReference(InvalidInput):
    """Links (`teacher_id`, `category_id`) to rows that are missing or deleted."""

    def __init__(self, *errors: FieldError) -> None:
        super().__init__(*errors)
        # The answer's detail names the rows only ("no Teacher 9"), as it always has.
        self.detail = "; ".join(e.reason for e in errors)
