"""CPU microseconds per request of the server process, next to requests/s, for
GET /api/v1/catalog/banners on a bare aiohttp handler, the catalog and the gateway.

    .venv/bin/python -m bench.cpu_per_request [--seconds 5] [--rounds 3] [--connections 50]
        [--tree base=/tmp/base --tree new=.]

The machine is shared and its load varies, so requests/s alone misleads: CPU time of the
server process (user + system, from psutil) divided by the requests wrk completed is what a
change moves. Targets run interleaved, round after round, so every variant sees the same
weather. Each `--tree` is a checkout of the repository (e.g. `git archive HEAD | tar -x -C
/tmp/base`): its own catalog (SQLite, demo banners) and gateway in front of it, all on one
embedded Redis (a database number per tree).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench import UNREFUSED_LIMITS, wrk
from shared.embedded_redis import EmbeddedRedis, free_port

PATH = "/api/v1/catalog/banners"
LOAD_DEMO = ("import asyncio; from services.catalog.demo import load_demo_data; "
             "from services.catalog.settings import Settings; "
             "asyncio.run(load_demo_data(Settings()))")


@dataclass
class Target:
    name: str
    url: str
    process: psutil.Process  # whose CPU is counted per request
    behind: psutil.Process | None = None  # the upstream, counted separately


@dataclass
class Sample:
    rps: float
    p99_ms: float
    us_per_request: float
    behind_us: float | None
    errors: int


@contextmanager
def _processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in reversed(started):  # front ends first: no errors from a gone upstream
            process.terminate()
        for process in started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def _tree_targets(name: str, tree: Path, redis_url: str, var_dir: Path,
                  started: list[subprocess.Popen[bytes]], minimal_proxy: bool) -> list[Target]:
    """Migrate and seed the tree's catalog, then serve it and a gateway in front of it (and
    the minimal proxy, if asked)."""
    catalog_port, gateway_port, admin_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.update({"VAR_DIR": str(var_dir), "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{gateway_port}",
                "CATALOG_URL": f"http://127.0.0.1:{catalog_port}",
                "GATEWAY_ADMIN_PORT": str(admin_port), "PYTHONPATH": str(tree),
                **UNREFUSED_LIMITS})
    for setup in (["-m", "coursestream", "migrate", "catalog"], ["-c", LOAD_DEMO]):
        subprocess.run([sys.executable, *setup], env=env, cwd=tree, check=True,
                       stdout=subprocess.DEVNULL)
    serve = [sys.executable, "-m", "coursestream", "serve"]
    catalog = subprocess.Popen([*serve, "catalog", "--port", str(catalog_port)], env=env,
                               cwd=tree)
    started.append(catalog)
    gateway = subprocess.Popen([*serve, "gateway", "--port", str(gateway_port)], env=env,
                               cwd=tree)
    started.append(gateway)
    wrk.wait_answering(f"http://127.0.0.1:{catalog_port}{PATH}", catalog)
    wrk.wait_answering(f"http://127.0.0.1:{gateway_port}{PATH}", gateway)
    catalog_ps, gateway_ps = psutil.Process(catalog.pid), psutil.Process(gateway.pid)
    targets = [
        Target(f"{name}: catalog", f"http://127.0.0.1:{catalog_port}{PATH}", catalog_ps),
        Target(f"{name}: gateway", f"http://127.0.0.1:{gateway_port}{PATH}", gateway_ps,
               catalog_ps),
    ]
    if minimal_proxy:
        proxy_port = free_port()
        proxy = subprocess.Popen([sys.executable, "-m", "bench.minimal_proxy", str(proxy_port),
                                  f"http://127.0.0.1:{catalog_port}"])
        started.append(proxy)
        wrk.wait_answering(f"http://127.0.0.1:{proxy_port}{PATH}", proxy)
        targets.append(Target(f"{name}: minimal aiohttp proxy (bench.minimal_proxy)",
                              f"http://127.0.0.1:{proxy_port}{PATH}",
                              psutil.Process(proxy.pid), catalog_ps))
    return targets


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measure(target: Target, connections: int, seconds: int) -> Sample:
    before = _cpu(target.process)
    behind_before = _cpu(target.behind) if target.behind else 0.0
    result, out = wrk.run_raw(target.name, target.url, connections, seconds)
    used = _cpu(target.process) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    behind = None
    if target.behind:
        behind = (_cpu(target.behind) - behind_before) / requests * 1e6
    return Sample(result.rps, result.p99_ms, used / requests * 1e6, behind, result.errors)


def _start(trees: list[tuple[str, str]], tmp: str, redis_port: int,
           started: list[subprocess.Popen[bytes]], minimal_proxy: bool) -> list[Target]:
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "bench.bare_server", str(bare_port)])
    started.append(bare)
    wrk.wait_answering(f"http://127.0.0.1:{bare_port}/", bare)
    targets = [Target("bare aiohttp handler", f"http://127.0.0.1:{bare_port}{PATH}",
                      psutil.Process(bare.pid))]
    for index, (name, path) in enumerate(trees):
        redis_url = f"redis://127.0.0.1:{redis_port}/{index}"
        targets += _tree_targets(name, Path(path).resolve(), redis_url,
                                 Path(tmp) / f"var-{index}", started,
                                 minimal_proxy and index == len(trees) - 1)
    return targets


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--tree", action="append", default=[],
                        help="name=path of a checkout (default: this one, as 'current')")
    parser.add_argument("--minimal-proxy", action="store_true",
                        help="also measure bench.minimal_proxy in front of the last tree's catalog")
    parser.add_argument("--serve", type=int, default=0, metavar="SECONDS",
                        help="only start everything, print URLs and pids, wait (for py-spy)")
    args = parser.parse_args()
    # `kill <pid>` of this script stops its servers and Redis too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    trees = [(t.split("=", 1)[0], t.split("=", 1)[1]) for t in args.tree] or [("current", ".")]

    with tempfile.TemporaryDirectory() as tmp:
        redis = EmbeddedRedis(Path(tmp) / "redis", port=free_port(), aof=False).start()
        try:
            with _processes() as started:  # stopped before Redis, so they exit quietly
                targets = _start(trees, tmp, redis.port, started, args.minimal_proxy)
                if args.serve:
                    for target in targets:
                        print(f"{target.name}: {target.url} pid {target.process.pid}",
                              flush=True)
                    time.sleep(args.serve)
                    return
                samples: dict[str, list[Sample]] = defaultdict(list)
                for round_ in range(args.rounds):
                    load = os.getloadavg()[0]
                    print(f"round {round_ + 1}/{args.rounds} (load average {load:.1f})",
                          file=sys.stderr)
                    for target in targets:
                        samples[target.name].append(
                            measure(target, args.connections, args.seconds))
        finally:
            redis.stop()

    bare_rps = [s.rps for s in samples[targets[0].name]]
    print(f"\nwrk -t1 -c{args.connections} -d{args.seconds}s, {args.rounds} interleaved rounds; "
          "median (min-max); 'of bare' pairs each round with that round's bare run\n")
    print("| target | requests/s | of bare | p99 ms | CPU us/request | upstream CPU us/req "
          "| errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for target in targets:
        runs = samples[target.name]
        ratios = [s.rps / b for s, b in zip(runs, bare_rps, strict=True)]
        behind = [s.behind_us for s in runs if s.behind_us is not None]
        print(f"| {target.name} | {_spread([s.rps for s in runs], '{:,.0f}')} "
              f"| {_spread(ratios, '{:.0%}')} | {_spread([s.p99_ms for s in runs], '{:.1f}')} "
              f"| {_spread([s.us_per_request for s in runs], '{:.0f}')} "
              f"| {_spread(behind, '{:.0f}') if behind else '-'} "
              f"| {sum(s.errors for s in runs)} |")


def _spread(values: list[float], fmt: str) -> str:
    return (f"{fmt.format(statistics.median(values))} "
            f"({fmt.format(min(values))}-{fmt.format(max(values))})")


if __name__ == "__main__":
    main()
