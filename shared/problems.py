"""RFC 9457 problem details: the one error shape of every endpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from shared.errors import AlreadyExists, DomainError, InvalidInput, NotFound, Unavailable

PROBLEM_BASE = "https://coursestream.dev/problems"
PROBLEM_CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """An error that becomes an `application/problem+json` response.

    `slug` ends the `type` URI (`.../problems/sold-out`); the title defaults to the
    status phrase. Raise it anywhere below a handler.
    """

    def __init__(
        self,
        status: int,
        slug: str | None = None,
        detail: str | None = None,
        *,
        title: str | None = None,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        phrase = HTTPStatus(status).phrase
        self.status = status
        self.slug = slug or phrase.lower().replace(" ", "-").replace("'", "")
        self.title = title or phrase
        self.detail = detail or self.title
        self.errors = list(errors) if errors else None
        self.headers = headers or {}
        super().__init__(f"{status} {self.slug}: {self.detail}")

    @property
    def type(self) -> str:
        return f"{PROBLEM_BASE}/{self.slug}"

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def response(self, instance: str | None = None) -> web.Response:
        return web.Response(
            status=self.status,
            body=orjson.dumps(self.body(instance)),
            content_type=PROBLEM_CONTENT_TYPE,
            headers=self.headers,
        )


def validation_problem(exc: ValidationError, status: int = 422, where: str = "body") -> Problem:
    """Turn pydantic errors into a problem listing each field."""
    errors = [
        {
            "loc": [where, *(str(p) for p in err["loc"])],
            "msg": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False)
    ]
    detail = "; ".join(f"{'.'.join(e['loc'][1:]) or where}: {e['msg']}" for e in errors)
    return Problem(status, "validation-error", detail, title="Invalid request", errors=errors)


def from_http_exception(exc: web.HTTPException) -> Problem:
    """Map aiohttp's own errors (404 route, 405 method, 413 size...) to problems."""
    headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
    reason = exc.reason if exc.text and exc.text.startswith(str(exc.status)) else exc.text
    return Problem(exc.status, detail=reason or None, headers=headers)


@dataclass(frozen=True)
class ProblemKind:
    """How one domain error is answered: its status and `type` slug."""

    status: int
    slug: str
    title: str | None = None


ProblemTable = Mapping[type[DomainError], ProblemKind]

# The shared errors' answers; a service's table (entrypoints/problems.py) adds its own errors.
SHARED_PROBLEMS: ProblemTable = {
    NotFound: ProblemKind(404, "not-found"),
    AlreadyExists: ProblemKind(409, "already-exists"),
    InvalidInput: ProblemKind(422, "validation-error", "Invalid request"),
    Unavailable: ProblemKind(503, "unavailable"),
}


def from_domain_error(error: DomainError, table: ProblemTable) -> Problem | None:
    """The problem the table gives for the error's closest class; None when it has none."""
    kind = next((table[cls] for cls in type(error).__mro__ if cls in table), None)
    if kind is None:
        return None
    errors = None
    if isinstance(error, InvalidInput):
        errors = [{"loc": ["body", *e.field.split(".")], "msg": e.reason, "type": e.kind}
                  for e in error.errors]
    headers = {} if error.retry_after_s is None else {"Retry-After": str(error.retry_after_s)}
    return Problem(kind.status, kind.slug, error.detail, title=kind.title, errors=errors,
                   headers=headers)
