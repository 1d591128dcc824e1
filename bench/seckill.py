"""Benchmark: a flash sale through the gateway (tokens new and tokens seen), next to the seckill
service directly, a bare aiohttp handler that only runs the same admission Lua script (the
ceiling), and a minimal aiohttp proxy in front of that bare handler (the floor of any two-hop
path), in one run.

    .venv/bin/python -m bench.seckill [--users 5000] [--stock 1000] [--connections 100]
        [--rounds 1]

Needs `wrk` (apt-get install wrk). Starts `coursestream up` in a temporary directory (embedded
Redis, SQLite, the order writer), the bare server and the minimal proxy. Each target sells its
own item (`--stock` units); every sale has its own `--users` distinct users, whose tokens are
signed beforehand and so new to every verifier's cache, but for the fifth target: through the
gateway again, after each user opened the sale's page through it (as the web client does, so
the gateway's cache holds every token at the attempt). wrk sends each user's attempt once
(plus at most `--connections` repeats at the very end, counted as "other"). Each target first
runs an unmeasured sale (warm-up), then `--rounds` measured sales, the targets interleaved.
Reported per sale: attempts/s, p50 and p99 of the attempt request, answers by status, the time
from the last admission (its stream entry id, Redis clock) to the last order row written (its
`created_at`), once every admitted ticket is final, and the CPU µs per attempt of the target
process, the seckill service, the order writer, Redis and wrk.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import redis as sync_redis

from bench import UNREFUSED_LIMITS
from bench.wrk import PRINT_PERCENTILES, distribution, percentiles, wait_answering
from services.seckill.adapters.keys import Keys
from shared.embedded_redis import DEFAULT_PORT, free_port
from tests.support.platform import Platform, running_platform

PARTITIONS = 4
CEILING = "bare handler, same Lua script (ceiling)"
FLOOR = "minimal aiohttp proxy in front of the bare handler (floor of two hops)"
DIRECT = "seckill service directly"
GATEWAY = "through the gateway"
# Every user opened the sale's page through the gateway first (GET the item with the token, as
# the web client does), so the gateway has verified each token before the attempt: the sale
# as it happens, where GATEWAY (every token new at the attempt) is the worst case.
GATEWAY_SEEN = "through the gateway, each user's sale page opened first"
AIM_RPS, AIM_P99_MS, AIM_WRITTEN_S = 3_200, 50, 1.0
TIMELINE_S = 0.25  # a sale lasts a few seconds: its timeline is cut finer than by the second

WRK_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
int getpid(void);
int kill(int pid, int sig);
]]
local tv = ffi.new("bench_timeval")
local function now()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
end
local users = {%(users)s}
local tokens = {%(tokens)s}
local path_of = %(path_of)s
local i, sent_n, answered = 0, 0, 0
local sent = {}
counts = {}
elapsed = 0
first = nil
-- One line per answer: seconds since the first request, latency in ms (-1 when the server
-- did not echo the request id: the bare handler and the minimal proxy), status.
samples = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function request()
  local t = now()
  first = first or t
  i = math.min(i + 1, #users)
  sent_n = sent_n + 1
  sent["b" .. sent_n] = t
  local headers = {["X-Request-ID"] = "b" .. sent_n}
  if tokens[i] then headers["Authorization"] = "Bearer " .. tokens[i] end
  return wrk.format("%(method)s", path_of(users[i]), headers, %(body)s)
end
function response(status, headers, body)
  local t = now()
  counts[status] = (counts[status] or 0) + 1
  answered = answered + 1
  local at = sent[headers["X-Request-ID"] or headers["x-request-id"] or ""]
  local latency = at and (t - at) * 1000 or -1
  samples[answered] = string.format("%%.4f %%.3f %%d", t - first, latency, status)
  if answered == #users then
    elapsed = t - first
    ffi.C.kill(ffi.C.getpid(), 2)  -- SIGINT: wrk stops and reports at once
  end
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("elapsed %%.6f\nfirst %%.6f\n", thread:get("elapsed"),
                           thread:get("first")))
    for status, n in pairs(thread:get("counts")) do
      io.write(string.format("status %%d %%d\n", status, n))
    end
    for _, line in ipairs(thread:get("samples")) do
      io.write("sample " .. line .. "\n")
    end
  end
%(percentiles)s
end
"""


