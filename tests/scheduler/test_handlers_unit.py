"""The scheduler's fire and delay handling on in-memory fakes and a fake clock: no Redis, no
database. The real adapters are held to the fakes' behaviour in test_port_contracts.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.scheduler.domain.delays import DelayCancel, DelayRequest
from services.scheduler.domain.errors import (
    BuiltinSchedule,
    InvalidSchedule,
    LostLease,
    ScheduleExists,
    ScheduleNotFound,
)
from services.scheduler.domain.schedules import (
    RunRecord,
    SchedulePatch,
    ScheduleSpec,
    run_event_id,
)
from services.scheduler.entrypoints.problems import PROBLEMS
from shared.errors import DomainError
from shared.problems import from_domain_error
from tests.scheduler.fakes import FakeClock, Fakes

T0 = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def fakes() -> Fakes:
    return Fakes(FakeClock(T0))


def spec(trigger: dict[str, Any], **fields: Any) -> ScheduleSpec:
    return ScheduleSpec.model_validate({
        "id": "s", "trigger": trigger, "event": {"stream": "test.out", "type": "job.run",
                                                  "data": {"n": 1}}, **fields,
    })


def every(seconds: float) -> dict[str, Any]:
    return {"type": "interval", "every_s": seconds}


async def lead(fakes: Fakes) -> str:
    """The lease of replica `a`, taken now (a jump of the clock outlasts any lease)."""
    lease = await fakes.lease("a").acquire()
    assert lease is not None
    return lease


async def fired(fakes: Fakes, schedule_id: str = "s") -> list[RunRecord]:
    return (await fakes.repo.runs(schedule_id, 0, 100))[1]


async def test_a_due_schedule_fires_once(fakes: Fakes) -> None:
    schedule = await fakes.handlers.create_schedule(spec(every(60)))
    assert fakes.handlers.wake_runner.is_set()
    assert schedule.next_nominal_at == T0 + timedelta(seconds=60)

    fakes.clock.advance(59)
    await fakes.handlers.fire_due(await lead(fakes), 0.5)
    assert fakes.streams.entries["test.out"] == []

    fakes.clock.advance(1.25)
    await fakes.handlers.fire_due(await lead(fakes), 0.5)
    await fakes.handlers.fire_due(await lead(fakes), 0.5)  # the next round: nothing due
    [event] = fakes.streams.entries["test.out"]
    nominal = T0 + timedelta(seconds=60)
    assert (event.id, event.type, event.data) == (run_event_id("s", nominal), "job.run", {"n": 1})
    assert [(r.nominal_at, r.outcome, r.lateness_ms) for r in await fired(fakes)] == [
        (nominal, "fired", 250)]
    moved_on = await fakes.repo.get("s")
    assert moved_on is not None and moved_on.next_nominal_at == nominal + timedelta(seconds=60)
    assert fakes.metric("scheduler_fires_total", schedule="s", outcome="fired") == 1


async def test_the_wait_is_until_the_next_fire_at_most_a_tick(fakes: Fakes) -> None:
    assert await fakes.handlers.fire_due(await lead(fakes), 0.5) == 0.5  # no schedule
    await fakes.handlers.create_schedule(spec(every(60)))
    assert await fakes.handlers.fire_due(await lead(fakes), 0.5) == 0.5
    fakes.clock.advance(59.8)
    assert await fakes.handlers.fire_due(await lead(fakes), 0.5) == pytest.approx(0.2)


async def test_a_run_a_dead_leader_published_is_recorded_not_published_again(
    fakes: Fakes,
) -> None:
    await fakes.handlers.create_schedule(spec(every(60)))
    fakes.clock.advance(60)
    first = await fakes.lease("a").acquire()
    assert first is not None
    await fakes.handlers.fire_due(first, 0.5)
    # Leader a died before recording: its run is still due for the next leader.
    fakes.repo.history.clear()
    schedule = await fakes.repo.get("s")
    assert schedule is not None
    fakes.repo.schedules["s"] = schedule.rescheduled(T0)
    fakes.clock.advance(5)  # a's lease (3 s) has lapsed
    second = await fakes.lease("b").acquire()
    assert second is not None
    await fakes.handlers.fire_due(second, 0.5)
    assert len(fakes.streams.entries["test.out"]) == 1
    assert [r.outcome for r in await fired(fakes)] == ["fired"]
    assert fakes.metric("scheduler_fires_total", schedule="s", outcome="duplicate") == 1


async def test_a_deposed_leader_is_fenced_and_does_not_move_the_schedule(fakes: Fakes) -> None:
    await fakes.handlers.create_schedule(spec(every(60)))
    old = await fakes.lease("a").acquire()
    fakes.clock.advance(60)  # a stopped renewing; b took over
    assert old is not None and await fakes.lease("b").acquire() is not None
    with pytest.raises(LostLease):
        await fakes.handlers.fire_due(old, 0.5)
    assert fakes.streams.entries["test.out"] == []
    schedule = await fakes.repo.get("s")
    assert schedule is not None and schedule.next_nominal_at == T0 + timedelta(seconds=60)


async def test_runs_past_the_grace_are_missed_without_coalesce(fakes: Fakes) -> None:
    await fakes.handlers.create_schedule(spec(every(60), coalesce=False, misfire_grace_s=30))
    fakes.clock.advance(60 * 4 + 10)  # down for four periods
    await fakes.handlers.fire_due(await lead(fakes), 0.5)
    assert [r.outcome for r in reversed(await fired(fakes))] == ["missed"] * 3 + ["fired"]
    assert len(fakes.streams.entries["test.out"]) == 1


async def test_a_cron_fires_at_its_local_time_across_a_dst_change(fakes: Fakes) -> None:
    # 09:00 in New York: 14:00 UTC before 8 March 2026, 13:00 UTC from then on.
    await fakes.handlers.create_schedule(spec(
        {"type": "cron", "expr": "0 9 * * *", "timezone": "America/New_York"}))
    for day in (6, 7, 8, 9):
        fakes.clock.now = datetime(2026, 3, day, 15, tzinfo=UTC)
        await fakes.handlers.fire_due(await lead(fakes), 0.5)
    assert [r.nominal_at for r in reversed(await fired(fakes))] == [
        datetime(2026, 3, 6, 14, tzinfo=UTC), datetime(2026, 3, 7, 14, tzinfo=UTC),
        datetime(2026, 3, 8, 13, tzinfo=UTC), datetime(2026, 3, 9, 13, tzinfo=UTC),
    ]


async def test_the_default_zone_is_shanghai(fakes: Fakes) -> None:
    schedule = await fakes.handlers.create_schedule(spec({"type": "cron", "expr": "0 9 * * *"}))
    assert schedule.next_nominal_at == datetime(2026, 3, 7, 1, tzinfo=UTC)


async def test_a_paused_schedule_does_not_fire_and_resumes_without_catching_up(
    fakes: Fakes,
) -> None:
    await fakes.handlers.create_schedule(spec(every(60)))
    paused = await fakes.handlers.pause("s")
    assert paused.next_nominal_at is None and paused.revision == 1
    fakes.clock.advance(150)
    await fakes.handlers.fire_due(await lead(fakes), 0.5)
    resumed = await fakes.handlers.resume("s")
    await fakes.handlers.fire_due(await lead(fakes), 0.5)
    assert fakes.streams.entries["test.out"] == []
    assert resumed.next_nominal_at == T0 + timedelta(seconds=180)


async def test_trigger_now_publishes_and_records_a_triggered_run(fakes: Fakes) -> None:
    await fakes.handlers.create_schedule(spec(every(3600)))
    run = await fakes.handlers.trigger_now("s")
    [event] = fakes.streams.entries["test.out"]
    assert (run.event_id, run.outcome, run.nominal_at) == (event.id, "triggered", T0)
    assert await fired(fakes) == [run]


async def test_refusals_are_domain_errors_answered_as_before(fakes: Fakes) -> None:
    await fakes.handlers.create_schedule(spec(every(60)))
    refusals: list[tuple[DomainError, tuple[int, str, str, str]]] = []
    for call, kind in [
        (fakes.handlers.get_schedule("nope"), ScheduleNotFound),
        (fakes.handlers.create_schedule(spec(every(60))), ScheduleExists),
        (fakes.handlers.create_schedule(spec({"type": "date", "at": "2026-01-01T00:00:00Z"},
                                             id="old")), InvalidSchedule),
        (fakes.handlers.update_schedule("s", SchedulePatch.model_validate(
            {"event": {"stream": "elsewhere", "type": "x"}})), InvalidSchedule),
    ]:
        with pytest.raises(DomainError) as caught:
            await call
        assert type(caught.value) is kind
        problem = from_domain_error(caught.value, PROBLEMS)
        assert problem is not None
        refusals.append((caught.value, (problem.status, problem.slug, problem.title,
                                        problem.detail)))
    assert [answer for _, answer in refusals] == [
        (404, "not-found", "Not Found", "No schedule 'nope'."),
        (409, "already-exists", "Conflict", "Schedule 's' exists."),
        (422, "validation-error", "Invalid request", "trigger.at: the date is in the past"),
        (422, "validation-error", "Invalid request",
         "event.stream: unknown stream 'elsewhere'; one of test.out, notify.sms"),
    ]
    invalid = from_domain_error(refusals[3][0], PROBLEMS)
    assert invalid is not None and invalid.errors == [{
        "loc": ["body", "event", "stream"],
        "msg": "unknown stream 'elsewhere'; one of test.out, notify.sms", "type": "value_error",
    }]


async def test_a_builtin_schedule_is_not_deleted(fakes: Fakes) -> None:
    await fakes.handlers.sync_builtins([spec(every(60), id="b")])
    with pytest.raises(BuiltinSchedule) as caught:
        await fakes.handlers.delete_schedule("b")
    problem = from_domain_error(caught.value, PROBLEMS)
    assert problem is not None and (problem.status, problem.slug, problem.title) == (
        409, "builtin", "Conflict")
    assert problem.detail == ("A built-in schedule comes back at the next start; "
                              "pause it instead.")
    await fakes.handlers.create_schedule(spec(every(60)))
    await fakes.handlers.delete_schedule("s")
    assert await fakes.repo.get("s") is None


async def test_builtins_are_rewritten_only_when_the_file_changed_and_keep_a_pause(
    fakes: Fakes,
) -> None:
    await fakes.handlers.sync_builtins([spec(every(60), id="b")])
    await fakes.handlers.pause("b")
    await fakes.handlers.sync_builtins([spec(every(60), id="b")])  # unchanged: left alone
    unchanged = await fakes.repo.get("b")
    assert unchanged is not None and unchanged.revision == 1 and not unchanged.enabled
    await fakes.handlers.sync_builtins([spec(every(30), id="b")])
    changed = await fakes.repo.get("b")
    assert changed is not None and changed.trigger.model_dump()["every_s"] == 30
    assert not changed.enabled and changed.revision == 2


def delay(**fields: Any) -> DelayRequest:
    return DelayRequest.model_validate({"stream": "test.out", "type": "order.expire",
                                        "data": {"order": 7}, **fields})


async def test_a_delay_moves_when_due_and_once(fakes: Fakes) -> None:
    stored = await fakes.handlers.request_delay(delay(delay_s=30))
    assert stored.created and stored.due_at == T0 + timedelta(seconds=30)
    assert fakes.handlers.wake_mover.is_set()

    fakes.clock.advance(29.9)
    assert await fakes.handlers.move_due_delays(1000, 0.05) == 0.05
    assert await fakes.handlers.move_due_delays(1000, 1.0) == pytest.approx(0.1)
    assert fakes.streams.entries["test.out"] == []

    fakes.clock.advance(0.1)
    await fakes.handlers.move_due_delays(1000, 0.05)
    await fakes.handlers.move_due_delays(1000, 0.05)
    [event] = fakes.streams.entries["test.out"]
    assert (event.id, event.type, event.data) == (stored.id, "order.expire", {"order": 7})
    assert event.occurred_at == stored.due_at
    assert fakes.metric("scheduler_delays_moved_total") == 1
    assert fakes.metric("scheduler_pending_delays") == 0


async def test_a_full_batch_asks_for_the_next_at_once(fakes: Fakes) -> None:
    for _ in range(3):
        await fakes.handlers.request_delay(delay(delay_s=1))
    fakes.clock.advance(1)
    assert await fakes.handlers.move_due_delays(2, 0.05) == 0.0
    assert await fakes.handlers.move_due_delays(2, 0.05) == 0.05
    assert len(fakes.streams.entries["test.out"]) == 3


async def test_a_delay_at_a_time_in_a_zone(fakes: Fakes) -> None:
    stored = await fakes.handlers.request_delay(delay(at="2026-03-06T21:00:00+08:00"))
    assert stored.due_at == T0 + timedelta(hours=1)


async def test_a_past_time_is_refused_from_a_person_and_fires_at_once_from_a_service(
    fakes: Fakes,
) -> None:
    past = (T0 - timedelta(minutes=1)).isoformat()
    with pytest.raises(InvalidSchedule) as caught:
        await fakes.handlers.request_delay(delay(at=past))
    assert caught.value.field == "at" and caught.value.detail == "at: the time is in the past"
    stored = await fakes.handlers.request_delay(delay(at=past), from_event=True, key="event:1")
    assert stored.due_at == T0
    await fakes.handlers.move_due_delays(1000, 0.05)
    assert len(fakes.streams.entries["test.out"]) == 1


async def test_an_unknown_stream_is_refused(fakes: Fakes) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        await fakes.handlers.request_delay(delay(stream="nowhere", delay_s=1))
    assert caught.value.field == "stream"
    assert caught.value.detail == "stream: unknown stream 'nowhere'; one of test.out, notify.sms"


async def test_a_key_makes_a_request_idempotent_and_cancels_it(fakes: Fakes) -> None:
    first = await fakes.handlers.request_delay(delay(delay_s=10, key="order:7"))
    fakes.clock.advance(1)
    again = await fakes.handlers.request_delay(delay(delay_s=10, key="order:7"))
    assert (again.id, again.due_at, again.created) == (first.id, first.due_at, False)
    assert await fakes.handlers.cancel_delay(DelayCancel(key="order:7"))
    assert not await fakes.handlers.cancel_delay(DelayCancel(id=first.id))
    fakes.clock.advance(60)
    await fakes.handlers.move_due_delays(1000, 0.05)
    assert fakes.streams.entries["test.out"] == []
