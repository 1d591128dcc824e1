"""deploy/prometheus/rules.yml: valid (`promtool check rules`), each alert fired and not fired
by its unit tests (`promtool test rules`), and each one a summary, a severity and a runbook
section that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.tools import ROOT, promtool

RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests" / "rules.test.yml"
RUNBOOK = ROOT / "docs" / "operations.md"
SEVERITIES = {"critical", "warning"}


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def heading_anchors(markdown: Path) -> set[str]:
    """The anchors GitHub gives a document's headings."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", markdown.read_text(), re.MULTILINE):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *argv], capture_output=True, text=True, cwd=ROOT)


def test_promtool_accepts_the_rules() -> None:
    result = run("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_prometheus_loads_the_rules_with_its_scrape_config() -> None:
    checked = run("check", "config", "deploy/prometheus/prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "rules.yml" in checked.stdout  # the rule file is loaded, not only present


def test_each_alert_fires_and_stays_quiet_as_its_unit_tests_say() -> None:
    result = run("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_unit_tests_can_fail(tmp_path: Path) -> None:
    """A unit test that expects silence where the rule fires is reported as failing."""
    text = RULE_TESTS.read_text().replace("- {eval_time: 5m, alertname: StreamConsumerLag",
                                          "- {eval_time: 10m, alertname: StreamConsumerLag")
    broken = tmp_path / "rules.test.yml"
    broken.write_text(text.replace("rule_files: [../rules.yml]", f"rule_files: [{RULES}]"))
    result = run("test", "rules", str(broken))
    assert result.returncode != 0 and "StreamConsumerLag" in result.stdout + result.stderr


def test_each_alert_is_tested_firing_and_not_firing() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names == fired == quiet


def test_each_alert_has_a_summary_a_severity_and_a_runbook_section() -> None:
    anchors = heading_anchors(RUNBOOK)
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names)) >= 10
    for rule in alerts():
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        path, anchor = rule["annotations"]["runbook_url"].split("#")
        assert path == "docs/operations.md" and anchor in anchors, rule["alert"]
        assert anchor == rule["alert"].lower()  # one section per alert, named for it


def test_the_issue_s_alerts_are_all_there() -> None:
    """Lag and oldest pending age per group, dead letters, seckill drift, scheduler lateness,
    missed runs and leader, 5xx ratio per route, targets down, readiness."""
    exprs = {rule["alert"]: rule["expr"] for rule in alerts()}
    wanted = {
        "StreamConsumerLag": "stream_group_lag", "StreamDeadLetters": "stream_dead_letters",
        "StreamOldestPendingAge": "stream_group_oldest_pending_seconds",
        "SeckillInvariantDrift": "seckill_invariant_drift",
        "SchedulerFiresLate": "scheduler_fire_lateness_seconds_bucket",
        "SchedulerMissedRuns": "scheduler_missed_runs_total", "SchedulerNoLeader": "[30s]",
        "HttpErrorRatio": "by (service, route)", "TargetDown": "up == 0",
        "ReadinessFailing": "/readyz",
    }
    for name, needle in wanted.items():
        if needle == "[30s]":
            rule = next(r for r in alerts() if r["alert"] == name)
            assert rule["for"] == "30s" and "scheduler_leader" in exprs[name]
        else:
            assert needle in exprs[name], name
