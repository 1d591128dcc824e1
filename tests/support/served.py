"""One more service process (`coursestream serve <service> --port P`) beside a running
platform, on its VAR_DIR (databases, signing key) and its Redis: a replica, or a gateway in
front of replicas."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.embedded_redis import DEFAULT_PORT, free_port
from tests.support.platform import Platform, answers_ok


@dataclass
class Served:
    service: str
    platform: Platform
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Served:
        """Start it (again, on the same port) and wait until its /readyz answers 200."""
        env = {k: v for k, v in os.environ.items()
               if not k.endswith("_DATABASE_URL") and k not in {"REDIS_URL", "ENV"}}
        redis_port = DEFAULT_PORT + self.platform.base_port - 8000  # the platform's embedded
        env.update({"VAR_DIR": str(self.platform.var_dir), "LOG_JSON": "true",
                    "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                    "PUBLIC_BASE_URL": self.platform.url, **self.env})
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "coursestream", "serve", self.service,
                 "--port", str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not answers_ok(f"{self.url}/readyz"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.service} did not come up:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        return self

    def signal(self, signum: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)  # in case a test left it paused
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
