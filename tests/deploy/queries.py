"""The PromQL of deploy/prometheus/rules.yml and deploy/grafana/coursestream.json, and the
metric names it reads (parsed by `promql-parser`, not matched by pattern)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import promql_parser
import yaml

from tests.deploy.tools import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "coursestream.json"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
# Made by Prometheus itself for each scrape, never exported by a process.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# Grafana's variables, replaced as Grafana would before the query is sent.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$service": ".*"}


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        yield from [panel, *panel.get("panels", [])]


def dashboard_queries() -> list[str]:
    queries = []
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            queries.append(expr)
    return queries


def rule_queries() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """Every metric an expression selects."""
    return set(_names(promql_parser.parse(expr)))


def _names(node: Any) -> Iterator[str]:
    if isinstance(node, promql_parser.VectorSelector):
        if node.name:
            yield node.name
        return
    for attribute in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attribute, None)
        if child is not None:
            yield from _names(child)
    for child in getattr(node, "args", None) or []:
        yield from _names(child)


def used_metric_names() -> set[str]:
    """What the rules and the dashboard read that some process must export."""
    names = set().union(*(metric_names(q) for q in [*rule_queries(), *dashboard_queries()]))
    return names - PROMETHEUS_OWN
