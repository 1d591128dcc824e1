"""The HTTP API on a real server, real Redis and a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.scheduler.conftest import BASE, events
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

CRON = {"type": "cron", "expr": "0 8 * * 1", "timezone": "Asia/Shanghai"}
EVENT = {"stream": "test.out", "type": "thing.happened", "data": {"n": 1}}


async def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    return body


async def test_crud_pause_resume(client: Any, admin: dict[str, str]) -> None:
    created = await client.post(f"{BASE}/schedules", headers=admin,
                                json={"id": "weekly", "trigger": CRON, "event": EVENT})
    assert created.status == 201, await created.text()
    body = await created.json()
    next_run = datetime.fromisoformat(body["next_run_at"])
    # Monday 08:00 in Shanghai is Monday 00:00 UTC.
    assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 0, 0)
    assert body["enabled"] is True and body["builtin"] is False

    listing = await (await client.get(f"{BASE}/schedules", headers=admin)).json()
    ids = [s["id"] for s in listing["results"]]
    assert "weekly" in ids and "banners.rebuild-cache" in ids and "orders.sweep-expired" in ids

    patched = await client.patch(f"{BASE}/schedules/weekly", headers=admin,
                                 json={"trigger": {"type": "interval", "every_s": 3600}})
    assert patched.status == 200
    assert (await patched.json())["trigger"]["every_s"] == 3600

    paused = await (await client.post(f"{BASE}/schedules/weekly/pause", headers=admin)).json()
    assert paused["enabled"] is False and paused["next_run_at"] is None
    resumed = await (await client.post(f"{BASE}/schedules/weekly/resume", headers=admin)).json()
    assert resumed["enabled"] is True and resumed["next_run_at"] is not None

    moved = await client.patch(f"{BASE}/schedules/weekly", headers=admin,
                               json={"event": {**EVENT, "stream": "no.such.stream"}})
    await problem(moved, 422)
    assert (await client.delete(f"{BASE}/schedules/weekly", headers=admin)).status == 204
    await problem(await client.get(f"{BASE}/schedules/weekly", headers=admin), 404)
    await problem(await client.delete(f"{BASE}/schedules/banners.rebuild-cache",
                                      headers=admin), 409)


@pytest.mark.parametrize("body, where", [
    ({"trigger": {"type": "cron", "expr": "61 * * * *"}, "event": EVENT}, "trigger"),
    ({"trigger": {"type": "cron", "expr": "0 0 * * * *"}, "event": EVENT}, "trigger"),
    ({"trigger": {"type": "cron", "expr": "0 8 * * *", "timezone": "Mars/Olympus"},
      "event": EVENT}, "trigger"),
    ({"trigger": {"type": "date", "at": "2001-01-01T00:00:00+08:00"}, "event": EVENT},
     "trigger"),
    ({"trigger": {"type": "interval", "every_s": 60},
      "event": {**EVENT, "stream": "no.such.stream"}}, "event"),
    ({"trigger": {"type": "interval", "every_s": 0}, "event": EVENT}, "trigger"),
])
async def test_invalid_schedules_are_422_and_store_nothing(
    client: Any, admin: dict[str, str], body: dict[str, Any], where: str
) -> None:
    response = await client.post(f"{BASE}/schedules", headers=admin, json={"id": "bad", **body})
    found = await problem(response, 422)
    assert any(error["loc"][1] == where for error in found["errors"]), found
    await problem(await client.get(f"{BASE}/schedules/bad", headers=admin), 404)


async def test_admin_only(client: Any, tokens: Any) -> None:
    await problem(await client.get(f"{BASE}/schedules"), 401)
    await problem(await client.get(f"{BASE}/schedules", headers=tokens.headers(1, "user")), 403)


async def test_interval_fires_and_history_shows_lateness(
    client: Any, admin: dict[str, str], redis: Redis
) -> None:
    await client.post(f"{BASE}/schedules", headers=admin, json={
        "id": "fast", "trigger": {"type": "interval", "every_s": 0.5}, "event": EVENT})

    async def fired_runs() -> list[dict[str, Any]]:
        runs = await (await client.get(f"{BASE}/schedules/fast/runs", headers=admin)).json()
        return [r for r in runs["results"] if r["outcome"] == "fired"]

    async def fired_three() -> bool:
        # A run is published first and recorded right after: wait for both.
        return len(await events(redis, "test.out")) >= 3 and len(await fired_runs()) >= 3

    await eventually(fired_three)
    fired = await fired_runs()
    published = {envelope.id for _, envelope in await events(redis, "test.out")}
    for run in fired:
        assert run["event_id"] in published
        assert run["lateness_ms"] >= 0
        assert datetime.fromisoformat(run["fired_at"]) >= datetime.fromisoformat(
            run["nominal_at"])
    _, first = (await events(redis, "test.out"))[0]
    assert first.type == "thing.happened" and first.data == {"n": 1}
    metrics = await (await client.get("/metrics")).text()
    assert "scheduler_leader 1.0" in metrics
    assert 'scheduler_fires_total{outcome="fired",schedule="fast"}' in metrics
    assert 'scheduler_fire_lateness_seconds_count{kind="schedule"}' in metrics


async def test_trigger_now_publishes_once_and_is_recorded(
    client: Any, admin: dict[str, str], redis: Redis
) -> None:
    await client.post(f"{BASE}/schedules", headers=admin,
                      json={"id": "weekly", "trigger": CRON, "event": EVENT})
    response = await client.post(f"{BASE}/schedules/weekly/trigger", headers=admin)
    assert response.status == 202
    run = await response.json()
    [(_, envelope)] = await events(redis, "test.out")
    assert envelope.id == run["event_id"] and run["outcome"] == "triggered"
    history = await (await client.get(f"{BASE}/schedules/weekly/runs", headers=admin)).json()
    assert history["count"] == 1 and history["results"][0]["event_id"] == run["event_id"]


async def test_delay_fires_once_and_key_is_idempotent(
    client: Any, admin: dict[str, str], redis: Redis
) -> None:
    body = {"stream": "test.out", "type": "order.expire", "data": {"order_id": 9},
            "delay_s": 0.3, "key": "order-9"}
    first = await client.post(f"{BASE}/delays", headers=admin, json=body)
    again = await client.post(f"{BASE}/delays", headers=admin, json=body)
    assert first.status == again.status == 201
    delay = await first.json()
    assert (await again.json()) == delay

    async def fired() -> bool:
        return len(await events(redis, "test.out")) == 1

    await eventually(fired)
    [(entry_id, envelope)] = await events(redis, "test.out")
    assert envelope.id == delay["id"] and envelope.data == {"order_id": 9}
    assert int(entry_id.split("-")[0]) >= int(
        datetime.fromisoformat(delay["due_at"]).timestamp() * 1000)
    # The key still names the fired delay: a retry does not schedule a second event.
    assert (await (await client.post(f"{BASE}/delays", headers=admin, json=body)).json()
            )["id"] == delay["id"]
    metrics = await (await client.get("/metrics")).text()
    assert "scheduler_delays_moved_total 1.0" in metrics
    assert "scheduler_pending_delays 0.0" in metrics


async def test_delay_cancel_and_bad_input(
    client: Any, admin: dict[str, str], redis: Redis
) -> None:
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await (await client.post(f"{BASE}/delays", headers=admin, json={
        "stream": "test.out", "type": "x.y", "at": at})).json()
    shown = await (await client.get(f"{BASE}/delays/{created['id']}", headers=admin)).json()
    assert shown["type"] == "x.y" and shown["stream"] == "test.out"
    assert (await client.delete(f"{BASE}/delays/{created['id']}", headers=admin)).status == 204
    await problem(await client.delete(f"{BASE}/delays/{created['id']}", headers=admin), 404)

    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    for bad in (
        {"stream": "test.out", "type": "x.y", "at": past},
        {"stream": "nowhere", "type": "x.y", "delay_s": 1},
        {"stream": "test.out", "type": "x.y"},
        {"stream": "test.out", "type": "x.y", "delay_s": 1, "at": at},
    ):
        await problem(await client.post(f"{BASE}/delays", headers=admin, json=bad), 422)
    assert await redis.zcard("{scheduler:delays}:due") == 0


async def test_openapi_document_lists_every_route(client: Any) -> None:
    document = await (await client.get(f"{BASE}/openapi.json")).json()
    routes = {
        (resource.canonical, route.method.lower())
        for resource in client.app.router.resources()
        for route in resource if resource.canonical.startswith(BASE) and route.method != "HEAD"
        and not resource.canonical.endswith("openapi.json")
    }
    documented = {(path, method) for path, item in document["paths"].items()
                  for method in item if method != "parameters"}
    assert routes == documented
    assert "ScheduleSpec" in document["components"]["schemas"]
