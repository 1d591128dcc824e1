"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.conformance.hooks): the bearer token of the
account named by CONFORMANCE_PHONE / CONFORMANCE_PASSWORD, logged in at CONFORMANCE_URL.

`POST /api/v1/auth/logout` ends the session of the token it is sent, so it gets a fresh
token each time; every other operation shares one, fetched again after a 401."""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis

LOGOUT = "/api/v1/auth/logout"


def _token() -> str:
    response = requests.post(
        f"{os.environ['CONFORMANCE_URL']}/api/v1/auth/tokens", timeout=30,
        json={"phone": os.environ["CONFORMANCE_PHONE"],
              "password": os.environ["CONFORMANCE_PASSWORD"]})
    response.raise_for_status()
    return str(response.json()["access_token"])


class _Bearer:
    def get(self, case: Any, ctx: Any) -> str:
        return _token()

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.auth(refresh_interval=None).apply_to(path=LOGOUT)
class FreshBearer(_Bearer):
    pass


@schemathesis.auth().skip_for(path=LOGOUT)
class SharedBearer(_Bearer):
    pass
