"""Next fire times, pause notes, runs left and backfill through the HTTP API, on a real server,
real Redis and real databases (SQLite, and PostgreSQL where TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from services.scheduler.bootstrap import bootstrap
from services.scheduler.domain.schedules import ScheduleSpec, run_event_id
from services.scheduler.settings import Settings
from shared.events import Envelope
from tests.scheduler.conftest import BASE, events
from tests.scheduler.test_api import EVENT, problem
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def create(client: Any, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(f"{BASE}/schedules", headers=admin, json={"event": EVENT,
                                                                           **body})
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def test_next_runs_in_the_zone_runs_left_and_a_pause_note(
    client: Any, admin: dict[str, str]
) -> None:
    body = await create(client, admin, id="weekly", runs_left=3, trigger={
        "type": "cron", "expr": "0 8 * * 1", "timezone": "Asia/Shanghai"})
    assert (body["runs_left"], body["state"], body["pause"]) == (3, "active", None)
    shown = [datetime.fromisoformat(t) for t in body["next_runs"]]
    assert len(shown) == 3  # no more than the runs left
    assert all(t.utcoffset() == timedelta(hours=8) and (t.weekday(), t.hour) == (0, 8)
               for t in shown)
    assert shown[0] == datetime.fromisoformat(body["next_run_at"])

    url = f"{BASE}/schedules/weekly"
    paused = await client.post(f"{url}/pause", headers=admin,
                               json={"note": "exams week: no reminders"})
    assert paused.status == 200, await paused.text()
    shown_paused = await (await client.get(url, headers=admin)).json()
    assert shown_paused["state"] == "paused" and shown_paused["next_runs"] == []
    assert shown_paused["pause"]["note"] == "exams week: no reminders"
    assert shown_paused["pause"]["by"] == "user:1" and shown_paused["pause"]["at"]
    for bad in ({"note": ""}, {"note": "x" * 501}, {"why": "no"}, {"note": None}):
        await problem(await client.post(f"{url}/pause", headers=admin, json=bad), 422)
    unchanged = await (await client.get(url, headers=admin)).json()
    assert unchanged == shown_paused
    resumed = await (await client.post(f"{url}/resume", headers=admin)).json()
    assert resumed["pause"] is None and resumed["state"] == "active"
    quiet = await client.post(f"{url}/pause", headers=admin)  # no body: a pause without note
    assert (await quiet.json())["pause"]["note"] is None

    lifted = await client.patch(url, headers=admin, json={"runs_left": None})
    assert (await lifted.json())["runs_left"] is None
    await problem(await client.patch(url, headers=admin, json={"runs_left": -1}), 422)
    await problem(await client.post(f"{BASE}/schedules", headers=admin, json={
        "id": "neg", "event": EVENT, "runs_left": -1,
        "trigger": {"type": "interval", "every_s": 60}}), 422)


async def test_runs_left_stops_the_schedule_at_zero(
    client: Any, admin: dict[str, str], redis: Redis
) -> None:
    await create(client, admin, id="thrice", runs_left=3,
                 trigger={"type": "interval", "every_s": 0.2})

    async def exhausted() -> bool:
        shown = await (await client.get(f"{BASE}/schedules/thrice", headers=admin)).json()
        return bool(shown["state"] == "exhausted")

    await eventually(exhausted)
    await asyncio.sleep(0.6)  # three more periods: nothing more fires
    shown = await (await client.get(f"{BASE}/schedules/thrice", headers=admin)).json()
    assert (shown["runs_left"], shown["next_run_at"], shown["next_runs"]) == (0, None, [])
    assert len(await events(redis, "test.out")) == 3


async def test_a_fire_whose_bookkeeping_was_lost_is_counted_once(
    settings: Settings, redis: Redis
) -> None:
    """A leader published a run and died before recording it (simulated: the publish alone,
    through the real fenced script); the next round finds it due, publishes nothing, and
    counts it once."""
    async with bootstrap(settings) as runtime:
        spec = ScheduleSpec.model_validate({
            "id": "twice", "runs_left": 2, "event": EVENT,
            "trigger": {"type": "interval", "every_s": 0.3}})
        schedule = await runtime.handlers.create_schedule(spec)
        assert schedule.next_nominal_at is not None and schedule.next_fire_at is not None
        await asyncio.sleep((schedule.next_fire_at - datetime.now(UTC)).total_seconds() + 0.05)
        lease = await runtime.lease.acquire()
        assert lease is not None
        event_id = run_event_id("twice", schedule.next_nominal_at)
        assert await runtime.handlers.runs.publish(lease, [("test.out", Envelope(
            id=event_id, type=EVENT["type"], producer="scheduler", data=EVENT["data"],
        ))]) == ["published"]
        await runtime.handlers.fire_due(lease, 0.5)  # the next leader's round
        after = await runtime.handlers.get_schedule("twice")
        assert after.runs_left == 1
        assert [e.id for _, e in await events(redis, "test.out")] == [event_id]
        _, runs = await runtime.repo.runs("twice", 0, 10)
        assert [(r.event_id, r.outcome) for r in runs] == [(event_id, "fired")]


async def test_backfill_publishes_each_run_of_the_window_once(
    client: Any, admin: dict[str, str], redis: Redis
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=20)
    await create(client, admin, id="each-second", trigger={
        "type": "interval", "every_s": 1, "start_at": iso(start)})
    await asyncio.sleep(2.2)  # the schedule fires a few runs itself meanwhile
    url = f"{BASE}/schedules/each-second/backfill"
    response = await client.post(url, headers=admin, json={
        "start": iso(start), "end": iso(datetime.now(UTC))})
    assert response.status == 200, await response.text()
    first = await response.json()
    nominal = [datetime.fromisoformat(r["nominal_at"]) for r in first["runs"]]
    assert nominal[0] == start and nominal == sorted(nominal) and first["count"] == len(nominal)
    assert 20 <= first["published"] < first["count"]  # the runs fired already are skipped
    assert [r["event_id"] for r in first["runs"]] == [
        run_event_id("each-second", at) for at in nominal]

    again = await (await client.post(url, headers=admin, json={
        "start": iso(start), "end": first["runs"][-1]["nominal_at"]})).json()
    assert again["count"] == first["count"] and again["published"] == 0
    published = Counter(e.id for _, e in await events(redis, "test.out"))
    assert max(published.values()) == 1
    assert {r["event_id"] for r in first["runs"]} <= published.keys()
    history = await (await client.get(f"{BASE}/schedules/each-second/runs?page_size=100",
                                      headers=admin)).json()
    outcomes = Counter(r["outcome"] for r in history["results"])
    assert outcomes["backfilled"] == first["published"] and outcomes["fired"] >= 1


async def test_a_backfill_out_of_bounds_is_a_422_and_publishes_nothing(
    client: Any, admin: dict[str, str], redis: Redis
) -> None:
    now = datetime.now(UTC)
    await create(client, admin, id="minutely", trigger={"type": "cron", "expr": "* * * * *"})
    url = f"{BASE}/schedules/minutely/backfill"
    for bad in (
        {"start": iso(now - timedelta(hours=1)), "end": iso(now + timedelta(minutes=5))},
        {"start": iso(now - timedelta(hours=1)), "end": iso(now - timedelta(hours=2))},
        {"start": iso(now - timedelta(days=1)), "end": iso(now)},  # 1440 runs > 1000
        {"start": "2026-01-01T00:00:00", "end": iso(now)},  # no offset
        {"start": "0001-01-01T00:00:00+05:00", "end": iso(now)},  # before 1970
        {"start": iso(now - timedelta(hours=1))},
        {"start": iso(now - timedelta(hours=1)), "end": iso(now), "policy": "all"},
    ):
        found = await problem(await client.post(url, headers=admin, json=bad), 422)
        assert found["errors"], found
    await problem(await client.post(f"{BASE}/schedules/nope/backfill", headers=admin, json={
        "start": iso(now - timedelta(hours=1)), "end": iso(now)}), 404)
    assert await events(redis, "test.out") == []
    history = await (await client.get(f"{BASE}/schedules/minutely/runs", headers=admin)).json()
    assert history["count"] == 0


async def test_the_document_describes_the_answers(client: Any) -> None:
    document = await (await client.get(f"{BASE}/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert {"ScheduleOut", "BackfillRequest", "BackfillOut", "PauseRequest"} <= schemas.keys()
    assert {"runs_left", "state", "pause", "next_runs"} <= schemas["ScheduleOut"][
        "properties"].keys()
    pause = document["paths"][f"{BASE}/schedules/{{id}}/pause"]["post"]
    assert pause["requestBody"]["required"] is False
    backfill = document["paths"][f"{BASE}/schedules/{{id}}/backfill"]["post"]
    assert "422" in backfill["responses"]
