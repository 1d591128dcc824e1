"""`coursestream up` from a user's point of view: starts, prints, stops cleanly, restarts."""

from __future__ import annotations

import json
import socket
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from coursestream import registry
from shared.embedded_redis import DEFAULT_PORT
from tests.support.platform import OFFSETS, running_platform


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def demo_sales(url: str) -> dict[str, dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/seckill/items", timeout=5) as response:
        return {item["state"]: item for item in json.loads(response.read())["results"]}


def test_up_prints_the_address_stops_on_ctrl_c_and_keeps_data(tmp_path: Path) -> None:
    with running_platform(tmp_path) as platform:
        ports = [platform.base_port + o for o in OFFSETS[:5]]  # services and gateway admin
        redis_port = DEFAULT_PORT + platform.base_port - 8000
        assert all(listening(p) for p in [*ports, redis_port])
        for worker, metric in (("order-writer", "seckill_order_writer_batch_size"),
                               ("sms-sender", "sms_sent_total")):
            port = platform.base_port + registry.WORKER_METRICS_PORTS[worker][1]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                assert metric in r.read().decode(), worker
                assert "Server" not in r.headers, worker  # no software or Python version
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                assert r.status == 200, worker
        first = demo_sales(platform.url)
        assert set(first) == {"live", "upcoming", "ended"}  # services/seckill/demo.py
        # Other commands in this folder find this Redis through var/up.json.
        found = json.loads((platform.var_dir / "up.json").read_text())["env"]
        assert found["REDIS_URL"] == f"redis://127.0.0.1:{redis_port}/0"
    log = platform.log()
    assert platform.process.returncode == 0, log[-3000:]
    assert f"coursestream is up: {platform.url}/" in log
    assert "13800000000" in log  # the demo logins are printed
    assert "embedded Redis stopped" in log
    assert f"Redis: redis://127.0.0.1:{redis_port}" in log
    assert not (platform.var_dir / "up.json").exists()  # removed on exit
    assert not any(listening(p) for p in [*ports, redis_port])
    assert list((platform.var_dir / "redis").glob("appendonly*"))  # the AOF is under var/
    assert all((platform.var_dir / f"{s}.db").exists()
               for s in ("catalog", "gateway"))

    # A second start finds its data: demo data is not loaded twice.
    # The demo sales are moved to the present again: still one live, one upcoming, one over.
    with running_platform(tmp_path) as again:
        second = demo_sales(again.url)
    assert set(second) == {"live", "upcoming", "ended"}
    assert {state: item["id"] for state, item in second.items()} \
        == {state: item["id"] for state, item in first.items()}
    assert datetime.fromisoformat(second["live"]["starts_at"]) \
        > datetime.fromisoformat(first["live"]["starts_at"])
    assert "demo data already present" in again.log()
    assert "demo data loaded" not in again.log()
