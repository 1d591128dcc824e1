"""The domain's refusals: what a handler raises when a rule says no.

They carry no HTTP: each service's `entrypoints/problems.py` maps its errors to problem+json
responses in one table (the middleware looks an error's classes up in it), and stream consumers
decide dead letters from them. Subclass the closest one below, or `DomainError` itself.
"""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """A refusal with a sentence for the user. `retry_after_s`: when trying again may work."""

    def __init__(self, detail: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after_s = retry_after_s


class NotFound(DomainError):
    """The thing asked for does not exist."""


class AlreadyExists(DomainError):
    """Creating it would duplicate what exists."""


@dataclass(frozen=True)
class FieldError:
    """One broken rule: `field` dotted as in the request (`trigger.at`)."""

    field: str
    reason: str
    kind: str = "value_error"


class InvalidInput(DomainError):
    """The input breaks one or more rules."""

    def __init__(self, *errors: FieldError) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


class Unavailable(DomainError):
    """A dependency cannot answer now; the same request may work shortly."""
