"""How the catalog's refusals are answered: the one table the middleware looks errors up in
(`shared.http.create_base_app(problems=PROBLEMS)`; the closest class of an error wins)."""

from __future__ import annotations

from services.catalog.domain import CacheUnavailable, Conflict, UnknownReference
from shared.problems import SHARED_PROBLEMS, ProblemKind, ProblemTable

PROBLEMS: ProblemTable = {
    **SHARED_PROBLEMS,  # NotFound 404 not-found; InvalidInput 422 ...
    Conflict: ProblemKind(409, "conflict"),
    # A well-formed body naming a teacher or category that is not there (or was deleted): the
    # body is valid, the state refuses it.
    UnknownReference: ProblemKind(409, "unknown-reference"),
    CacheUnavailable: ProblemKind(503, "cache-unavailable"),
}
