"""The whole platform as `coursestream up` runs it, in a temporary VAR_DIR, for e2e tests."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from coursestream import registry
from coursestream.up import REPLICA_PORT_STEP
from shared.auth import is_signing_key, token_claims
from shared.embedded_redis import DEFAULT_PORT, listen_ports, port_free
from shared.settings import JWT_ALGORITHM

# gateway, catalog, seckill, scheduler, gateway admin, then the workers' metrics ports
OFFSETS = (0, 1, 2, 3, 9, *(offset for _, offset in registry.WORKER_METRICS_PORTS.values()))


def free_base_port(replicas: int = 1) -> int:
    """A base port whose service ports (of each replica) and embedded Redis port are all
    free, below the ephemeral range (`shared.embedded_redis.listen_ports`: `up` polls each
    port before its service listens)."""
    ports = listen_ports()
    for _ in range(200):
        base = random.randrange(ports.start, ports.stop - 10, 10)
        wanted = [base + o + REPLICA_PORT_STEP * r for o in OFFSETS for r in range(replicas)]
        wanted.append(DEFAULT_PORT + base - 8000)
        if all(p in ports and port_free(p) for p in wanted):
            return base
    raise RuntimeError("no free port range")


@dataclass
class Platform:
    process: subprocess.Popen[bytes]
    base_port: int
    var_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.base_port}"

    def service_url(self, service: str, replica: int = 0) -> str:
        port = self.base_port + list(registry.SERVICES).index(service)
        return f"http://127.0.0.1:{port + REPLICA_PORT_STEP * replica}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.base_port + 9}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sent_sms(self, phone: str) -> list[dict[str, Any]]:
        """What the SMS sender (console provider) wrote to this phone so far, oldest first."""
        outbox = self.var_dir / "sms-outbox.jsonl"
        lines = outbox.read_text().splitlines() if outbox.exists() else []
        return [m for m in map(json.loads, lines) if m["phone"] == phone]

    def signer(self) -> Callable[..., str]:
        """`sign(user_id, *roles)`: a token of the platform's own dev key (`var/`), for as
        many users as a load needs without logging each in. The key is loaded once (PyJWT
        given PEM bytes loads and checks an RSA key on every call)."""
        key = serialization.load_pem_private_key(
            (self.var_dir / "jwt-private.pem").read_bytes(), password=None)
        assert is_signing_key(key)

        def sign(user: int, *roles: str) -> str:
            return jwt.encode(token_claims(user, f"139{user % 10**8:08d}", roles,
                                           session_id=f"test-{user}", token_version=0,
                                           ttl_s=3600), key, algorithm=JWT_ALGORITHM)

        return sign


def answers_ok(url: str) -> bool:
    """True when a GET of `url` answers 200 within a second."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def running_platform(workdir: Path, env: dict[str, str] | None = None,
                     timeout: float = 120, replicas: int = 1) -> Iterator[Platform]:
    """Start `coursestream up` (embedded Redis unless REDIS_URL is given in `env`), wait until
    every service answers /readyz, yield, then stop it with SIGINT as a user's Ctrl-C would."""
    base = free_base_port(replicas)
    var_dir = workdir / "var"
    log_path = workdir / "platform.log"
    child_env = {k: v for k, v in os.environ.items()
                 if not k.endswith("_DATABASE_URL") and k not in {"REDIS_URL", "ENV"}}
    child_env.update({"VAR_DIR": str(var_dir), "PUBLIC_BASE_URL": f"http://127.0.0.1:{base}",
                      "LOG_JSON": "true", **(env or {})})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "coursestream", "up", "--base-port", str(base),
             "--replicas", str(replicas)],
            env=child_env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
        )
    platform = Platform(process, base, var_dir, log_path)
    try:
        deadline = time.monotonic() + timeout
        services = registry.available_services()
        while "coursestream is up" not in platform.log() or not all(
            answers_ok(f"{platform.service_url(s)}/readyz") for s in services
        ):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"platform did not come up:\n{platform.log()[-5000:]}")
            time.sleep(0.3)
        yield platform
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
