"""The scheduler's OpenAPI document (`GET /api/v1/scheduler/openapi.json`), for the gateway to
merge. Bodies come from the pydantic models that validate them; answers are described in
docs/scheduler.md."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.scheduler.entrypoints.schemas import DelayRequest, SchedulePatch, ScheduleSpec
from shared.openapi import BEARER, PAGE, PROBLEM, errors, path_param
from shared.openapi import body as request_body
from shared.openapi import document as openapi_document

PREFIX = "/api/v1/scheduler"
ERRORS = errors(401, 403)
ID = path_param("id", "string")


def _op(summary: str, ok: str, status: str = "200", body: type[BaseModel] | None = None,
        errors: tuple[str, ...] = ()) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary, "security": BEARER,
        "responses": {status: {"description": ok}, **ERRORS, **{e: PROBLEM for e in errors}},
    }
    if body is not None:
        operation["requestBody"] = request_body(body)
    return operation


def document() -> dict[str, Any]:
    member = {"parameters": ID}
    paths: dict[str, Any] = {
        f"{PREFIX}/schedules": {
            "get": {**_op("Schedules", "{count,next,previous,results}", errors=("400",)),
                    "parameters": PAGE},
            "post": _op("Create a schedule", "the schedule", "201", ScheduleSpec,
                        ("400", "409", "422")),
        },
        f"{PREFIX}/schedules/{{id}}": {
            **member,
            "get": _op("A schedule", "the schedule", errors=("404",)),
            "patch": _op("Change a schedule", "the schedule", body=SchedulePatch,
                         errors=("400", "404", "422")),
            "delete": _op("Delete a schedule (built-ins: 409)", "deleted", "204",
                          errors=("404", "409")),
        },
        **{f"{PREFIX}/schedules/{{id}}/{action}": {**member, "post": _op(
            f"{action.capitalize()} a schedule", "the schedule (trigger: the run)",
            "202" if action == "trigger" else "200", errors=("404",))}
           for action in ("pause", "resume", "trigger")},
        f"{PREFIX}/schedules/{{id}}/runs": {**member, "get": {**_op(
            "Run history, newest first", "{count,next,previous,results}", errors=("404",)),
            "parameters": PAGE}},
        f"{PREFIX}/delays": {"post": _op("Delay an event", "{id,due_at}", "201", DelayRequest,
                                         ("400", "422"))},
        f"{PREFIX}/delays/{{id}}": {
            **member,
            "get": _op("A pending delay", "the delay", errors=("404",)),
            "delete": _op("Cancel a pending delay", "cancelled", "204", errors=("404",)),
        },
    }
    return openapi_document("scheduler", paths, [ScheduleSpec, SchedulePatch, DelayRequest])
