"""How the scheduler's refusals are answered over HTTP (the shared ones, and its own)."""

from __future__ import annotations

from services.scheduler.domain.errors import BuiltinSchedule
from shared.problems import SHARED_PROBLEMS, ProblemKind, ProblemTable

PROBLEMS: ProblemTable = {
    **SHARED_PROBLEMS,
    BuiltinSchedule: ProblemKind(409, "builtin"),
}
