"""How the gateway answers its domain errors (on top of `shared.problems.SHARED_PROBLEMS`,
which gives `LoginUnavailable` and `VerifierBusy`, as `Unavailable`s, their 503)."""

from __future__ import annotations

from services.gateway.domain import (
    CodeCoolingDown,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
    TooManyCodeRequests,
    TooManyCodesForPhone,
    TooManyFailedLogins,
    TooManyWrongPasswords,
    UserDisabled,
)
from shared.problems import ProblemKind, ProblemTable

PROBLEMS: ProblemTable = {
    TooManyCodeRequests: ProblemKind(429, "too-many-requests"),
    TooManyCodesForPhone: ProblemKind(429, "too-many-codes-for-phone"),
    CodeCoolingDown: ProblemKind(429, "code-recently-sent"),
    TooManyFailedLogins: ProblemKind(429, "too-many-failed-logins"),
    TooManyWrongPasswords: ProblemKind(429, "too-many-wrong-passwords"),
    InvalidCredentials: ProblemKind(401, "invalid-credentials"),
    UserDisabled: ProblemKind(403, "user-disabled"),
    InvalidRefreshToken: ProblemKind(401, "invalid-refresh-token"),
    RefreshTokenReused: ProblemKind(401, "refresh-token-reused"),
}
