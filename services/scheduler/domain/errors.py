"""The scheduler's refusals (answered by `entrypoints/problems.py`, dead-lettered by the
requests consumer), and the leader's loss of its lease."""

from __future__ import annotations

from shared.errors import AlreadyExists, DomainError, FieldError, InvalidInput, NotFound


class InvalidSchedule(InvalidInput):
    """A rule broken that the body's own validation cannot see (a past date, a stream)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(FieldError(field, reason))
        self.field = field
        self.reason = reason


class EventMismatch(InvalidInput):
    """An event its stream does not carry, or data not of its type (`shared.event_types`)."""

    def __init__(self, prefix: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(*(FieldError(prefix + field, reason) for field, reason in problems))


class ScheduleNotFound(NotFound):
    def __init__(self, schedule_id: str) -> None:
        super().__init__(f"No schedule {schedule_id!r}.")


class ScheduleExists(AlreadyExists):
    def __init__(self, schedule_id: str) -> None:
        super().__init__(f"Schedule {schedule_id!r} exists.")


class BuiltinSchedule(DomainError):
    """Deleting a schedule of the config file: it would come back at the next start."""

    def __init__(self) -> None:
        super().__init__("A built-in schedule comes back at the next start; pause it instead.")


class DelayNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No pending delay with this id (fired or cancelled).")


class LostLease(Exception):
    """The run publisher refused this leader's lease: another replica leads now."""
