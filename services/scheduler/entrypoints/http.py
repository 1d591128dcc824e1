"""HTTP API of the scheduler (`/api/v1/scheduler`, admin only): parse, call, render."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.scheduler.bootstrap import Runtime
from services.scheduler.domain.errors import DelayNotFound
from services.scheduler.domain.schedules import RunRecord, Schedule
from services.scheduler.entrypoints.openapi import document
from services.scheduler.entrypoints.schemas import (
    BackfillOut,
    BackfillRequest,
    DelayCancel,
    DelayCreated,
    DelayRequest,
    PauseRequest,
    RunOut,
    ScheduleOut,
    SchedulePatch,
    ScheduleSpec,
)
from services.scheduler.handlers import SchedulerHandlers
from shared.auth import Principal, require_admin
from shared.http import json_response, parse_body, parse_query
from shared.pagination import PageParams, page_body

PREFIX = "/api/v1/scheduler"
RUNTIME_KEY = web.AppKey("runtime", Runtime)


# Python mode: the JSON encoder of `json_response` writes the times (as every service does).
def schedule_body(schedule: Schedule) -> dict[str, Any]:
    return ScheduleOut.of(schedule).model_dump()


def run_body(run: RunRecord) -> dict[str, Any]:
    return RunOut.of(run).model_dump()


async def _handlers(request: web.Request) -> SchedulerHandlers:
    await require_admin(request)
    return request.app[RUNTIME_KEY].handlers


async def _admin(request: web.Request) -> tuple[SchedulerHandlers, str]:
    """The handlers, and who asks as a schedule shows it (`user:<id>`)."""
    principal: Principal = await require_admin(request)
    return request.app[RUNTIME_KEY].handlers, f"user:{principal.user_id}"


def _base_url(request: web.Request) -> str:
    return request.app[RUNTIME_KEY].settings.public_base_url


async def list_schedules(request: web.Request) -> web.Response:
    handlers = await _handlers(request)
    params = parse_query(request, PageParams)
    count, items = await handlers.repo.page(params.offset, params.page_size)
    base = _base_url(request)
    return json_response(page_body(base, request.rel_url, params, count,
                                   [schedule_body(s) for s in items]))


async def create_schedule(request: web.Request) -> web.Response:
    handlers, by = await _admin(request)
    schedule = await handlers.create_schedule(await parse_body(request, ScheduleSpec), by)
    return json_response(schedule_body(schedule), status=201,
                         headers={"Location": f"{PREFIX}/schedules/{schedule.id}"})


async def read_schedule(request: web.Request) -> web.Response:
    handlers = await _handlers(request)
    schedule = await handlers.get_schedule(request.match_info["id"])
    return json_response(schedule_body(schedule))


async def update_schedule(request: web.Request) -> web.Response:
    handlers, by = await _admin(request)
    patch = await parse_body(request, SchedulePatch)
    return json_response(schedule_body(
        await handlers.update_schedule(request.match_info["id"], patch, by)
    ))


async def delete_schedule(request: web.Request) -> web.Response:
    handlers = await _handlers(request)
    await handlers.delete_schedule(request.match_info["id"])
    return web.Response(status=204)


async def pause_schedule(request: web.Request) -> web.Response:
    handlers, by = await _admin(request)
    # The body is optional: `{"note": "why"}`.
    body = await parse_body(request, PauseRequest) if request.body_exists else PauseRequest()
    return json_response(schedule_body(
        await handlers.pause(request.match_info["id"], body.note, by)
    ))


async def resume_schedule(request: web.Request) -> web.Response:
    handlers = await _handlers(request)
    return json_response(schedule_body(await handlers.resume(request.match_info["id"])))


async def trigger_schedule(request: web.Request) -> web.Response:
    handlers = await _handlers(request)
    run = await handlers.trigger_now(request.match_info["id"])
    return json_response(run_body(run), status=202)


async def backfill_schedule(request: web.Request) -> web.Response:
    handlers = await _handlers(request)
    body = await parse_body(request, BackfillRequest)
    runs = await handlers.backfill(request.match_info["id"], body)
    return json_response(BackfillOut.of(request.match_info["id"], body, runs).model_dump())


async def list_runs(request: web.Request) -> web.Response:
    handlers = await _handlers(request)
    params = parse_query(request, PageParams)
    schedule = await handlers.get_schedule(request.match_info["id"])
    count, runs = await handlers.repo.runs(schedule.id, params.offset, params.page_size)
    base = _base_url(request)
    return json_response(page_body(base, request.rel_url, params, count,
                                   [run_body(r) for r in runs]))


async def create_delay(request: web.Request) -> web.Response:
    handlers = await _handlers(request)
    delay = await handlers.request_delay(await parse_body(request, DelayRequest))
    created: DelayCreated = {"id": delay.id, "due_at": delay.due_at}
    return json_response(created, status=201,
                         headers={"Location": f"{PREFIX}/delays/{delay.id}"})


def _delay_id(request: web.Request) -> str:
    delay_id = request.match_info["id"]
    if len(delay_id) > 40:  # no such id was ever handed out
        raise DelayNotFound()
    return delay_id


async def read_delay(request: web.Request) -> web.Response:
    handlers = await _handlers(request)
    delay = await handlers.delays.get(_delay_id(request))
    if delay is None:
        raise DelayNotFound()
    return json_response(delay)


async def cancel_delay(request: web.Request) -> web.Response:
    handlers = await _handlers(request)
    if not await handlers.cancel_delay(DelayCancel(id=_delay_id(request))):
        raise DelayNotFound()
    return web.Response(status=204)


async def openapi(request: web.Request) -> web.Response:
    return json_response(document(request.app[RUNTIME_KEY].settings.scheduler_target_streams))


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/openapi.json", openapi)
    r.add_get(f"{PREFIX}/schedules", list_schedules)
    r.add_post(f"{PREFIX}/schedules", create_schedule)
    r.add_get(f"{PREFIX}/schedules/{{id}}", read_schedule)
    r.add_patch(f"{PREFIX}/schedules/{{id}}", update_schedule)
    r.add_delete(f"{PREFIX}/schedules/{{id}}", delete_schedule)
    r.add_post(f"{PREFIX}/schedules/{{id}}/pause", pause_schedule)
    r.add_post(f"{PREFIX}/schedules/{{id}}/resume", resume_schedule)
    r.add_post(f"{PREFIX}/schedules/{{id}}/trigger", trigger_schedule)
    r.add_post(f"{PREFIX}/schedules/{{id}}/backfill", backfill_schedule)
    r.add_get(f"{PREFIX}/schedules/{{id}}/runs", list_runs)
    r.add_post(f"{PREFIX}/delays", create_delay)
    r.add_get(f"{PREFIX}/delays/{{id}}", read_delay)
    r.add_delete(f"{PREFIX}/delays/{{id}}", cancel_delay)
