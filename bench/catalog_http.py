"""Benchmark: the catalog's public reads (the banner list, course pages, a course's detail, and
an uncached search) on the catalog directly and through the gateway, next to a bare aiohttp
handler (the ceiling), all in one run on this machine.

    .venv/bin/python -m bench.catalog_http [--seconds 10] [--connections 50]
        [--database-url postgresql://postgres@127.0.0.1:5432/bench_catalog]

Needs `wrk` (apt-get install wrk). Starts `coursestream up` in a temporary directory (embedded
Redis, SQLite or the given database for the catalog, demo data) and a bare server, then
measures each in turn. Each row's ratio is to the banner list through the gateway (issue 19's
measure: course pages at least 60% of it), the bare handler's to itself.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import UNREFUSED_LIMITS, wrk
from shared.embedded_redis import free_port
from tests.support.platform import running_platform

BANNERS = "/api/v1/catalog/banners"
READS = {
    "banners": BANNERS,
    "course list (cached)": "/api/v1/catalog/courses?kind=free&page_size=20",
    "course list by category, price (cached)":
        "/api/v1/catalog/courses?kind=actual&category=1&ordering=-price&page=1",
    "course detail (cached)": "/api/v1/catalog/courses/1",
    "course search (never cached)": "/api/v1/catalog/courses?search=python",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--database-url", help="the catalog's database (default: SQLite)")
    args = parser.parse_args()
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "bench.bare_server", str(port)])
    try:
        wrk.wait_answering(f"http://127.0.0.1:{port}/")
        ceiling = wrk.run("bare aiohttp handler (fixed bytes)",
                          f"http://127.0.0.1:{port}{BANNERS}", args.connections, args.seconds)
    finally:
        bare.terminate()
        bare.wait()
    env = dict(UNREFUSED_LIMITS)
    if args.database_url:
        env["CATALOG_DATABASE_URL"] = args.database_url
    results = []
    with tempfile.TemporaryDirectory() as tmp, running_platform(Path(tmp), env=env) as platform:
        for where, base in (("through the gateway", platform.url),
                            ("catalog direct", platform.service_url("catalog"))):
            for name, path in READS.items():
                wrk.wait_answering(base + path)
                results.append(wrk.run(f"{name} {where}", base + path, args.connections,
                                       args.seconds))
    banners_via_gateway = results[0].rps
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n{args.connections} connections, {args.seconds} s each, wrk -t1, catalog on "
          f"{database}; ratios to the banners through the gateway\n")
    print(wrk.HEADER.replace("of ceiling", "of banners via gateway"))
    print(ceiling.row(None))
    for result in results:
        print(result.row(banners_via_gateway))


if __name__ == "__main__":
    main()
