"""The scheduler's OpenAPI document (`GET /api/v1/scheduler/openapi.json`), for the gateway to
merge. Bodies come from the pydantic models that validate them; answers are described in
docs/scheduler.md."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.scheduler.entrypoints.schemas import (
    BackfillOut,
    BackfillRequest,
    DelayCreated,
    DelayRequest,
    PauseRequest,
    RunOut,
    ScheduleOut,
    SchedulePatch,
    ScheduleSpec,
)
from services.scheduler.ports import PendingDelay
from services.scheduler.streams import TARGET_STREAMS
from shared.openapi import BEARER, PAGE, PROBLEM, errors, page_of, path_param, ref
from shared.openapi import body as request_body
from shared.openapi import document as openapi_document

PREFIX = "/api/v1/scheduler"
ERRORS = errors(401, 403)
ID = path_param("id", "string")
SCHEDULE_ACTIONS = ("get", "patch", "delete", "pause", "resume", "trigger", "backfill", "runs")



def _op(summary: str, ok: str, status: str = "200", body: type[BaseModel] | None = None,
        errors: tuple[str, ...] = (), operation_id: str | None = None,
        links: dict[str, Any] | None = None, answer_schema: dict[str, Any] | None = None,
        body_required: bool = True) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": ok}
    if answer_schema:
        answer["content"] = {"application/json": {"schema": answer_schema}}
    if links:
        answer["links"] = links
    operation: dict[str, Any] = {
        "summary": summary, "security": BEARER,
        "responses": {status: answer, **ERRORS, **{e: PROBLEM for e in errors}},
    }
    if operation_id:
        operation["operationId"] = operation_id
    if body is not None:
        operation["requestBody"] = {**request_body(body), "required": body_required}
    return operation


def _to_schedule(pointer: str) -> dict[str, Any]:
    """Links from an answer holding a schedule id at `pointer` to what can be done with it."""
    return {f"Schedule{action.capitalize()}": {
        "operationId": f"scheduler{action.capitalize()}Schedule",
        "parameters": {"id": f"$response.body#{pointer}"}} for action in SCHEDULE_ACTIONS}


def _to_delay() -> dict[str, Any]:
    return {f"Delay{action.capitalize()}": {"operationId": f"scheduler{action.capitalize()}Delay",
                                            "parameters": {"id": "$response.body#/id"}}
            for action in ("get", "cancel")}


def document(target_streams: tuple[str, ...] = TARGET_STREAMS) -> dict[str, Any]:
    member = {"parameters": ID}
    schedule = ref(ScheduleOut)
    paths: dict[str, Any] = {
        f"{PREFIX}/schedules": {
            "get": {**_op("Schedules", "{count,next,previous,results}", errors=("400",),
                          operation_id="schedulerListSchedules",
                          links=_to_schedule("/results/0/id"),
                          answer_schema=page_of(ScheduleOut)), "parameters": PAGE},
            "post": _op("Create a schedule", "the schedule", "201", ScheduleSpec,
                        ("400", "409", "422"), "schedulerCreateSchedule", _to_schedule("/id"),
                        schedule),
        },
        f"{PREFIX}/schedules/{{id}}": {
            **member,
            "get": _op("A schedule", "the schedule", errors=("404",),
                       operation_id="schedulerGetSchedule", answer_schema=schedule),
            "patch": _op("Change a schedule", "the schedule", body=SchedulePatch,
                         errors=("400", "404", "422"), operation_id="schedulerPatchSchedule",
                         answer_schema=schedule),
            "delete": _op("Delete a schedule (built-ins: 409)", "deleted", "204",
                          errors=("404", "409"), operation_id="schedulerDeleteSchedule"),
        },
        f"{PREFIX}/schedules/{{id}}/pause": {**member, "post": _op(
            "Pause a schedule, optionally with a note (why)", "the schedule",
            body=PauseRequest, body_required=False, errors=("404",),
            operation_id="schedulerPauseSchedule", answer_schema=schedule)},
        f"{PREFIX}/schedules/{{id}}/resume": {**member, "post": _op(
            "Resume a schedule", "the schedule", errors=("404",),
            operation_id="schedulerResumeSchedule", answer_schema=schedule)},
        f"{PREFIX}/schedules/{{id}}/trigger": {**member, "post": _op(
            "Trigger a schedule", "the run", "202", errors=("404",),
            operation_id="schedulerTriggerSchedule", answer_schema=ref(RunOut))},
        f"{PREFIX}/schedules/{{id}}/backfill": {**member, "post": _op(
            "Fire the runs of a past window, once each", "what each run of the window became",
            body=BackfillRequest, errors=("404", "422"),
            operation_id="schedulerBackfillSchedule", answer_schema=ref(BackfillOut))},
        f"{PREFIX}/schedules/{{id}}/runs": {**member, "get": {**_op(
            "Run history, newest first", "{count,next,previous,results}", errors=("404",),
            operation_id="schedulerRunsSchedule", answer_schema=page_of(RunOut)),
            "parameters": PAGE}},
        f"{PREFIX}/delays": {"post": _op("Delay an event", "{id,due_at}", "201", DelayRequest,
                                         ("400", "422"), "schedulerCreateDelay", _to_delay(),
                                         ref(DelayCreated))},
        f"{PREFIX}/delays/{{id}}": {
            **member,
            "get": _op("A pending delay", "the delay", errors=("404",),
                       operation_id="schedulerGetDelay", answer_schema=ref(PendingDelay)),
            "delete": _op("Cancel a pending delay", "cancelled", "204", errors=("404",),
                          operation_id="schedulerCancelDelay"),
        },
    }
    built = openapi_document("scheduler", paths, [
        ScheduleSpec, SchedulePatch, DelayRequest, PauseRequest, BackfillRequest,
    ], [ScheduleOut, RunOut, BackfillOut, DelayCreated, PendingDelay])
    # Events may go only to these streams (settings); the document lists them.
    for name in ("EventSpec", "DelayRequest"):
        built["components"]["schemas"][name]["properties"]["stream"]["enum"] = list(
            target_streams)
    return built
