"""Benchmark: the scheduler's delayed events and its schedules, each against an embedded Redis
(append-only, fsync every second, as `coursestream up` runs it) on a free port.

    .venv/bin/python -m bench.scheduler [--pending 1000000] [--due 100000] [--window-s 10]
        [--schedules 1000] [--seconds 30] [--replicas 2] [--quick] [--only delays|schedules]

Delays: stores `--pending` delays through the scheduler's own `DelayStore` (its `delay_add`
script, pipelined), `--due` of them due evenly over `--window-s` seconds starting once all are
stored, the rest an hour later, so the movers work against a store of `--pending`. Memory per
pending delay is Redis's `used_memory` after the load minus before, over the count. Then
`--replicas` movers (the scheduler's `DelayMover`, each in its own process, as replicas are) run
until every due delay has moved. Lateness is the target entry's id (Redis clock at the move)
minus the due time; duplicates are envelope ids seen twice in the target stream. A second run
makes `--due` delays due at once, to measure how many the movers move per second.

Schedules: `--schedules` interval schedules firing every second, stored through the handlers,
fired by the scheduler's own loops (election, `ScheduleRunner`, its fenced publish) in one and
then `--replicas` processes for `--seconds` seconds each, on SQLite. Every nominal second of
every schedule has one deterministic event id (`run_event_id`): a missed fire is an id absent
from the target stream, a duplicate one seen twice. Lateness is the entry's Redis time minus
the nominal time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import uvloop

from services.scheduler.bootstrap import bootstrap
from services.scheduler.domain.schedules import EventSpec, ScheduleSpec, run_event_id
from services.scheduler.domain.triggers import IntervalTrigger
from services.scheduler.entrypoints.loops import DelayMover, running_loops
from services.scheduler.settings import Settings
from shared.db import migrate
from shared.embedded_redis import EmbeddedRedis, free_port
from shared.events import Envelope, decode_entry
from shared.redis import make_redis

TARGET = "bench.out"
LOAD_CHUNK = 5000
Progress = Callable[[str], None]


# Movers and replicas start as fresh interpreters, as the service's processes do: forked, they
# inherited the caller's heap (bench.run_all's, after the HTTP benchmarks), and each garbage
# collection walked it (in run_all: 11,396 delays moved/s and p99 110 ms, against 18,857-20,517
# and 53 ms run alone).
SPAWN = multiprocessing.get_context("spawn")


def _quiet(_: str) -> None:
    pass


@dataclass
class DelayResult:
    name: str
    pending: int
    due: int
    moved: int
    duplicates: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    per_s: float
    load_s: float
    bytes_per_delay: float | None = None
    mover_rss_mb: float | None = None
    lateness_ms: list[float] = field(default_factory=list)
    aof_rewrites: int = 0  # AOF rewrites Redis started while the delays were due or moving

    def row(self) -> str:
        memory = "-" if self.bytes_per_delay is None else f"{self.bytes_per_delay:,.0f}"
        rss = "-" if self.mover_rss_mb is None else f"{self.mover_rss_mb:,.0f}"
        return (f"| {self.name} | {self.pending:,} | {self.due:,} | {self.moved:,} | "
                f"{self.duplicates} | {self.p50_ms:.1f} | {self.p99_ms:.1f} | "
                f"{self.max_ms:.1f} | {self.per_s:,.0f} | {self.pending / self.load_s:,.0f} | "
                f"{memory} | {rss} |")


DELAY_HEADER = (
    "| run | pending | due | moved | duplicates | lateness p50 ms | p99 ms | max ms | moved/s "
    "| stored/s | Redis bytes per pending delay | mover RSS MB |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


@dataclass
class ScheduleResult:
    name: str
    replicas: int
    schedules: int
    seconds: int
    expected: int
    fired: int
    missed: int
    duplicates: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    # Per second of the run: fires, p99 lateness (for a plot).
    per_second: list[tuple[int, float]] = field(default_factory=list)
    lateness_ms: list[float] = field(default_factory=list)

    def row(self) -> str:
        return (f"| {self.name} | {self.schedules:,} x {self.seconds} s | {self.expected:,} | "
                f"{self.fired:,} | {self.missed} | {self.duplicates} | {self.p50_ms:.1f} | "
                f"{self.p99_ms:.1f} | {self.max_ms:.1f} |")


SCHEDULE_HEADER = (
    "| run | schedules x seconds | fires expected | fired | missed | duplicates | "
    "lateness p50 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | "
    "---: | ---: |")


@contextlib.contextmanager
def embedded_redis(workdir: Path) -> Iterator[str]:
    server = EmbeddedRedis(workdir, port=free_port(), aof=True).start()
    try:
        yield server.url
    finally:
        server.stop()


def settings(url: str, var_dir: str, database_url: str = "") -> Settings:
    return Settings(redis_url=url, var_dir=Path(var_dir), database_url=database_url,
                    scheduler_target_streams=(TARGET,),
                    scheduler_delay_batch=1000, scheduler_delay_poll_ms=50)


def _flush(url: str) -> None:
    async def run() -> None:
        redis = make_redis(url)
        await redis.flushdb()
        await redis.aclose()

    asyncio.run(run())


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        value = values[0] if values else 0.0
        return value, value, value
    return (statistics.median(values), statistics.quantiles(values, n=100)[98], max(values))


# -- delays ---------------------------------------------------------------------------------


async def _load(url: str, var_dir: str, pending: int, due: int, window_s: float,
                progress: Progress) -> tuple[int, datetime]:
    """Store the delays: first those due in an hour, then (once no AOF rewrite runs) the `due`
    ones, due over the window from 2 s after they are stored (at 4,000 stores/s; 8,000-16,000
    measured), so storing never competes with moving. Returns Redis's used_memory growth
    (bytes) and the first due time."""
    async with bootstrap(settings(url, var_dir)) as runtime:
        before = (await runtime.redis.info("memory"))["used_memory"]

        stored = 0

        async def store(first: int, last: int, due_at: Callable[[int], datetime]) -> None:
            nonlocal stored
            for start in range(first, last, LOAD_CHUNK):
                batch = [(TARGET, Envelope(type="bench.due", producer="bench", data={"n": n},
                                           occurred_at=due_at(n)), due_at(n), "")
                         for n in range(start, min(last, start + LOAD_CHUNK))]
                await runtime.delays.add_many(batch)
                stored += len(batch)
                if stored % 200_000 == 0:
                    progress(f"stored {stored:,} of {pending:,} delays")

        later = datetime.now(UTC) + timedelta(hours=1)
        await store(due, pending, lambda n: later)
        # Storing a million grows the append-only file enough for Redis to rewrite it (a fork
        # of a process of most of a GB, and all of it written again): the window starts once
        # that is over, as it would be long before a million delays come due in production.
        while (await runtime.redis.info("persistence"))["aof_rewrite_in_progress"]:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        first_due = datetime.now(UTC) + timedelta(seconds=2 + due / 4_000)
        step = timedelta(seconds=window_s / max(1, due))
        await store(0, due, lambda n: first_due + n * step)
        after = (await runtime.redis.info("memory"))["used_memory"]
        return int(after - before), first_due


async def _aof_rewrites(url: str) -> int:
    redis = make_redis(url)
    info = await redis.info("persistence")
    await redis.aclose()
    return int(info.get("aof_rewrites", 0)) + int(info["aof_rewrite_in_progress"])


def mover_process(url: str, var_dir: str, stop_at: float, due: int,
                  rss: multiprocessing.Queue[float]) -> None:
    async def run() -> None:
        async with bootstrap(settings(url, var_dir)) as runtime:
            mover = DelayMover(runtime.handlers, batch=1000, poll_s=0.05)
            task = asyncio.create_task(mover.run())
            while time.time() < stop_at and await runtime.redis.xlen(TARGET) < due:  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # polls Redis
            rss.put(psutil.Process().memory_info().rss / 2**20)
            mover.stop()
            await task

    uvloop.run(run())  # as `coursestream serve scheduler` runs it


async def _measure_delays(url: str) -> tuple[int, int, list[float], float]:
    """(moved, duplicates, lateness in ms, moves per second)."""
    redis = make_redis(url)
    entries = await redis.xrange(TARGET)
    await redis.aclose()
    seen: Counter[str] = Counter()
    lateness, moved_ms = [], []
    for entry_id, fields in entries:
        envelope = decode_entry(fields)
        seen[envelope.id] += 1
        at_ms = int(entry_id.split(b"-")[0])
        moved_ms.append(at_ms)
        # Due times are kept in whole milliseconds, like entry ids.
        lateness.append(float(at_ms - int(envelope.occurred_at.timestamp() * 1000)))
    if not entries:
        return 0, 0, [], 0.0
    first_due = min(at - late for at, late in zip(moved_ms, lateness, strict=True))
    span_s = max(0.001, (max(moved_ms) - first_due) / 1000)
    return len(entries), sum(n - 1 for n in seen.values()), lateness, len(entries) / span_s


def run_delays(url: str, var_dir: str, name: str, pending: int, due: int, window_s: float,
               replicas: int, progress: Progress = _quiet, memory: bool = True) -> DelayResult:
    """`memory`: report Redis bytes per pending delay (noise for a small store just after
    another run's entries were flushed)."""
    _flush(url)
    # The movers run from the start (polling an empty due range while the load goes on), so
    # their start-up never delays a move; each stops once every due delay has moved.
    stop_at = time.time() + pending / 2_000 + window_s + 60
    rss: multiprocessing.Queue[float] = SPAWN.Queue()
    movers = [SPAWN.Process(target=mover_process,
                                      args=(url, var_dir, stop_at, due, rss))
              for _ in range(replicas)]
    for process in movers:
        process.start()
    started = time.time()
    grown, first_due = asyncio.run(_load(url, var_dir, pending, due, window_s, progress))
    rewrites_before = asyncio.run(_aof_rewrites(url))
    load_s = time.time() - started
    if datetime.now(UTC) > first_due and window_s > 0:  # all due at once: lateness is the queue
        raise SystemExit(f"storing took {load_s:.1f} s, past the first due time")
    progress(f"{name}: stored {pending:,} delays in {load_s:.1f} s; moving")
    for process in movers:
        process.join()
    rewrites = asyncio.run(_aof_rewrites(url)) - rewrites_before
    moved, duplicates, lateness, per_s = asyncio.run(_measure_delays(url))
    p50, p99, late_max = _quantiles(lateness)
    return DelayResult(name, pending, due, moved, duplicates, p50, p99, late_max, per_s, load_s,
                       grown / pending if memory else None, max(rss.get() for _ in movers),
                       lateness, rewrites)


# -- schedules ------------------------------------------------------------------------------


def replica_process(url: str, var_dir: str, database_url: str, stop_at: float) -> None:
    async def run() -> None:
        async with bootstrap(settings(url, var_dir, database_url)) as runtime, \
                running_loops(runtime):
            await asyncio.sleep(max(0.0, stop_at - time.time()))

    uvloop.run(run())  # as `coursestream serve scheduler` runs it


async def _create_schedules(url: str, var_dir: str, database_url: str, count: int,
                            start: datetime) -> list[str]:
    async with bootstrap(settings(url, var_dir, database_url)) as runtime:
        ids = []
        for n in range(count):
            schedule = await runtime.handlers.create_schedule(ScheduleSpec(
                id=f"bench-{n:05d}",
                trigger=IntervalTrigger(every_s=1, start_at=start),
                event=EventSpec(stream=TARGET, type="bench.tick", data={"n": n}),
                misfire_grace_s=60, jitter_s=0,
            ))
            ids.append(schedule.id)
        return ids


async def _stream(url: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    redis = make_redis(url)
    entries = await redis.xrange(TARGET)
    await redis.aclose()
    return list(entries)


def run_schedules(url: str, workdir: Path, name: str, count: int, seconds: int,
                  replicas: int, progress: Progress = _quiet, lead_s: float = 6.0
                  ) -> ScheduleResult:
    _flush(url)
    var_dir = workdir / f"schedules-{replicas}"
    var_dir.mkdir(exist_ok=True)
    database_url = f"sqlite:///{var_dir / 'scheduler.db'}"
    migrate("scheduler", database_url)
    # The first nominal second once the schedules are stored and the replicas have started.
    start = datetime.fromtimestamp(int(time.time() + lead_s) + 1 + count // 200, UTC)
    ids = asyncio.run(_create_schedules(url, str(var_dir), database_url, count, start))
    stop_at = start.timestamp() + seconds + 3  # a late fire of the last second still counts
    processes = [SPAWN.Process(target=replica_process,
                                         args=(url, str(var_dir), database_url, stop_at))
                 for _ in range(replicas)]
    for process in processes:
        process.start()
    progress(f"{name}: {count:,} schedules every second for {seconds} s")
    for process in processes:
        process.join()
    expected = {run_event_id(schedule_id, start + timedelta(seconds=k)): k
                for schedule_id in ids for k in range(seconds)}
    seen: Counter[str] = Counter()
    lateness: list[float] = []
    per_second: dict[int, list[float]] = {k: [] for k in range(seconds)}
    for entry_id, fields in asyncio.run(_stream(url)):
        event_id = decode_entry(fields).id
        if event_id not in expected:
            continue  # a second past the window
        seen[event_id] += 1
        k = expected[event_id]
        late = int(entry_id.split(b"-")[0]) - (start.timestamp() + k) * 1000
        lateness.append(late)
        per_second[k].append(late)
    p50, p99, late_max = _quantiles(lateness)
    return ScheduleResult(
        name=name, replicas=replicas, schedules=count, seconds=seconds,
        expected=len(expected), fired=len(seen),
        missed=len(expected) - len(seen), duplicates=sum(n - 1 for n in seen.values()),
        p50_ms=p50, p99_ms=p99, max_ms=late_max,
        per_second=[(len(v), _quantiles(v)[1]) for _, v in sorted(per_second.items())],
        lateness_ms=lateness,
    )


# -- both -----------------------------------------------------------------------------------


@dataclass
class Options:
    pending: int = 1_000_000
    due: int = 100_000
    window_s: float = 10.0
    burst: int = 100_000
    schedules: int = 1000
    seconds: int = 30
    replicas: int = 2
    lead_s: float = 6.0  # from storing the schedules to their first run: replicas start

    @classmethod
    def quick(cls) -> Options:
        return cls(pending=10_000, due=2_000, window_s=1.0, burst=2_000, schedules=50,
                   seconds=3, lead_s=3.0)


def run(options: Options, workdir: Path, only: str | None = None,
        progress: Progress = _quiet) -> tuple[list[DelayResult], list[ScheduleResult]]:
    delays: list[DelayResult] = []
    schedules: list[ScheduleResult] = []
    with embedded_redis(workdir) as url:
        if only in (None, "delays"):
            delays.append(run_delays(
                url, str(workdir), f"{options.due:,} due over {options.window_s:g} s, "
                f"{options.replicas} replicas", options.pending, options.due, options.window_s,
                options.replicas, progress))
            delays.append(run_delays(
                url, str(workdir), f"all due at once, {options.replicas} replicas",
                options.burst, options.burst, 0.0, options.replicas, progress, memory=False))
        if only in (None, "schedules"):
            for replicas in sorted({1, options.replicas}):
                schedules.append(run_schedules(
                    url, workdir, f"every 1 s, {replicas} replica{'s' * (replicas > 1)}",
                    options.schedules, options.seconds, replicas, progress, options.lead_s))
    return delays, schedules


def main() -> None:
    parser = argparse.ArgumentParser()
    default = Options()
    parser.add_argument("--quick", action="store_true", help="small counts, a few seconds")
    parser.add_argument("--only", choices=("delays", "schedules"))
    for name in ("pending", "due", "burst", "schedules", "seconds", "replicas"):
        parser.add_argument(f"--{name}", type=int, default=None)
    parser.add_argument("--window-s", type=float, default=None)
    args = parser.parse_args()
    options = Options.quick() if args.quick else default
    for name in ("pending", "due", "burst", "schedules", "seconds", "replicas", "window_s"):
        if getattr(args, name) is not None:
            setattr(options, name, getattr(args, name))
    with tempfile.TemporaryDirectory() as tmp:
        delays, schedules = run(options, Path(tmp), args.only, lambda line: print(line,
                                                                                  flush=True))
    if delays:
        print(DELAY_HEADER)
        for result in delays:
            print(result.row())
    if schedules:
        print(SCHEDULE_HEADER)
        for s in schedules:
            print(s.row())


if __name__ == "__main__":
    main()
