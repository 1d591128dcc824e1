"""deploy/grafana/coursestream.json: a dashboard Grafana can import, whose every query parses,
covering what the issue asks (which names each process exports: tests/e2e/test_metric_names.py)."""

from __future__ import annotations

import json

import promql_parser
import pytest

from tests.deploy.queries import DASHBOARD, dashboard_panels, dashboard_queries, metric_names


def test_the_dashboard_is_importable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "coursestream" and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "service"} <= variables
    for panel in dashboard_panels():
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]) and panel["gridPos"]["x"] + \
            panel["gridPos"]["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_every_query_parses() -> None:
    queries = dashboard_queries()
    assert len(queries) > 30
    for query in queries:
        promql_parser.parse(query)
    with pytest.raises(ValueError):  # the parse can fail
        promql_parser.parse("sum by (route (rate(http_requests_total[1m]))")


def test_it_shows_what_an_operator_needs() -> None:
    """Request rates, errors and latency per route; seckill attempts and admissions; the order
    writer's lag; stream health; scheduler lateness; banner cache hits."""
    queries = dashboard_queries()
    names = set().union(*(metric_names(q) for q in queries))
    assert {"http_requests_total", "http_request_duration_seconds_bucket",
            "seckill_attempts_total", "scheduler_fire_lateness_seconds_bucket",
            "catalog_banner_cache_hits_total", "stream_group_lag", "stream_group_pending",
            "stream_group_oldest_pending_seconds", "stream_group_consumers",
            "stream_dead_letters", "stream_length"} <= names
    assert any("by (service, route)" in q and 'status=~"5.."' in q for q in queries)
    assert any('outcome="admitted"' in q for q in queries)
    assert any('group="order-writer"' in q and "stream_group_lag" in q for q in queries)
