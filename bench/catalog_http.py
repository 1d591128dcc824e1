"""Benchmark: the catalog's public reads (the banner list, course pages, a course's detail, and
an uncached search) on the catalog directly and through the gateway, next to a bare aiohttp
handler (the ceiling) and a minimal aiohttp proxy in front of it (the floor of any two-hop
path), all in one run on this machine.

    .venv/bin/python -m bench.catalog_http [--seconds 10] [--connections 50]
        [--database-url postgresql://postgres@127.0.0.1:5432/bench_catalog]

Needs `wrk` (apt-get install wrk). Starts `coursestream up` in a temporary directory (embedded
Redis, SQLite or the given database for the catalog, demo data) and a bare server, then
measures each in turn. Each row's ratio is to the banner list through the gateway (issue 19's
measure: course pages at least 60% of it), the proxy's to the bare handler.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import UNREFUSED_LIMITS, wrk
from shared.embedded_redis import free_port
from tests.support.platform import running_platform

BANNERS = "/api/v1/catalog/banners"
CEILING = "bare aiohttp handler (fixed bytes)"
FLOOR = "minimal aiohttp proxy in front of the bare handler"
GATEWAY, DIRECT = "through the gateway", "catalog direct"
READS = {
    "banners": BANNERS,
    "course list (cached)": "/api/v1/catalog/courses?kind=free&page_size=20",
    "course list by category, price (cached)":
        "/api/v1/catalog/courses?kind=actual&category=1&ordering=-price&page=1",
    "course detail (cached)": "/api/v1/catalog/courses/1",
    "course search (never cached)": "/api/v1/catalog/courses?search=python",
}


@dataclass
class CatalogRun:
    ceiling: wrk.Result  # the bare handler
    floor: wrk.Result  # the minimal proxy in front of the bare handler
    results: list[wrk.Result]  # READS through the gateway, then directly
    database: str


def measure(seconds: int = 10, connections: int = 50, database_url: str | None = None,
            reads: dict[str, str] | None = None, progress: Callable[[str], None] = print,
            ) -> CatalogRun:
    reads = reads or READS
    port, proxy_port = free_port(), free_port()
    bare = subprocess.Popen([sys.executable, "-m", "bench.bare_server", str(port)])
    proxy = subprocess.Popen([sys.executable, "-m", "bench.minimal_proxy", str(proxy_port),
                              f"http://127.0.0.1:{port}"])
    try:
        wrk.wait_answering(f"http://127.0.0.1:{port}/", bare)
        wrk.wait_answering(f"http://127.0.0.1:{proxy_port}/", proxy)
        progress("catalog: bare handler, minimal proxy")
        ceiling = wrk.run(CEILING, f"http://127.0.0.1:{port}{BANNERS}", connections, seconds)
        floor = wrk.run(FLOOR, f"http://127.0.0.1:{proxy_port}{BANNERS}", connections, seconds)
    finally:
        for server in (proxy, bare):
            server.terminate()
            server.wait()
    env = dict(UNREFUSED_LIMITS)
    if database_url:
        env["CATALOG_DATABASE_URL"] = database_url
    results = []
    with tempfile.TemporaryDirectory() as tmp, running_platform(Path(tmp), env=env) as platform:
        for where, base in ((GATEWAY, platform.url), (DIRECT, platform.service_url("catalog"))):
            for name, path in reads.items():
                progress(f"catalog: {name} {where}")
                wrk.wait_answering(base + path)
                results.append(wrk.run(f"{name} {where}", base + path, connections, seconds))
    return CatalogRun(ceiling, floor, results, "PostgreSQL" if database_url else "SQLite")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--database-url", help="the catalog's database (default: SQLite)")
    args = parser.parse_args()
    run = measure(args.seconds, args.connections, args.database_url)
    banners_via_gateway = run.results[0].rps
    print(f"\n{args.connections} connections, {args.seconds} s each, wrk -t1, catalog on "
          f"{run.database}; ratios to the banners through the gateway\n")
    print(wrk.HEADER.replace("of ceiling", "of banners via gateway"))
    print(run.ceiling.row(None))
    print(run.floor.row(run.ceiling.rps))
    for result in run.results:
        print(result.row(banners_via_gateway))


if __name__ == "__main__":
    main()
