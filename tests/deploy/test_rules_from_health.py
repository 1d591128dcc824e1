"""The stream alerts fire on the shape real stream health has: a group whose consumer stopped
while entries were published, read from real Redis by shared.stream_health and exported as
/metrics renders it, then given to `promtool test rules` as ten minutes of those figures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from shared.events import Envelope, publish
from shared.stream_health import StreamHealthCollector, read_health
from shared.streams import dead_letter
from tests.deploy.test_rules import RULES, run

pytestmark = pytest.mark.integration

STREAM, GROUP = "notify.sms", "sms-sender"
LABELS = {"stream": STREAM, "group": GROUP}


async def exported(redis: Redis) -> dict[str, float]:
    """One health pass, exported: each group gauge's value for (STREAM, GROUP)."""
    registry = CollectorRegistry()
    StreamHealthCollector(registry).update(await read_health(redis, {STREAM: None}))
    text = generate_latest(registry).decode()
    return {s.name: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.labels == LABELS}


def series(name: str, values: str) -> dict[str, str]:
    return {"series": f'{name}{{stream="{STREAM}", group="{GROUP}"}}', "values": values}


def rule_test(path: Path, figures: dict[str, float], alerts: list[str]) -> None:
    """`promtool test rules` on ten minutes of `figures` (the oldest pending entry ageing as
    time goes), expecting exactly `alerts` to fire at the end."""
    lag, age = figures["stream_group_lag"], int(figures["stream_group_oldest_pending_seconds"])
    expected = {
        "StreamConsumerLag": f"{GROUP} on {STREAM} has been {lag:g} entries behind or more "
                             "for 5 minutes",
        "StreamOldestPendingAge": f"{GROUP} on {STREAM} has an entry pending for 10m {age}s",
        "StreamDeadLetters": f"New dead letters from {GROUP} on {STREAM}",
    }
    dead = figures["stream_dead_letters"]
    ageing = f"{age}+60x10" if figures["stream_group_pending"] else f"{age}x10"
    spec = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "15s",
        "tests": [{
            "interval": "1m",
            "input_series": [
                series("stream_group_lag", f"{lag:g}x10"),
                series("stream_group_pending", f"{figures['stream_group_pending']:g}x10"),
                series("stream_group_oldest_pending_seconds", ageing),
                series("stream_dead_letters", f"0x4 {dead:g}x6"),
            ],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": name, "exp_alerts": [
                    {"exp_labels": {**LABELS, "severity": "warning"},
                     "exp_annotations": {"summary": summary,
                                         "runbook_url": f"docs/operations.md#{name.lower()}"}},
                ] if name in alerts else []}
                for name, summary in expected.items()
            ],
        }],
    }
    path.write_text(yaml.safe_dump(spec))
    result = run("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


async def test_a_stopped_consumer_fires_the_lag_pending_and_dead_letter_alerts(
        redis: Redis, tmp_path: Path) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="$", mkstream=True)
    sms = Envelope(type="sms.send", producer="test", data={"phone": "13800000000", "text": "hi"})
    first = [await publish(redis, STREAM, sms) for _ in range(2)]
    # The consumer read both, then stopped: neither acknowledged; one ended in the dead letters.
    await redis.xreadgroup(GROUP, "stopped", {STREAM: ">"}, count=2)
    await dead_letter(redis, STREAM, GROUP, first[0], {"__data__": "x"}, "provider down", 5)
    for _ in range(3):  # published while nobody reads
        await publish(redis, STREAM, sms)
    figures = await exported(redis)
    assert figures["stream_group_lag"] == 3 and figures["stream_dead_letters"] == 1
    assert figures["stream_group_pending"] >= 1
    rule_test(tmp_path / "stopped.test.yml", figures,
              ["StreamConsumerLag", "StreamOldestPendingAge", "StreamDeadLetters"])


async def test_a_consumer_that_keeps_up_fires_none(redis: Redis, tmp_path: Path) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="$", mkstream=True)
    sms = Envelope(type="sms.send", producer="test", data={"phone": "13800000000", "text": "hi"})
    for _ in range(3):
        await publish(redis, STREAM, sms)
    for _, entries in await redis.xreadgroup(GROUP, "live", {STREAM: ">"}):
        await redis.xack(STREAM, GROUP, *[entry_id for entry_id, _ in entries])
    figures = await exported(redis)
    assert figures["stream_group_lag"] == figures["stream_group_pending"] == 0
    assert figures["stream_dead_letters"] == 0
    rule_test(tmp_path / "live.test.yml", figures, [])
