"""Stream health on the running platform: every consuming process exports its groups, and
commands run beside `coursestream up` find its (embedded) Redis without REDIS_URL."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

from coursestream import registry
from tests.support.platform import Platform


def metrics(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        return str(response.read().decode())


def test_streams_ls_in_the_folder_of_up_finds_its_redis(platform: Platform) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "VAR_DIR"} and not k.endswith("_DATABASE_URL")}
    folder = platform.var_dir.parent  # where `coursestream up` was started
    result = subprocess.run([sys.executable, "-m", "coursestream", "streams", "ls"],
                            cwd=folder, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    orders = lines.index(next(line for line in lines if line.startswith("seckill:{p0}:orders")))
    assert lines[orders + 1].startswith("  order-writer\t") and "consumers=1" in lines[orders + 1]
    assert any(line.startswith("notify.sms\t") for line in lines)
    assert (platform.var_dir / "up.json").exists()


def test_each_consuming_process_exports_its_groups(platform: Platform) -> None:
    expected = {
        platform.service_url("catalog"): ('stream="catalog.commands"', 'group="catalog"'),
        platform.service_url("seckill"): ('stream="seckill.commands"', 'group="seckill"'),
        platform.service_url("scheduler"): ('stream="scheduler.requests"', 'group="scheduler"'),
    }
    for worker, stream, group in (("order-writer", "seckill:{p0}:orders", "order-writer"),
                                  ("sms-sender", "notify.sms", "sms-sender")):
        port = platform.base_port + registry.WORKER_METRICS_PORTS[worker][1]
        expected[f"http://127.0.0.1:{port}"] = (f'stream="{stream}"', f'group="{group}"')
    for url, (stream, group) in expected.items():
        lines = [line for line in metrics(url).splitlines()
                 if line.startswith("stream_group_consumers{") and stream in line]
        assert lines and group in lines[0] and not lines[0].endswith(" 0.0"), (url, lines)
    assert "seckill_invariant_drift{" in metrics(platform.service_url("seckill"))