@dataclass
class Slice:
    """A slice of a sale (`TIMELINE_S` long), from its first request: answers per second, their
    latency (where the server echoed the request id), admissions (stream entries) and orders
    written (rows) per second, and the orders admitted but not yet written at its end."""

    start_s: float
    answered_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    admitted_per_s: float
    written_per_s: float
    backlog: int  # admitted so far minus written so far: the order writer's lag, in orders


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    written_after_s: float | None
    cpu_us: dict[str, float] | None = None  # CPU µs per attempt of each server process
    distribution: list[tuple[float, float]] = field(default_factory=list)  # (percentile, ms)
    timeline: list[Slice] = field(default_factory=list)
    # From wrk: the first request (epoch s), and (s since it, latency ms or -1) per answer.
    first_at: float = 0.0
    samples: list[tuple[float, float]] = field(default_factory=list)

    def row(self) -> str:
        other = sum(n for s, n in self.statuses.items() if s not in (202, 409))
        written = "-" if self.written_after_s is None else f"{self.written_after_s:.2f}"
        cpu = self.cpu_us or {}
        return (f"| {self.name} | {self.rps:,.0f} | {self.p50_ms:.2f} | {self.p99_ms:.2f} | "
                f"{self.statuses.get(202, 0)} | {self.statuses.get(409, 0)} | {other} | "
                f"{written} | " + " | ".join(f"{cpu[n]:.0f}" if n in cpu else "-"
                                              for n in CPU_COLUMNS) + " |")


CPU_COLUMNS = ("target", "seckill", "order-writer", "redis", "wrk")
HEADER = ("| target | attempts/s | p50 ms | p99 ms | 202 | 409 | other | last order after "
          "last admission, s | CPU µs/attempt: target process | seckill | order writer | "
          "Redis | wrk |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
          "| ---: |")


def _cpu(process: psutil.Process) -> float:
    """User + system CPU seconds of the process and its children (a `--workers` server)."""
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        times = p.cpu_times()
        total += times.user + times.system
    return total


def platform_processes(platform: Platform, *args: str) -> list[psutil.Process]:
    """The children of `coursestream up` whose command lines hold `args` (one per replica)."""
    found = [child for child in psutil.Process(platform.process.pid).children()
             if " ".join(args) in " ".join(child.cmdline())]
    if not found:
        raise RuntimeError(f"no process {args}")
    return found


