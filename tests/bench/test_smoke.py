"""A smoke run of every benchmark (`bench.run_all --quick`: small counts, about a second per
target) into a temporary directory: the benchmarks still run end to end, and the figures they
report hold what must hold whatever the machine's speed. The benchmarks themselves (minutes,
on an idle machine) stay out of the test command."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import catalog_http, run_all, seckill, seckill_cluster
from tests.support.packages import ensure_command

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(autouse=True, scope="module")
def wrk() -> str:
    return ensure_command("wrk", "wrk")


@pytest.mark.timeout(300)
def test_every_benchmark_runs_and_reports(tmp_path: Path) -> None:
    lines: list[str] = []
    report = run_all.run(quick=True, print_line=lines.append)
    assert any(line.startswith("[3/3") for line in lines), lines  # progress through every step

    # Catalog: every read answered, with no error, and the ratios are to this run's ceiling.
    catalog = report.catalog
    assert [r.name for r in catalog.results] == [
        f"{name} {where}" for where in (catalog_http.GATEWAY, catalog_http.DIRECT)
        for name in run_all.QUICK_READS]
    for result in [catalog.ceiling, catalog.floor, *catalog.results]:
        assert result.rps > 0 and result.errors == 0, result
        assert 0 < result.p50_ms <= result.p99_ms
        assert [p for p, _ in result.distribution] == list(catalog_http.wrk.PERCENTILES)

    # Flash sale: each target sold exactly its stock, one unit per user, all orders written.
    assert [s.name for s in report.sales] == [seckill.CEILING, seckill.FLOOR, seckill.DIRECT,
                                              seckill.GATEWAY, seckill.GATEWAY_SEEN]
    for sale in report.sales:
        assert sale.statuses.get(202) == report.stock, sale.statuses
        assert set(sale.statuses) <= {202, 409}, sale.statuses
        assert sale.written_after_s is not None and sale.written_after_s < 10
        assert sum(s.admitted_per_s for s in sale.timeline) * seckill.TIMELINE_S == pytest.approx(
            report.stock)
        assert sale.timeline[-1].backlog == 0  # every admitted order ends up written
    # The gateway and the service echo the request id: their latency is known per answer.
    gateway = report.sales[3]
    assert all(ms >= 0 for _, ms in gateway.samples)
    assert any(s.p99_ms is not None for s in gateway.timeline)

    # Scheduler: every due delay moved once, every per-second run fired once.
    for delays in report.delays:
        assert delays.moved == delays.due and delays.duplicates == 0, delays
    assert report.delays[0].bytes_per_delay is not None and report.delays[0].bytes_per_delay > 0
    for schedules in report.schedules:
        assert schedules.expected == schedules.schedules * schedules.seconds
        assert (schedules.missed, schedules.duplicates) == (0, 0), schedules
    assert [s.replicas for s in report.schedules] == [1, 2]

    # The report: only the generated part of the document is replaced, and the plots drawn.
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\n{run_all.BEGIN}\nstale generated part\n{run_all.END}\n"
                   "\n## By hand\n\nkept\n")
    run_all.write(report, doc, tmp_path / "plots")
    text = doc.read_text()
    assert "stale generated part" not in text and text.endswith("## By hand\n\nkept\n")
    assert text.count(run_all.BEGIN) == 1 and "| through the gateway |" in text
    for name in (run_all.SALE_PLOT, run_all.LATENCY_PLOT):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"(plots/{name})" in text


@pytest.mark.cluster
@pytest.mark.timeout(300)
def test_the_cluster_benchmark_sells_the_stock_on_both_backends() -> None:
    """`bench.seckill_cluster`, tiny: two platforms of two replicas each, one sale on each."""
    results = seckill_cluster.measure(users=200, stock=20, connections=20, rounds=1,
                                      progress=lambda _: None)
    assert [r.name for r in results] == [seckill_cluster.ONE, seckill_cluster.CLUSTER]
    for sale in results:
        assert sale.statuses.get(202) == 20 and set(sale.statuses) <= {202, 409}, sale.statuses
        assert sale.written_after_s is not None and sale.timeline[-1].backlog == 0
        assert sale.cpu_us is not None and sale.cpu_us["redis"] > 0
    assert seckill_cluster.overhead(results).startswith("cluster / one Redis: attempts/s ")
