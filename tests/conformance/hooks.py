"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.conformance.hooks): the bearer token of the
account named by CONFORMANCE_PHONE / CONFORMANCE_PASSWORD, logged in at CONFORMANCE_URL.

`POST /api/v1/auth/logout` ends the session of the token it is sent, so it gets a fresh
token each time; every other operation shares one, fetched again after a 401.

Two more hooks let the stateful phase follow the flows a client follows, which generated data
alone does not reach: a seckill item is created with its window open now (a generated window
lies almost always in the past or the future, so every attempt on it would be refused, 409),
and in the stateful phase a list is read from its first page (a generated page number lies
far past the last, so `results/0` would hold nothing to follow)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import schemathesis

LOGOUT = "/api/v1/auth/logout"
SECKILL_ITEMS = "/api/v1/seckill/items"
LISTS = ["/api/v1/seckill/items", "/api/v1/seckill/orders", "/api/v1/scheduler/schedules"]


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


def _is_instant(value: Any) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


@schemathesis.hook("map_body").apply_to(method="POST", path=SECKILL_ITEMS)
def live_sale(context: Any, body: Any) -> Any:
    """A window that is open now, where the generated one was valid (an invalid one is
    left for the API to refuse)."""
    if isinstance(body, dict) and _is_instant(body.get("starts_at")) and _is_instant(
            body.get("ends_at")):
        now = datetime.now(UTC)
        body = {**body, "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(days=1)).isoformat()}
    return body


@schemathesis.hook("map_case").apply_to(method="GET", path=LISTS)
def first_page(context: Any, case: Any) -> Any:
    if case.meta is not None and case.meta.phase.name == "stateful" and case.query:
        case.query = {name: value for name, value in case.query.items() if name != "page"}
    return case