def run_wrk(name: str, base_url: str, users: list[int], script: str, connections: int,
            workdir: Path, watched: dict[str, list[psutil.Process]] | None = None) -> Result:
    """One sale by wrk; `watched`: the processes (all replicas) whose CPU is counted per name."""
    path = workdir / f"{abs(hash(name))}.lua"
    path.write_text(script)
    watched = watched or {}
    cpu_before = {n: sum(map(_cpu, ps)) for n, ps in watched.items()}
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", "-d120s", "--latency", "-s", str(path), base_url],
        capture_output=True, text=True, check=False, timeout=180,
    )
    out = done.stdout
    if "elapsed" not in out:
        raise RuntimeError(f"wrk did not finish the sale:\n{out}\n{done.stderr}")
    statuses = {int(s): int(n) for s, n in re.findall(r"status (\d+) (\d+)", out)}
    elapsed = float(re.search(r"elapsed ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Each user's attempt answered, over the time from the first request to that answer.
    rps = len(users) / elapsed
    p50, p99 = percentiles(out)
    attempts = sum(statuses.values())
    cpu_us = {n: (sum(map(_cpu, ps)) - cpu_before[n]) / attempts * 1e6
              for n, ps in watched.items()}
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_us["wrk"] = (wrk_after.ru_utime + wrk_after.ru_stime - wrk_before.ru_utime
                     - wrk_before.ru_stime) / attempts * 1e6
    first = float(re.search(r"first ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    samples = [(float(t), float(ms)) for t, ms, _ in
               re.findall(r"^sample ([\d.]+) (-?[\d.]+) (\d+)$", out, re.M)]
    return Result(name, rps, p50, p99, statuses, None, cpu_us, distribution(out),
                  first_at=first, samples=samples)


def script_for(users: list[int], tokens: list[str] | None, path_of: str,
               method: str = "POST") -> str:
    return WRK_SCRIPT % {
        "method": method,
        "body": '""' if method == "POST" else "nil",
        "users": ",".join(map(str, users)),
        "tokens": ",".join(f'"{t}"' for t in tokens or []),
        "path_of": path_of,
        "percentiles": PRINT_PERCENTILES,
    }


def create_item(platform: Platform, admin_token: str, stock: int, title: str) -> int:
    start = datetime.now(UTC) - timedelta(seconds=5)
    body = json.dumps({"course_id": 1, "title": title, "price": "9.90", "stock": stock,
                       "starts_at": start.isoformat(),
                       "ends_at": (start + timedelta(hours=1)).isoformat()}).encode()
    request = urllib.request.Request(
        platform.service_url("seckill") + "/api/v1/seckill/items", data=body, method="POST",
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.load(response)["id"])


def wait_written(redis: sync_redis.Redis | sync_redis.RedisCluster, database: Path,
                 item_id: int, admitted: int,
                 timeout: float = 60) -> tuple[float, list[float], list[float]]:
    """Seconds from the item's last admission to its last order row, once all are final;
    and the epoch seconds of each admission (stream entry) and of each order row."""
    stream = Keys(PARTITIONS).orders_stream_of(item_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as conn:
            count, last = conn.execute(
                "SELECT count(*), max(created_at) FROM seckill_orders WHERE item_id = ?",
                (item_id,)).fetchone()
        if count >= admitted:
            break
        time.sleep(0.02)
    else:
        raise RuntimeError(f"item {item_id}: {count} of {admitted} orders after {timeout} s")
    entries = redis.xrange(stream)
    tickets = [json.loads(json.loads(f[b"__data__"])["data"])["data"]["ticket"]
               for _, f in entries]
    mine = [t for t in tickets if t.startswith(f"{item_id}-")]
    keys = Keys(PARTITIONS)
    pipe = redis.pipeline(transaction=False)
    for ticket in mine:
        pipe.hget(keys.ticket(ticket), "status")
    assert set(pipe.execute()) == {b"success"}, "some admitted ticket is not final"
    admissions = [int(i.split(b"-")[0]) / 1000 for i, f in entries
                  if json.loads(json.loads(f[b"__data__"])["data"])["data"]["item_id"]
                  == item_id]
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT created_at FROM seckill_orders WHERE item_id = ?",
                            (item_id,)).fetchall()
    orders = [datetime.fromisoformat(r[0]).replace(tzinfo=UTC).timestamp() for r in rows]
    written = datetime.fromisoformat(last).replace(tzinfo=UTC).timestamp()
    return written - max(admissions), admissions, orders


def written_sale(result: Result, redis: sync_redis.Redis | sync_redis.RedisCluster,
                 database: Path, item_id: int, stock: int) -> Result:
    """`result` of a sale by wrk, once every admitted order is written: with the time from
    the last admission to the last order, and its timeline."""
    result.written_after_s, admissions, orders = wait_written(redis, database, item_id, stock)
    result.timeline = timeline(result, admissions, orders)
    return result


def timeline(result: Result, admissions: list[float], orders: list[float],
             slice_s: float = TIMELINE_S) -> list[Slice]:
    """The sale slice by slice from its first request, until the last order is written."""
    def index(since_first: float) -> int:
        return max(0, int(since_first / slice_s))

    count = 1 + max([index(t) for t, _ in result.samples]
                    + [index(at - result.first_at) for at in [*admissions, *orders]])
    latencies: list[list[float]] = [[] for _ in range(count)]
    answered, admitted, written = [0] * count, [0] * count, [0] * count
    for t, ms in result.samples:
        answered[index(t)] += 1
        if ms >= 0:
            latencies[index(t)].append(ms)
    for at in admissions:
        admitted[index(at - result.first_at)] += 1
    for at in orders:
        written[index(at - result.first_at)] += 1
    slices, backlog = [], 0
    for k in range(count):
        backlog += admitted[k] - written[k]
        lat = latencies[k]
        p50 = statistics.median(lat) if lat else None
        p99 = statistics.quantiles(lat, n=100)[98] if len(lat) > 1 else p50
        slices.append(Slice(k * slice_s, answered[k] / slice_s, p50, p99,
                            admitted[k] / slice_s, written[k] / slice_s, backlog))
    return slices


def measure(users: int = 5000, stock: int = 1000, connections: int = 100, rounds: int = 1,
            progress: Callable[[str], None] = print, warm_up: bool = True) -> list[Result]:
    """Every measured sale, the targets interleaved round by round (after one unmeasured
    sale per target unless `warm_up` is false: a smoke run's)."""
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp, running_platform(
        Path(tmp), env={"SECKILL_PARTITIONS": str(PARTITIONS), "LOG_LEVEL": "WARNING",
                        **UNREFUSED_LIMITS}
    ) as platform:
        workdir = Path(tmp)
        redis = sync_redis.Redis(port=DEFAULT_PORT + platform.base_port - 8000)
        database = platform.var_dir / "seckill.db"
        token = platform.signer()
        admin = token(1, "admin")
        # Every sale (an unmeasured warm-up per target first, to warm connections, scripts
        # and code paths) has its own users, so every token is new to every verifier's cache:
        # a target measured after another with the same tokens would skip the seckill
        # service's verification (before 2026-11-24 the gateway runs did just that).
        next_user = iter(range(100_000, 10**9, users))
        seckill_process = platform_processes(platform, "serve", "seckill")
        watched = {"seckill": seckill_process,
                   "order-writer": platform_processes(platform, "worker", "order-writer"),
                   "redis": platform_processes(platform, "valkey-server")}

        def sale(name: str, base: str, path_of: Callable[[int], str], with_tokens: bool,
                 process: list[psutil.Process], measured: bool) -> None:
            first = next(next_user)
            round_users = list(range(first, first + users))
            round_tokens = [token(u) for u in round_users] if with_tokens else None
            item = create_item(platform, admin, stock, name)
            if name == GATEWAY_SEEN:  # each user's GET of the item, unmeasured
                run_wrk(f"{name}: pages", base, round_users, script_for(
                    round_users, round_tokens, item_page % item, "GET"), connections, workdir)
            script = script_for(round_users, round_tokens, path_of(item))
            progress(f"seckill: {'' if measured else 'warm-up, '}{name}")
            result = written_sale(
                run_wrk(name, base, round_users, script, connections, workdir,
                        {"target": process, **watched}), redis, database, item, stock)
            if measured:
                results.append(result)

        port, proxy_port = free_port(), free_port()
        redis_url = f"redis://127.0.0.1:{DEFAULT_PORT + platform.base_port - 8000}/0"
        bare = subprocess.Popen([sys.executable, "-m", "bench.seckill_bare", str(port),
                                 redis_url, str(PARTITIONS)])
        gateway_process = platform_processes(platform, "serve", "gateway")
        proxy = subprocess.Popen([sys.executable, "-m", "bench.minimal_proxy", str(proxy_port),
                                  f"http://127.0.0.1:{port}"])
        attempts = 'function(u) return "/api/v1/seckill/items/%d/attempts" end'
        item_page = 'function(u) return "/api/v1/seckill/items/%d" end'
        bare_path = lambda item: f'function(u) return "/{item}/" .. u end'  # noqa: E731
        targets = [
            (CEILING, f"http://127.0.0.1:{port}",
             bare_path, False, [psutil.Process(bare.pid)]),
            (FLOOR, f"http://127.0.0.1:{proxy_port}", bare_path, False,
             [psutil.Process(proxy.pid)]),
            (DIRECT, platform.service_url("seckill"),
             lambda item: attempts % item, True, seckill_process),
            (GATEWAY, platform.url, lambda item: attempts % item, True, gateway_process),
            (GATEWAY_SEEN, platform.url, lambda item: attempts % item, True, gateway_process),
        ]
        try:
            wait_answering(f"http://127.0.0.1:{port}/", bare)
            wait_answering(f"http://127.0.0.1:{proxy_port}/", proxy)
            for target in targets if warm_up else []:
                sale(*target, measured=False)
            for _ in range(rounds):
                for target in targets:
                    sale(*target, measured=True)
        finally:
            for server in (bare, proxy):
                server.terminate()
                server.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--stock", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1,
                        help="measured sales per target, the targets interleaved")
    args = parser.parse_args()
    results = measure(args.users, args.stock, args.connections, args.rounds)
    print(f"\n{args.users} distinct users, stock {args.stock}, {args.connections} connections, "
          f"wrk -t1, order writer running; one 2-core machine\n")
    print(HEADER)
    for result in results:
        print(result.row())
    print(verdict(results))


def verdict(results: list[Result]) -> str:
    """Issue 4's aim, judged on every measured sale through the gateway."""
    sales = [r for r in results if r.name == GATEWAY]
    met = all(r.rps >= AIM_RPS and r.p99_ms <= AIM_P99_MS for r in sales)
    written = all(r.written_after_s is not None and r.written_after_s <= AIM_WRITTEN_S
                  for r in results)
    return (f"\naim through the gateway, at least {AIM_RPS:,}/s with p99 at most {AIM_P99_MS} ms: "
            f"{'met' if met else 'NOT met'} ("
            + ", ".join(f"{r.rps:,.0f}/s p99 {r.p99_ms:.0f} ms" for r in sales)
            + f"); every order written within {AIM_WRITTEN_S} s of the last admission: "
            f"{'met' if written else 'NOT met'}")


if __name__ == "__main__":
    main()
