"""Scheduler replicas as real processes (`coursestream serve scheduler`) for fault tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from shared.embedded_redis import free_port

LEASE_KEY = "{scheduler:leader}"


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready in {within} s; see {self.log}")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Replicas:
    env: dict[str, str]
    workdir: Path
    started: list[Replica] = field(default_factory=list)

    def start(self, name: str) -> Replica:
        port = free_port()
        log = self.workdir / f"{name}.log"
        env = {**self.env, "CONSUMER_NAME": name}
        process = subprocess.Popen(
            [sys.executable, "-m", "coursestream", "serve", "scheduler", "--port", str(port)],
            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )
        replica = Replica(name, port, process, log)
        self.started.append(replica)
        replica.wait_ready()
        return replica

    def by_pid(self, pid: int) -> Replica:
        return next(r for r in self.started if r.process.pid == pid)


@contextmanager
def replicas(redis_url: str, database_url: str, public_key: str, workdir: Path,
             **settings: str) -> Iterator[Replicas]:
    env = {
        **os.environ, "ENV": "test", "REDIS_URL": redis_url,
        "SCHEDULER_DATABASE_URL": database_url, "JWT_PUBLIC_KEY": public_key,
        "VAR_DIR": str(workdir), "LOG_JSON": "true",
        "SCHEDULER_TARGET_STREAMS": '["test.out"]', "DRAIN_S": "0", **settings,
    }
    group = Replicas(env, workdir)
    try:
        yield group
    finally:
        for replica in group.started:
            replica.stop()


def lease_pid(value: bytes | None) -> int | None:
    """The process holding the lease `<token>:<host>:<pid>:<nonce>`."""
    if not value:
        return None
    return int(value.decode().split(":")[2])
