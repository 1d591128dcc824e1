"""Benchmark: GET /api/v1/catalog/banners on the catalog directly and through the gateway,
next to a bare aiohttp handler (the ceiling), all in one run on this machine.

    .venv/bin/python -m bench.catalog_http [--seconds 10] [--connections 50]

Needs `wrk` (apt-get install wrk). Starts `coursestream up` in a temporary directory (embedded
Redis, SQLite, demo data) and a bare server, then measures each in turn.
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

PATH = "/api/v1/catalog/banners"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    results = []
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "bench.bare_server", str(port)])
    try:
        wrk.wait_answering(f"http://127.0.0.1:{port}/")
        results.append(wrk.run("bare aiohttp handler (fixed bytes)",
                               f"http://127.0.0.1:{port}{PATH}", args.connections, args.seconds))
    finally:
        bare.terminate()
        bare.wait()
    with tempfile.TemporaryDirectory() as tmp, running_platform(
            Path(tmp), env=UNREFUSED_LIMITS) as platform:
        for name, base in (("catalog direct", platform.service_url("catalog")),
                           ("through the gateway", platform.url)):
            wrk.wait_answering(base + PATH)
            results.append(wrk.run(f"{PATH} {name}", base + PATH, args.connections,
                                   args.seconds))
    ceiling = results[0].rps
    print(f"\n{args.connections} connections, {args.seconds} s each, wrk -t1\n")
    print(wrk.HEADER)
    for result in results:
        print(result.row(None if result is results[0] else ceiling))


if __name__ == "__main__":
    main()
