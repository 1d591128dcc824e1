"""Which nominal runs fire, are missed or coalesce; deterministic ids and jitter."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ulid import ULID

from services.scheduler.domain.schedules import (
    EventSpec,
    Schedule,
    jitter_ms,
    plan_due,
    run_event_id,
)
from services.scheduler.domain.triggers import DateTrigger, IntervalTrigger

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def schedule(every_s: float = 60, **fields: object) -> Schedule:
    base = Schedule(
        id="s", trigger=IntervalTrigger(every_s=every_s),
        event=EventSpec(stream="test.out", type="a.b"), misfire_grace_s=30, jitter_s=0,
        coalesce=False, enabled=True, created_at=T0, updated_at=T0,
    )
    return replace(base, **fields).rescheduled(T0 - timedelta(microseconds=1))  # type: ignore[arg-type]


def test_one_due_run_fires_on_time() -> None:
    s = schedule()
    assert s.next_nominal_at == T0
    plan = plan_due(s, T0 + timedelta(milliseconds=40))
    assert [(r.outcome, r.lateness_ms) for r in plan.runs] == [("fired", 40)]
    assert plan.next_nominal_at == T0 + timedelta(seconds=60)


def test_nothing_is_due_before_its_time() -> None:
    plan = plan_due(schedule(), T0 - timedelta(seconds=1))
    assert plan.runs == [] and plan.next_nominal_at == T0


def test_runs_missed_past_the_grace_are_skipped_without_coalesce() -> None:
    # Down for 3.5 minutes: runs at +0, +60, +120 are past the 30 s grace, +180 is not.
    plan = plan_due(schedule(), T0 + timedelta(seconds=210))
    assert [r.outcome for r in plan.runs] == ["missed", "missed", "missed", "fired"]
    assert plan.next_nominal_at == T0 + timedelta(seconds=240)


def test_coalesce_folds_missed_runs_into_one_fire() -> None:
    plan = plan_due(schedule(coalesce=True), T0 + timedelta(seconds=250))
    assert [r.outcome for r in plan.runs] == ["coalesced"] * 4 + ["fired"]
    assert plan.runs[-1].nominal_at == T0 + timedelta(seconds=240)


def test_a_date_trigger_fires_once_then_has_no_next_run() -> None:
    s = schedule(trigger=DateTrigger(at=T0 + timedelta(seconds=5)))
    plan = plan_due(s, T0 + timedelta(seconds=6))
    assert [r.outcome for r in plan.runs] == ["fired"] and plan.next_nominal_at is None


def test_event_ids_are_deterministic_sortable_ulids() -> None:
    a, b = run_event_id("s", T0), run_event_id("s", T0 + timedelta(seconds=1))
    assert a == run_event_id("s", T0) and a != run_event_id("other", T0)
    assert a < b and ULID.from_str(a).datetime == T0


def test_jitter_is_bounded_and_the_same_on_every_replica() -> None:
    offsets = {jitter_ms("s", T0 + timedelta(minutes=i), 5) for i in range(200)}
    assert min(offsets) >= 0 and max(offsets) <= 5000 and len(offsets) > 100
    s = schedule(jitter_s=5)
    assert s.next_fire_at == T0 + timedelta(milliseconds=jitter_ms("s", T0, 5))
    assert plan_due(s, s.next_fire_at - timedelta(milliseconds=1)).runs == []
    assert [r.outcome for r in plan_due(s, s.next_fire_at).runs] == ["fired"]
