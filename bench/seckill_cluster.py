"""Benchmark: the flash sale through the gateway with two replicas of each service and worker
(`coursestream up --replicas 2`), on one Redis and on a Redis Cluster (the embedded one: 3
masters, 3 replicas), in one run; the cluster's cost as ratios (issue 21).

    .venv/bin/python -m bench.seckill_cluster [--users 5000] [--stock 1000]
        [--connections 100] [--rounds 1]

Each backend gets a fresh platform in turn (both up at once would share two cores with twice
the idle processes): an unmeasured warm-up sale, then `--rounds` measured sales of their own
users and item, by wrk, as in `bench.seckill` (same script, same columns: the CPU columns sum
every replica's process, and every node of the cluster under Redis).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import psutil
import redis as sync_redis
from redis.cluster import ClusterNode

from bench import UNREFUSED_LIMITS
from bench.seckill import (
    HEADER,
    PARTITIONS,
    Result,
    create_item,
    platform_processes,
    run_wrk,
    script_for,
    written_sale,
)
from shared.embedded_redis import DEFAULT_PORT, EmbeddedCluster
from tests.support.platform import running_platform

ONE, CLUSTER = "one Redis, 2 replicas of each", "Redis Cluster 3+3, 2 replicas of each"
REPLICAS = 2
ATTEMPTS = 'function(u) return "/api/v1/seckill/items/%d/attempts" end'

SyncRedis: TypeAlias = sync_redis.Redis | sync_redis.RedisCluster


@dataclass
class Backend:
    env: dict[str, str]  # for the platform: its REDIS_URL (none: its own embedded server)
    processes: list[psutil.Process]  # the cluster's nodes (none: found among the platform's)
    reader: Callable[[int], SyncRedis]  # the bench's own client, given the base port


@contextlib.contextmanager
def redis_backend(name: str, workdir: Path) -> Iterator[Backend]:
    if name == ONE:
        yield Backend({}, [], lambda base: sync_redis.Redis(port=DEFAULT_PORT + base - 8000))
        return
    cluster = EmbeddedCluster(workdir / "cluster").start()
    try:
        yield Backend(
            {"REDIS_URL": cluster.url},
            [psutil.Process(n.process.pid) for n in cluster.nodes if n.process],
            lambda _: sync_redis.RedisCluster(startup_nodes=[
                ClusterNode("127.0.0.1", n.port) for n in cluster.nodes]))
    finally:
        cluster.stop()


def measure(users: int = 5000, stock: int = 1000, connections: int = 100, rounds: int = 1,
            progress: Callable[[str], None] = print) -> list[Result]:
    results: list[Result] = []
    next_user = iter(range(100_000, 10**9, users))
    for name in (ONE, CLUSTER):
        with tempfile.TemporaryDirectory() as tmp, redis_backend(name, Path(tmp)) as backend, \
                running_platform(Path(tmp), replicas=REPLICAS, timeout=180, env={
                    "SECKILL_PARTITIONS": str(PARTITIONS), "LOG_LEVEL": "WARNING",
                    **UNREFUSED_LIMITS, **backend.env}) as platform:
            token = platform.signer()
            admin = token(1, "admin")
            redis = backend.reader(platform.base_port)
            watched = {
                "target": platform_processes(platform, "serve", "gateway"),
                "seckill": platform_processes(platform, "serve", "seckill"),
                "order-writer": platform_processes(platform, "worker", "order-writer"),
                "redis": backend.processes or platform_processes(platform, "valkey-server"),
            }
            for measured in [False] + [True] * rounds:
                first = next(next_user)
                round_users = list(range(first, first + users))
                item = create_item(platform, admin, stock, name)
                script = script_for(round_users, [token(u) for u in round_users],
                                    ATTEMPTS % item)
                progress(f"seckill on {name}: {'sale' if measured else 'warm-up'}")
                result = written_sale(
                    run_wrk(name, platform.url, round_users, script, connections, Path(tmp),
                            watched), redis, platform.var_dir / "seckill.db", item, stock)
                if measured:
                    results.append(result)
            redis.close()
    return results


def overhead(results: list[Result]) -> str:
    """The cluster's figures over one Redis's (the medians of the rounds)."""
    def median(name: str, figure: Callable[[Result], float]) -> float:
        return statistics.median(figure(r) for r in results if r.name == name)

    rps = median(CLUSTER, lambda r: r.rps) / median(ONE, lambda r: r.rps)
    p99 = median(CLUSTER, lambda r: r.p99_ms) / median(ONE, lambda r: r.p99_ms)
    written = (median(CLUSTER, lambda r: r.written_after_s or 0.0)
               / max(0.001, median(ONE, lambda r: r.written_after_s or 0.0)))
    return (f"cluster / one Redis: attempts/s {rps:.2f}, p99 {p99:.2f}, "
            f"last order after last admission {written:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--stock", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    results = measure(args.users, args.stock, args.connections, args.rounds)
    print(f"\n{args.users} distinct users, stock {args.stock}, {args.connections} connections, "
          f"wrk -t1, through the gateway, {REPLICAS} replicas of each service and worker; "
          f"one 2-core machine\n")
    print(HEADER)
    for result in results:
        print(result.row())
    print("\n" + overhead(results))


if __name__ == "__main__":
    main()
