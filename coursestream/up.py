"""`coursestream up`: the whole platform on one machine, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from coursestream import addresses, registry
from shared.auth import ensure_dev_keypair
from shared.db import migrate
from shared.embedded_redis import DEFAULT_PORT, EmbeddedCluster, EmbeddedRedis
from shared.settings import Settings

DEMO_LOGINS = (
    "admin  phone 13800000000  password admin12345",
    "user   phone 13900000000  password user12345",
)


def load_demo_data() -> list[str]:
    """Each service loads its demo data once; returns what happened, a line per service."""
    lines = []
    for service in registry.SERVICES.values():
        if service.demo is None:
            continue
        loaded = asyncio.run(service.demo()(service.settings()))
        lines.append(f"{service.name}: demo data {'loaded' if loaded else 'already present'}")
    return lines


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} was not ready after {timeout} s")


# Replica r (from 0) of a service or worker listens on its port + REPLICA_PORT_STEP * r.
REPLICA_PORT_STEP = 100


def run_platform(host: str, base_port: int, replicas: int = 1,
                 redis_cluster: bool = False) -> int:
    settings = Settings()
    var_dir = settings.var_dir
    var_dir.mkdir(parents=True, exist_ok=True)
    if (other := addresses.running(var_dir)) is not None:
        print(f"coursestream up is already running on {var_dir} (pid {other[0]})")
        return 1
    ensure_dev_keypair(var_dir)
    env = dict(os.environ)
    redis = None if settings.redis_url else _start_redis(var_dir, base_port, redis_cluster)
    if redis is not None:
        env["REDIS_URL"] = redis.url
    os.environ.update(env)  # migrations and demo data below read the same settings

    ports = {name: base_port + i for i, name in enumerate(registry.SERVICES)}
    public = env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{ports['gateway']}")
    for name, port in ports.items():
        env[f"{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
        if name != "gateway" and replicas > 1:  # the gateway balances over them
            env[f"UPSTREAM_{name.upper()}_URLS"] = ",".join(
                f"http://127.0.0.1:{port + REPLICA_PORT_STEP * r}" for r in range(replicas))
    env["GATEWAY_ADMIN_PORT"] = str(base_port + 9)
    # On one machine no balancer routes around a draining process: Ctrl-C stops at once.
    env.setdefault("DRAIN_S", "0")
    stop_timeout = float(env["DRAIN_S"]) + settings.shutdown_timeout_s + 5
    env.setdefault("WORKER_METRICS_HOST", "127.0.0.1")  # one machine: nobody scrapes from afar

    _build_web(env)
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for service in registry.DATABASE_SERVICES:
            migrate(service, registry.SERVICES[service].settings().database_url)
        for line in load_demo_data():
            print(line)
        command = [sys.executable, "-m", "coursestream"]
        ready: dict[str, int] = {}
        for r in range(replicas):
            # One gateway (the public door); `replicas` of each service and worker, each its
            # own consumer in the groups.
            suffix = f"-{r + 1}" if replicas > 1 else ""
            step = REPLICA_PORT_STEP * r
            child_env = env | ({"CONSUMER_NAME": f"{socket.gethostname()}-up{suffix}"}
                               if replicas > 1 else {})
            for service in registry.SERVICES:
                if service == "gateway" and r > 0:
                    continue
                port = ports[service] + step
                children[service + suffix] = subprocess.Popen(
                    [*command, "serve", service, "--host", host if service == "gateway"
                     else "127.0.0.1", "--port", str(port)], env=child_env)
                ready[service + suffix] = port
            for name, worker in registry.WORKERS.items():
                metrics_port = base_port + worker.metrics_port_offset + step
                children[name + suffix] = subprocess.Popen(
                    [*command, "worker", name],
                    env=child_env | {worker.metrics_port_setting: str(metrics_port)})
        for name, port in ready.items():
            _wait_ready(f"http://127.0.0.1:{port}/readyz", children[name])
        found = addresses.write(var_dir, _platform_settings(env, var_dir))
        print(f"\ncoursestream is up: {public}/\n  API docs: {public}/api/docs")
        print(f"  Redis: {_without_password(env['REDIS_URL'])}; other coursestream commands "
              f"run here use it and these databases ({found})")
        print("  demo logins:\n    " + "\n    ".join(DEMO_LOGINS))
        print("Ctrl-C stops everything.\n", flush=True)
        return _supervise(children)
    except KeyboardInterrupt:
        return 0
    finally:
        addresses.remove(var_dir)
        _stop_all(children, stop_timeout)
        if redis is not None:
            redis.stop()
            print("embedded Redis stopped")


def _start_redis(var_dir: Path, base_port: int,
                 cluster: bool) -> EmbeddedRedis | EmbeddedCluster:
    if cluster:
        # Fresh each time: the nodes take free ports, which a restart would not find again.
        shutil.rmtree(var_dir / "redis-cluster", ignore_errors=True)
        nodes = EmbeddedCluster(var_dir / "redis-cluster").start()
        print(f"embedded Redis Cluster (valkey, 3 masters, 3 replicas, no persistence) on "
              f"{nodes.url}")
        return nodes
    server = EmbeddedRedis(var_dir / "redis", port=DEFAULT_PORT + base_port - 8000).start()
    print(f"embedded Redis (valkey) on {server.url}, append-only file in {server.data_dir}")
    return server


def _platform_settings(env: dict[str, str], var_dir: Path) -> dict[str, str]:
    """What another command needs to find this platform: its Redis, its database folder (the
    SQLite files) and the database URLs it was given."""
    found = {"REDIS_URL": env["REDIS_URL"], "VAR_DIR": str(var_dir.resolve())}
    found.update({k: v for k, v in env.items() if k.endswith("_DATABASE_URL")})
    return found


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _build_web(env: dict[str, str]) -> None:
    """Build web/dist when missing or stale; the gateway serves it (WEB_DIST_DIR).
    A failed build leaves the API running: the page is reported missing, not the platform."""
    from coursestream.web_client import DIST, WebBuildError, ensure_built

    try:
        if ensure_built():
            print("web page built into web/dist")
    except (WebBuildError, OSError, subprocess.CalledProcessError) as exc:
        print(f"web page not built ({exc}); the API still runs")
    if (DIST / "index.html").exists():
        env.setdefault("WEB_DIST_DIR", str(DIST))


def _supervise(children: dict[str, subprocess.Popen[bytes]]) -> int:
    stop = {"now": False}

    def on_signal(_signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop["now"]:
        for name, process in children.items():
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping the platform")
                return 1
        time.sleep(0.5)
    return 0


def _stop_all(children: dict[str, subprocess.Popen[bytes]], timeout: float = 15) -> None:
    for process in children.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in children.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
