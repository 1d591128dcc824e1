"""Operations beyond firing, on the in-memory fakes and a fake clock: the next fire times in
the schedule's zone, pause notes, runs left (once per fire, across a crash between fire and
bookkeeping) and backfill (once per run, by the normal fires' event ids)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.scheduler.domain.backfill import BackfillRequest
from services.scheduler.domain.errors import InvalidSchedule
from services.scheduler.domain.schedules import SchedulePatch, run_event_id
from services.scheduler.entrypoints.schemas import ScheduleOut
from shared.events import Envelope
from tests.scheduler.fakes import FakeClock, Fakes
from tests.scheduler.test_handlers_unit import T0, every, fired, lead, spec


@pytest.fixture
def fakes() -> Fakes:
    return Fakes(FakeClock(T0))


def window(start: datetime, end: datetime) -> BackfillRequest:
    return BackfillRequest(start=start, end=end)


async def test_the_next_runs_are_shown_in_the_triggers_zone(fakes: Fakes) -> None:
    cron = {"type": "cron", "expr": "30 2 * * *", "timezone": "America/New_York"}
    fakes.clock.now = datetime(2024, 3, 8, 12, tzinfo=UTC)
    schedule = await fakes.handlers.create_schedule(spec(cron))
    shown = ScheduleOut.of(schedule).next_runs
    # 02:30 does not exist on 2024-03-10 (spring forward): that day it runs at 03:00 EDT.
    assert [t.isoformat() for t in shown] == [
        "2024-03-09T02:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00",
        "2024-03-12T02:30:00-04:00", "2024-03-13T02:30:00-04:00"]
    assert shown[0] == schedule.next_run_at
    limited = await fakes.handlers.update_schedule("s", SchedulePatch(runs_left=2))
    assert len(limited.upcoming(10)) == 2
    interval = await fakes.handlers.create_schedule(spec(every(60), id="i"))
    assert [t.utcoffset() for t in interval.upcoming(3)] == [timedelta(0)] * 3
    assert (await fakes.handlers.pause("i")).upcoming() == []


async def test_a_pause_carries_who_when_and_why_until_resumed(fakes: Fakes) -> None:
    await fakes.handlers.create_schedule(spec(every(60)))
    paused = await fakes.handlers.pause("s", "the catalog is being migrated", "user:7")
    assert paused.pause is not None and not paused.enabled and paused.state == "paused"
    assert (paused.pause.at, paused.pause.by, paused.pause.note) == (
        T0, "user:7", "the catalog is being migrated")
    out = ScheduleOut.of(paused)
    assert out.pause is not None and out.pause.note == "the catalog is being migrated"
    resumed = await fakes.handlers.resume("s")
    assert resumed.pause is None and resumed.state == "active"
    by_patch = await fakes.handlers.update_schedule("s", SchedulePatch(enabled=False), "user:8")
    assert by_patch.pause is not None and (by_patch.pause.by, by_patch.pause.note) == (
        "user:8", None)


async def test_runs_left_counts_scheduled_fires_and_stops_at_zero(fakes: Fakes) -> None:
    await fakes.handlers.create_schedule(spec(every(60), runs_left=2))
    await fakes.handlers.trigger_now("s")  # an explicit extra run: not counted
    for _ in range(4):
        fakes.clock.advance(60)
        await fakes.handlers.fire_due(await lead(fakes), 0.5)
    assert len(fakes.streams.entries["test.out"]) == 3  # the trigger and two fires
    done = await fakes.handlers.get_schedule("s")
    assert (done.runs_left, done.state, done.next_run_at, done.upcoming()) == (
        0, "exhausted", None, [])
    # More runs: it fires again from now on.
    again = await fakes.handlers.update_schedule("s", SchedulePatch(runs_left=1))
    assert again.state == "active" and again.next_run_at == fakes.clock.now + timedelta(
        seconds=60)
    fakes.clock.advance(60)
    await fakes.handlers.fire_due(await lead(fakes), 0.5)
    assert len(fakes.streams.entries["test.out"]) == 4
    unlimited = await fakes.handlers.update_schedule("s", SchedulePatch(runs_left=None))
    assert unlimited.runs_left is None and unlimited.state == "active"


async def test_catching_up_fires_no_more_than_the_runs_left(fakes: Fakes) -> None:
    await fakes.handlers.create_schedule(spec(every(10), runs_left=2, coalesce=False,
                                              misfire_grace_s=3600))
    fakes.clock.advance(45)  # four runs due at once
    await fakes.handlers.fire_due(await lead(fakes), 0.5)
    assert [r.outcome for r in await fired(fakes)] == ["fired", "fired"]
    assert (await fakes.handlers.get_schedule("s")).state == "exhausted"


async def test_a_fire_whose_bookkeeping_was_lost_counts_once(fakes: Fakes) -> None:
    """A leader published the run, then died before recording it: the next leader finds it
    due again, its publish is a duplicate, and the run is counted once."""
    await fakes.handlers.create_schedule(spec(every(60), runs_left=2))
    nominal = T0 + timedelta(seconds=60)
    fakes.clock.advance(60)
    dead_leader = await lead(fakes)
    event_id = run_event_id("s", nominal)
    assert await fakes.runs.publish(dead_leader, [("test.out", Envelope(
        id=event_id, type="job.run", producer="scheduler", data={"n": 1}))]) == ["published"]
    fakes.clock.advance(10)  # its lease ran out; another replica leads
    await fakes.handlers.fire_due(await fakes.lease("b").acquire() or "", 0.5)
    assert [e.id for e in fakes.streams.entries["test.out"]] == [event_id]
    after = await fakes.handlers.get_schedule("s")
    assert after.runs_left == 1
    assert fakes.metric("scheduler_fires_total", schedule="s", outcome="duplicate") == 1


async def test_backfill_fires_each_run_of_the_window_once(fakes: Fakes) -> None:
    await fakes.handlers.create_schedule(spec(every(60)))
    fakes.clock.advance(60)
    await fakes.handlers.fire_due(await lead(fakes), 0.5)  # T0+60 fired
    paused_at = fakes.clock.now
    await fakes.handlers.pause("s", "outage")
    fakes.clock.advance(300)  # T0+120 .. T0+360 not fired while paused
    start, end = T0 + timedelta(seconds=60), T0 + timedelta(seconds=240)
    runs = await fakes.handlers.backfill("s", window(start, end))
    assert [(r.nominal_at - T0, r.published) for r in runs] == [
        (timedelta(seconds=s), s != 60) for s in (60, 120, 180, 240)]
    assert [r.event_id for r in runs] == [run_event_id("s", r.nominal_at) for r in runs]
    ids = [e.id for e in fakes.streams.entries["test.out"]]
    assert len(ids) == len(set(ids)) == 4
    # Again, and a window overlapping it: nothing twice.
    assert not any(r.published for r in await fakes.handlers.backfill("s", window(start, end)))
    wider = await fakes.handlers.backfill("s", window(paused_at, T0 + timedelta(seconds=300)))
    assert [r.published for r in wider] == [False] * 4 + [True]
    assert len(fakes.streams.entries["test.out"]) == 5
    outcomes = {r.nominal_at - T0: r.outcome for r in await fired(fakes)}
    assert outcomes[timedelta(seconds=60)] == "fired"
    assert outcomes[timedelta(seconds=300)] == "backfilled"
    assert (await fakes.handlers.get_schedule("s")).state == "paused"  # left as it was


@pytest.mark.parametrize("start, end, field", [
    (T0, T0 + timedelta(hours=2), "end"),  # ends in the future
    (T0 + timedelta(minutes=30), T0 + timedelta(minutes=20), "end"),  # ends before it starts
    (T0 - timedelta(days=1), T0, "end"),  # 1440 runs: past the cap of 1000
    (datetime(1, 1, 1, tzinfo=UTC), T0, "start"),  # before the epoch: no event id for it
])
async def test_a_backfill_out_of_bounds_is_refused_and_fires_nothing(
    fakes: Fakes, start: datetime, end: datetime, field: str
) -> None:
    await fakes.handlers.create_schedule(spec({"type": "cron", "expr": "* * * * *"}))
    fakes.clock.advance(3600)
    with pytest.raises(InvalidSchedule) as refused:
        await fakes.handlers.backfill("s", window(start, end))
    assert refused.value.field == field
    assert fakes.streams.entries["test.out"] == [] and await fired(fakes) == []


async def test_a_backfill_of_exactly_the_cap_is_accepted(fakes: Fakes) -> None:
    fakes.handlers.backfill_max_runs = 5
    await fakes.handlers.create_schedule(spec({"type": "cron", "expr": "* * * * *"}))
    fakes.clock.advance(3600)
    runs = await fakes.handlers.backfill("s", window(T0, T0 + timedelta(minutes=4)))
    assert len(runs) == 5 and all(r.published for r in runs)
    one: Any = await fakes.handlers.backfill("s", window(T0 + timedelta(minutes=9),
                                                        T0 + timedelta(minutes=9)))
    assert [r.nominal_at for r in one] == [T0 + timedelta(minutes=9)]
