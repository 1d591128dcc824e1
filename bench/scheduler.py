"""Benchmark: delayed events due over a short window, moved by two scheduler replicas.

    .venv/bin/python -m bench.scheduler [--delays 100000] [--window-s 5] [--replicas 2]

Starts an embedded Redis (append-only, fsync every second, as `coursestream up` runs it) on a
free port, stores `--delays` delays through the scheduler's own `DelayStore` (the script
`POST /delays` uses), due evenly over `--window-s` seconds starting once all are stored, then
runs `--replicas` movers (the scheduler's `DelayMover`, each in its own process, as replicas
are) until every delay has moved. Lateness is the target entry's id (Redis clock at the move)
minus the due time; duplicates are envelope ids seen twice in the target stream. A second run
makes every delay due at once, to measure how many due events the movers move per second.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.scheduler.bootstrap import bootstrap
from services.scheduler.entrypoints.loops import DelayMover
from services.scheduler.ports import DelayStore
from services.scheduler.settings import Settings
from shared.embedded_redis import EmbeddedRedis, free_port
from shared.events import Envelope, decode_entry
from shared.redis import make_redis

TARGET = "bench.out"


@dataclass
class Result:
    name: str
    delays: int
    moved: int
    duplicates: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    per_s: float

    def row(self) -> str:
        return (f"| {self.name} | {self.delays:,} | {self.moved:,} | {self.duplicates} | "
                f"{self.p50_ms:.1f} | {self.p99_ms:.1f} | {self.max_ms:.1f} | "
                f"{self.per_s:,.0f} |")


HEADER = ("| run | delays | moved | duplicates | lateness p50 ms | p99 ms | max ms | "
          "moved/s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def settings(url: str, var_dir: str) -> Settings:
    return Settings(redis_url=url, var_dir=Path(var_dir), scheduler_target_streams=(TARGET,),
                    scheduler_delay_batch=1000, scheduler_delay_poll_ms=50)


async def load(url: str, var_dir: str, count: int, first_due: datetime, window_s: float) -> None:
    async with bootstrap(settings(url, var_dir)) as runtime:
        await _load(runtime.delays, count, first_due, window_s)


async def _load(store: DelayStore, count: int, first_due: datetime, window_s: float) -> None:
    step = timedelta(seconds=window_s / count)
    for start in range(0, count, 2000):
        await asyncio.gather(*(
            store.add(TARGET, Envelope(type="bench.due", producer="bench", data={"n": n},
                                       occurred_at=first_due + n * step),
                      first_due + n * step, "")
            for n in range(start, min(count, start + 2000))
        ))


def mover_process(url: str, var_dir: str, stop_at: float) -> None:
    async def run() -> None:
        async with bootstrap(settings(url, var_dir)) as runtime:
            mover = DelayMover(runtime.handlers, batch=1000, poll_s=0.05)
            task = asyncio.create_task(mover.run())
            while time.time() < stop_at and await runtime.redis.zcard(  # noqa: ASYNC110
                    "{scheduler:delays}:due"):  # polls Redis
                await asyncio.sleep(0.1)
            mover.stop()
            await task

    asyncio.run(run())


async def measure(url: str, name: str, count: int) -> Result:
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
        lateness.append(at_ms - int(envelope.occurred_at.timestamp() * 1000))
    first_due = min(at - late for at, late in zip(moved_ms, lateness, strict=True))
    span_s = max(0.001, (max(moved_ms) - first_due) / 1000)
    return Result(
        name=name, delays=count, moved=len(entries),
        duplicates=sum(n - 1 for n in seen.values()),
        p50_ms=statistics.median(lateness),
        p99_ms=statistics.quantiles(lateness, n=100)[98], max_ms=max(lateness),
        per_s=len(entries) / span_s,
    )


def run_once(
    url: str, var_dir: str, name: str, count: int, window_s: float, replicas: int
) -> Result:
    async def reset() -> None:
        redis = make_redis(url)
        await redis.flushdb()
        await redis.aclose()

    asyncio.run(reset())
    started = time.time()
    # Due times start after the load (about 6,000 stores/s from one client) has ended, so the
    # load never competes with a move.
    estimate = datetime.now(UTC) + timedelta(seconds=2 + count / 4_000)
    asyncio.run(load(url, var_dir, count, estimate, window_s))
    loaded_s = time.time() - started
    if datetime.now(UTC) > estimate:
        raise SystemExit(f"loading took {loaded_s:.1f} s, past the first due time")
    stop_at = estimate.timestamp() + window_s + 60
    movers = [multiprocessing.Process(target=mover_process, args=(url, var_dir, stop_at))
              for _ in range(replicas)]
    for process in movers:
        process.start()
    for process in movers:
        process.join()
    result = asyncio.run(measure(url, name, count))
    print(f"{name}: stored {count:,} delays in {loaded_s:.1f} s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delays", type=int, default=100_000)
    parser.add_argument("--window-s", type=float, default=5.0)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--redis-url", default=None, help="default: an embedded Redis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = None
        url = args.redis_url
        if url is None:
            server = EmbeddedRedis(Path(tmp), port=free_port(), aof=True).start()
            url = server.url
        try:
            results = [
                run_once(url, tmp, f"due over {args.window_s:g} s, {args.replicas} replicas",
                         args.delays, args.window_s, args.replicas),
                run_once(url, tmp, f"all due at once, {args.replicas} replicas",
                         args.delays, 0.0, args.replicas),
            ]
        finally:
            if server is not None:
                server.stop()
    print(HEADER)
    for result in results:
        print(result.row())


if __name__ == "__main__":
    main()
