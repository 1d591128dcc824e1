"""How the seckill service answers its domain errors (problem+json), in one table.

The shared errors (NotFound 404 `not-found`, ...) come from `shared.problems.SHARED_PROBLEMS`;
the middleware answers an error by its closest class listed here or there.
"""

from __future__ import annotations

from services.seckill.domain import (
    AlreadyPurchased,
    BadIdempotencyKey,
    Ended,
    NotReady,
    NotStarted,
    NotTheBuyer,
    OrderExpired,
    SoldOut,
    TooManyStreams,
)
from shared.problems import ProblemKind, ProblemTable

PROBLEMS: ProblemTable = {
    # Admission refusals (UnknownItem is a NotFound: 404 `not-found`)
    NotReady: ProblemKind(503, "not-ready"),
    NotStarted: ProblemKind(409, "not-started"),
    Ended: ProblemKind(409, "ended"),
    AlreadyPurchased: ProblemKind(409, "already-purchased"),
    SoldOut: ProblemKind(409, "sold-out"),
    BadIdempotencyKey: ProblemKind(400, "bad-idempotency-key"),
    # Tickets and orders
    TooManyStreams: ProblemKind(429, "too-many-streams"),
    NotTheBuyer: ProblemKind(403, "forbidden"),
    OrderExpired: ProblemKind(409, "expired"),
}
