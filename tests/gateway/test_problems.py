"""The gateway's refusals as answered by its problem table (what the auth routes used to
build by hand): status, slug, detail and Retry-After."""

from __future__ import annotations

import pytest

from services.gateway.domain import (
    CodeCoolingDown,
    InvalidCredentials,
    InvalidRefreshToken,
    LoginUnavailable,
    RefreshTokenReused,
    TooManyCodeRequests,
    TooManyCodesForPhone,
    TooManyFailedLogins,
    TooManyWrongPasswords,
    UserDisabled,
    VerifierBusy,
)
from services.gateway.entrypoints.problems import PROBLEMS
from shared.errors import DomainError
from shared.problems import SHARED_PROBLEMS, from_domain_error

ANSWERS: list[tuple[DomainError, int, str, str]] = [
    (TooManyCodeRequests(7), 429, "too-many-requests",
     "Too many codes asked from this address; retry in 7 s."),
    (TooManyCodesForPhone(7), 429, "too-many-codes-for-phone",
     "This phone was sent today's codes; retry in 7 s or log in with a password."),
    (CodeCoolingDown(7), 429, "code-recently-sent",
     "A code was sent to this phone recently; retry in 7 s."),
    (TooManyFailedLogins(7), 429, "too-many-failed-logins",
     "Too many failed logins from this address; retry in 7 s."),
    (TooManyWrongPasswords(7), 429, "too-many-wrong-passwords",
     "Too many wrong passwords for this phone; retry in 7 s or log in with an SMS code."),
    (InvalidCredentials("password"), 401, "invalid-credentials", "Wrong phone or password."),
    (InvalidCredentials("code"), 401, "invalid-credentials", "Wrong phone or code."),
    (UserDisabled(), 403, "user-disabled", "This account is disabled."),
    (InvalidRefreshToken(), 401, "invalid-refresh-token",
     "This refresh token is unknown, expired or revoked; log in again."),
    (RefreshTokenReused(), 401, "refresh-token-reused",
     "This refresh token was used before, so it may have been copied; its session is ended. "
     "Log in again."),
    (LoginUnavailable(), 503, "unavailable", "Logging in is unavailable; try again shortly."),
    (VerifierBusy(), 503, "unavailable", "Logging in is unavailable; try again shortly."),
]


@pytest.mark.parametrize(("error", "status", "slug", "detail"), ANSWERS,
                         ids=[f"{type(a[0]).__name__}-{a[3][:12]}" for a in ANSWERS])
def test_each_refusal_has_its_answer(
    error: DomainError, status: int, slug: str, detail: str
) -> None:
    problem = from_domain_error(error, {**SHARED_PROBLEMS, **PROBLEMS})
    assert problem is not None
    assert (problem.status, problem.slug, problem.detail) == (status, slug, detail)
    retry_after = {429: "7", 503: "5"}.get(status)
    assert problem.headers == ({"Retry-After": retry_after} if retry_after else {})
