"""How the catalog's refusals are answered: the one table the middleware looks errors up in
(`shared.http.create_base_app(problems=PROBLEMS)`; the closest class of an error wins)."""

from __future__ import annotations

from services.catalog.domain import CacheUnavailable, Conflict
from shared.problems import SHARED_PROBLEMS, ProblemKind, ProblemTable

PROBLEMS: ProblemTable = {
    **SHARED_PROBLEMS,  # NotFound 404 not-found; InvalidInput (UnknownReference) 422 ...
    Conflict: ProblemKind(409, "conflict"),
    CacheUnavailable: ProblemKind(503, "cache-unavailable"),
}
