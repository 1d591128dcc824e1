"""Every metric the alert rules and the dashboard read is exported by a running process, read
from the real /metrics of `coursestream up` (so neither can drift from the code)."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from coursestream import registry
from tests.deploy.queries import used_metric_names
from tests.support.platform import Platform

# The names a family of each type puts in the exposition (prometheus_client's parser gives
# counters without `_total`), as PromQL selects them.
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
            "summary": ("", "_sum", "_count"), "gauge": ("",), "info": ("_info",),
            "unknown": ("",)}


def metrics_urls(platform: Platform) -> dict[str, str]:
    """Every process's /metrics: the gateway's admin port, each service, each worker."""
    urls = {"gateway": f"{platform.admin_url}/metrics"}
    for service in registry.SERVICES.keys() - {"gateway"}:
        urls[service] = f"{platform.service_url(service)}/metrics"
    for worker, (_, offset) in registry.WORKER_METRICS_PORTS.items():
        urls[worker] = f"http://127.0.0.1:{platform.base_port + offset}/metrics"
    return urls


def exported_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


def test_every_name_the_rules_and_the_dashboard_use_is_exported(platform: Platform) -> None:
    exported: dict[str, set[str]] = {}
    for process, url in metrics_urls(platform).items():
        with urllib.request.urlopen(url, timeout=10) as response:
            exported[process] = exported_names(response.read().decode())
    everywhere = set().union(*exported.values())
    assert "http_requests_total" in exported["catalog"]  # read the way PromQL names them
    assert "scheduler_fire_lateness_seconds_bucket" in exported["scheduler"]
    missing = used_metric_names() - everywhere
    assert not missing, f"used by deploy/ but exported by no process: {sorted(missing)}"
