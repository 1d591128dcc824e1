"""The fakes of the unit tier and the real adapters, held to the same tests: the delay store
(in memory, and Redis with its scripts) and the schedule repository (in memory, and SQLite).

The real Redis moves by its own clock, so the delay tests use times well past or well ahead of
now; the fake reads the same wall clock."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from services.scheduler.adapters.delay_store import RedisDelayStore
from services.scheduler.adapters.repository import SqlScheduleRepository
from services.scheduler.domain.errors import ScheduleExists
from services.scheduler.domain.schedules import Advance, EventSpec, Pause, RunRecord, Schedule
from services.scheduler.domain.triggers import IntervalTrigger
from services.scheduler.handlers import utc_now
from services.scheduler.ports import DelayStore, ScheduleRepository
from shared.db import make_engine
from shared.events import Envelope, decode_entry
from shared.redis import make_redis
from tests.scheduler.fakes import FakeDelayStore, FakeScheduleRepository, FakeStreams

REAL = pytest.mark.integration


@dataclass
class Delays:
    store: DelayStore
    written: Callable[[str], Awaitable[list[Envelope]]]  # what landed in a stream


@pytest.fixture(params=["fake", pytest.param("redis", marks=REAL)])
async def delays(request: pytest.FixtureRequest) -> AsyncIterator[Delays]:
    if request.param == "fake":
        streams = FakeStreams()

        async def in_memory(stream: str) -> list[Envelope]:
            return list(streams.entries[stream])

        yield Delays(FakeDelayStore(streams, utc_now), in_memory)
        return
    redis = make_redis(request.getfixturevalue("embedded_redis").url)
    await redis.flushdb()

    async def in_redis(stream: str) -> list[Envelope]:
        return [decode_entry(fields) for _, fields in await redis.xrange(stream)]

    yield Delays(RedisDelayStore(redis), in_redis)
    await redis.aclose()


def envelope(n: int = 0) -> Envelope:
    return Envelope(type="order.expire", producer="test", data={"n": n})


class TestDelayStore:
    async def test_only_due_delays_move_and_each_once(self, delays: Delays) -> None:
        now = utc_now()
        due, later = envelope(1), envelope(2)
        stored = await delays.store.add("test.out", due, now - timedelta(seconds=5), "")
        await delays.store.add("test.out", later, now + timedelta(hours=1), "")
        assert stored.id == due.id and stored.created
        assert await delays.store.peek() == (int((now - timedelta(seconds=5)).timestamp()
                                                 * 1000), 2)

        moved = await delays.store.move_due(100)
        assert (moved.moved, moved.looked_at) == (1, 1) and moved.lateness_ms[0] >= 5000
        assert (await delays.store.move_due(100)).moved == 0
        [written] = await delays.written("test.out")
        assert (written.id, written.data) == (due.id, {"n": 1})
        assert await delays.store.get(due.id) is None
        pending = await delays.store.get(later.id)
        assert pending is not None and pending["stream"] == "test.out"
        assert (pending["type"], pending["data"], pending["key"]) == ("order.expire", {"n": 2},
                                                                      None)
        assert (await delays.store.peek())[1] == 1

    async def test_a_batch_moves_at_most_its_size_earliest_first(self, delays: Delays) -> None:
        now = utc_now()
        for n in (3, 1, 2):
            await delays.store.add("test.out", envelope(n), now - timedelta(seconds=n), "")
        first = await delays.store.move_due(2)
        assert (first.moved, first.looked_at) == (2, 2)
        assert (await delays.store.move_due(2)).moved == 1
        assert [e.data["n"] for e in await delays.written("test.out")] == [3, 2, 1]

    async def test_a_key_names_one_delay_until_after_it_fired(self, delays: Delays) -> None:
        now = utc_now()
        first = await delays.store.add("test.out", envelope(1), now - timedelta(seconds=1), "k")
        again = await delays.store.add("test.out", envelope(2), now + timedelta(hours=1), "k")
        assert (again.id, again.due_at, again.created) == (first.id, first.due_at, False)
        pending = await delays.store.get(first.id)
        assert pending is not None and pending["key"] == "k"
        await delays.store.move_due(100)
        after = await delays.store.add("test.out", envelope(3), now + timedelta(hours=1), "k")
        assert (after.id, after.created) == (first.id, False)
        assert len(await delays.written("test.out")) == 1

    async def test_cancel_by_id_or_key_only_while_pending(self, delays: Delays) -> None:
        later = utc_now() + timedelta(hours=1)
        by_id = await delays.store.add("test.out", envelope(1), later, "")
        by_key = await delays.store.add("test.out", envelope(2), later, "k")
        assert await delays.store.cancel(delay_id=by_id.id)
        assert not await delays.store.cancel(delay_id=by_id.id)
        assert await delays.store.cancel(key="k")
        assert not await delays.store.cancel(key="k")
        assert not await delays.store.cancel(delay_id="nope")
        assert await delays.store.get(by_key.id) is None
        assert await delays.store.peek() == (None, 0)
        # The key is free again once its delay was cancelled.
        assert (await delays.store.add("test.out", envelope(3), later, "k")).created


SQL = ["sqlite", *(["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])]


@pytest.fixture(params=["fake", *(pytest.param(backend, marks=REAL) for backend in SQL)])
async def repo(request: pytest.FixtureRequest) -> AsyncIterator[ScheduleRepository]:
    if request.param == "fake":
        yield FakeScheduleRepository()
        return
    url = await request.getfixturevalue("database_factory").new("scheduler", request.param)
    engine = make_engine(url)
    yield SqlScheduleRepository(engine)
    await engine.dispose()


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def schedule(schedule_id: str = "s", every_s: float = 60, **fields: object) -> Schedule:
    base = Schedule(
        id=schedule_id, trigger=IntervalTrigger(every_s=every_s),
        event=EventSpec(stream="test.out", type="job.run", data={"n": 1}), misfire_grace_s=60,
        jitter_s=0, coalesce=True, enabled=True, created_at=T0, updated_at=T0,
    )
    return replace(base, **fields).rescheduled(T0)  # type: ignore[arg-type]


class TestScheduleRepository:
    async def test_add_get_page_and_a_taken_id(self, repo: ScheduleRepository) -> None:
        await repo.add(schedule("b"))
        await repo.add(schedule("a"))
        with pytest.raises(ScheduleExists):
            await repo.add(schedule("a"))
        assert await repo.get("a") == schedule("a")
        assert await repo.get("nope") is None
        count, items = await repo.page(1, 10)
        assert count == 2 and [s.id for s in items] == ["b"]

    async def test_due_and_earliest_only_enabled_earliest_first(
        self, repo: ScheduleRepository
    ) -> None:
        await repo.add(schedule("late", every_s=120))
        await repo.add(schedule("soon", every_s=60))
        await repo.add(schedule("off", every_s=30, enabled=False))
        assert await repo.earliest_fire_at() == T0 + timedelta(seconds=60)
        assert [s.id for s in await repo.due(T0 + timedelta(seconds=59))] == []
        assert [s.id for s in await repo.due(T0 + timedelta(seconds=120))] == ["soon", "late"]

    async def test_advance_is_refused_after_a_change_but_keeps_the_runs(
        self, repo: ScheduleRepository
    ) -> None:
        planned = schedule()
        await repo.add(planned)
        saved = await repo.save(replace(planned, jitter_s=1))  # an API edit meanwhile
        assert saved.revision == planned.revision + 1
        nominal = T0 + timedelta(seconds=60)
        run = RunRecord(nominal, nominal, "e1", 0, "fired")
        later = nominal + timedelta(seconds=60)

        async def next_nominal() -> datetime | None:
            current = await repo.get("s")
            assert current is not None
            return current.next_nominal_at

        await repo.advance([Advance(planned, [run], later, later)])
        assert await next_nominal() == saved.next_nominal_at  # refused
        assert (await repo.runs("s", 0, 10)) == (1, [run])
        other = schedule("other")
        await repo.add(other)
        # In one call, each advance is judged on its own.
        await repo.advance([Advance(saved, [run], later, later),
                            Advance(other, [], later, later)])
        assert await next_nominal() == later
        moved = await repo.get("other")
        assert moved is not None and moved.next_nominal_at == later
        await repo.advance([Advance(saved, [], later + timedelta(seconds=60), None)])
        assert await next_nominal() == later  # moved on already: refused

    async def test_a_recorded_run_is_kept_and_runs_come_newest_first(
        self, repo: ScheduleRepository
    ) -> None:
        await repo.add(schedule())
        first = RunRecord(T0, T0, "e1", 5, "fired")
        await repo.record_runs("s", [first, RunRecord(T0 + timedelta(seconds=60), None, None,
                                                      None, "missed")])
        await repo.record_runs("s", [RunRecord(T0, T0, "e2", 9, "fired")])
        count, runs = await repo.runs("s", 0, 10)
        assert count == 2 and [r.outcome for r in runs] == ["missed", "fired"]
        assert runs[1] == first
        assert await repo.delete("s") and not await repo.delete("s")
        assert await repo.runs("s", 0, 10) == (0, [])

    async def test_runs_left_goes_down_once_per_fire_recorded(
        self, repo: ScheduleRepository
    ) -> None:
        planned = schedule(runs_left=3)
        await repo.add(planned)
        n1, n2 = T0 + timedelta(seconds=60), T0 + timedelta(seconds=120)
        fired, missed = RunRecord(n1, n1, "e1", 0, "fired"), RunRecord(n2, None, None, None,
                                                                         "missed")
        await repo.add(schedule("two", runs_left=5))
        await repo.add(schedule("free"))
        # One round: each schedule counts its own fired runs, a missed one is not a fire.
        await repo.advance([
            Advance(planned, [fired, missed], n2, n2),
            Advance(schedule("two", runs_left=5), [fired, replace(fired, nominal_at=n2)],
                    n2, n2),
            Advance(schedule("free"), [fired], n2, n2),
        ])

        async def runs_left(schedule_id: str = "s") -> int | None:
            current = await repo.get(schedule_id)
            assert current is not None
            return current.runs_left

        assert (await runs_left(), await runs_left("two"), await runs_left("free")) == (2, 3, None)
        assert await repo.delete("two") and await repo.delete("free")
        # The same run recorded again (a deposed leader, or a takeover after a crash between
        # fire and bookkeeping), a trigger, and a copy saved from before the fire.
        await repo.advance([Advance(planned, [fired], n2, n2)])
        await repo.record_runs("s", [RunRecord(T0, T0, "t1", 0, "triggered")])
        await repo.save(planned)
        again = await repo.get("s")
        assert again is not None and again.runs_left == 2
        await repo.save(replace(planned, runs_left=0), runs_left=True)  # an API change of it
        exhausted = await repo.get("s")
        assert exhausted is not None and exhausted.runs_left == 0
        assert await repo.due(T0 + timedelta(days=1)) == []
        assert await repo.earliest_fire_at() is None

    async def test_pause_and_runs_left_are_kept(self, repo: ScheduleRepository) -> None:
        paused = schedule(enabled=False, runs_left=7, pause=Pause(T0, "user:1", "maintenance"))
        await repo.add(paused)
        assert await repo.get("s") == paused

    async def test_a_backfill_records_over_unfired_runs_only(
        self, repo: ScheduleRepository
    ) -> None:
        await repo.add(schedule())
        n1, n2, n3 = (T0 + timedelta(seconds=60 * i) for i in (1, 2, 3))
        await repo.record_runs("s", [RunRecord(n1, n1, "e1", 0, "fired"),
                                     RunRecord(n2, None, None, None, "coalesced")])
        assert await repo.fired_runs("s", T0, n3) == {n1: "e1"}
        await repo.record_backfill("s", [RunRecord(n, T0, f"b{i}", None, "backfilled")
                                         for i, n in enumerate((n1, n2, n3))])
        assert await repo.fired_runs("s", T0, n3) == {n1: "e1", n2: "b1", n3: "b2"}
        assert await repo.fired_runs("s", n2, n2) == {n2: "b1"}
        _, runs = await repo.runs("s", 0, 10)
        assert [r.outcome for r in runs] == ["backfilled", "backfilled", "fired"]
