"""Every benchmark in one go, and the report: one table in docs/benchmarks.md with each figure
beside its ceiling or floor as a ratio, and PNG plots in docs/benchmarks/.

    .venv/bin/python -m bench.run_all [--quick] [--doc docs/benchmarks.md]
        [--plots docs/benchmarks]

Runs, in this order, on this machine: the catalog's reads (bench.catalog_http: the bare
handler as the ceiling, the minimal proxy in front of it as the floor of two hops, the banner
list, the course pages cached and a search uncached, directly and through the gateway), the
flash sale (bench.seckill: the same ceiling and floor, the seckill service directly and
through the gateway) and the scheduler (bench.scheduler: a million pending delays, 1,000
per-second schedules on one and two replicas). A progress line is printed as each step
starts. Only the part of `--doc` between the run_all markers is replaced (added at the top
when missing). `--quick`: small counts, a few seconds per benchmark (the smoke test's run).
`--save FILE` keeps the figures, `--load FILE` redraws the report from them. Run it at
normal priority (not under `nice`): the targets compete with whatever else runs.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.ticker import FixedLocator, FuncFormatter

from bench import catalog_http, scheduler, seckill, wrk

BEGIN, END = "<!-- run_all:begin -->", "<!-- run_all:end -->"
SALE_PLOT, LATENCY_PLOT = "sale-over-time.png", "latency-distribution.png"
COURSE_PAGE_AIM, SEARCH_AIM, SECKILL_AIM, SECKILL_P99_AIM = 0.60, 500, 0.85, 1.3
DELAY_P99_AIM_MS = 50


@dataclass
class Row:
    benchmark: str
    target: str
    figure: str  # the figure itself, with its unit
    ratio: str  # of the reference
    reference: str  # which ceiling or floor
    p50_ms: float | None
    p99_ms: float | None
    notes: str = ""

    def line(self) -> str:
        def ms(value: float | None) -> str:
            return "" if value is None else f"{value:,.1f}"

        return (f"| {self.benchmark} | {self.target} | {self.figure} | {self.ratio} | "
                f"{self.reference} | {ms(self.p50_ms)} | {ms(self.p99_ms)} | {self.notes} |")


HEADER = ("| benchmark | target | figure | of reference | reference | p50 ms | p99 ms | notes |\n"
          "| --- | --- | ---: | ---: | --- | ---: | ---: | --- |")


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def catalog_rows(run: catalog_http.CatalogRun) -> list[Row]:
    ceiling, floor = run.ceiling, run.floor
    banners_gateway = next(r for r in run.results if r.name.startswith("banners ")
                           and r.name.endswith(catalog_http.GATEWAY))
    bench = f"catalog GET, 50 conn., {run.database}"
    rows = [Row(bench, ceiling.name, f"{ceiling.rps:,.0f}/s", "100%", "(ceiling)",
                ceiling.p50_ms, ceiling.p99_ms),
            Row(bench, floor.name, f"{floor.rps:,.0f}/s", f"{floor.rps / ceiling.rps:.0%}",
                "bare handler", floor.p50_ms, floor.p99_ms, "the floor of two hops")]
    for result in run.results:
        notes = [f"{result.errors} errors"] if result.errors else []
        via_gateway = result.name.endswith(catalog_http.GATEWAY)
        if via_gateway and "(cached)" in result.name:
            share = result.rps / banners_gateway.rps
            met = share >= COURSE_PAGE_AIM and result.p99_ms < 100
            notes.append(f"{share:.0%} of banners via gateway (aim {COURSE_PAGE_AIM:.0%}), "
                         f"p99 aim 100 ms: {_met(met)}")
        if not via_gateway and "never cached" in result.name:
            notes.append(f"aim {SEARCH_AIM}/s: {_met(result.rps >= SEARCH_AIM)}")
        reference = floor if via_gateway else ceiling
        rows.append(Row(bench, result.name, f"{result.rps:,.0f}/s",
                        f"{result.rps / reference.rps:.0%}",
                        "minimal proxy" if via_gateway else "bare handler",
                        result.p50_ms, result.p99_ms, "; ".join(notes)))
    return rows


def seckill_rows(results: Sequence[seckill.Result], stock: int, users: int,
                 connections: int) -> list[Row]:
    by_name = {r.name: r for r in results}
    ceiling, floor = by_name[seckill.CEILING], by_name[seckill.FLOOR]
    bench = f"flash sale POST, {users:,} users, {connections} conn."
    rows = []
    for result in results:
        sold = result.statuses.get(202, 0)
        notes = [f"sold {sold:,} of {stock:,}", f"last order +{result.written_after_s:.2f} s"]
        if result.name in (seckill.GATEWAY, seckill.GATEWAY_SEEN):
            share, p99 = result.rps / floor.rps, result.p99_ms / floor.p99_ms
            met = share >= SECKILL_AIM and p99 <= SECKILL_P99_AIM
            notes.append(f"p99 {p99:.2f}x the floor's; aim {SECKILL_AIM:.0%} and "
                         f"{SECKILL_P99_AIM}x: {_met(met)}")
        if result is ceiling:
            ratio, reference = "100%", "(ceiling)"
        elif result.name in (seckill.FLOOR, seckill.DIRECT):
            ratio, reference = f"{result.rps / ceiling.rps:.0%}", "bare handler"
        else:
            ratio, reference = f"{result.rps / floor.rps:.0%}", "minimal proxy"
        rows.append(Row(bench, result.name, f"{result.rps:,.0f}/s", ratio, reference,
                        result.p50_ms, result.p99_ms, "; ".join(notes)))
    return rows


def scheduler_rows(delays: Sequence[scheduler.DelayResult],
                   schedules: Sequence[scheduler.ScheduleResult]) -> list[Row]:
    rows = []
    for d in delays:
        notes = [f"{d.moved:,} of {d.due:,} moved", f"{d.duplicates} duplicates",
                 f"stored {d.pending / d.load_s:,.0f}/s"]
        if d.aof_rewrites:
            notes.append(f"{d.aof_rewrites} AOF rewrite(s) meanwhile")
        if d.bytes_per_delay is not None:
            notes.append(f"Redis {d.bytes_per_delay:,.0f} B per pending delay, "
                         f"mover RSS {d.mover_rss_mb:,.0f} MB")
        if d.due < d.pending:
            rows.append(Row(f"delays, {d.pending:,} pending", d.name, f"p99 {d.p99_ms:.0f} ms",
                            f"{d.p99_ms / DELAY_P99_AIM_MS:.0%}",
                            f"aim {DELAY_P99_AIM_MS} ms: {_met(d.p99_ms < DELAY_P99_AIM_MS)}",
                            d.p50_ms, d.p99_ms, "; ".join(notes)))
        else:
            rows.append(Row(f"delays, {d.pending:,} pending", d.name, f"{d.per_s:,.0f} moved/s",
                            "", "(throughput; lateness is the queue)", d.p50_ms, d.p99_ms,
                            "; ".join(notes)))
    for s in schedules:
        fired_share = s.fired / s.expected if s.expected else 0.0
        rows.append(Row(
            f"schedules, {s.schedules:,} every 1 s", s.name,
            f"{s.fired / s.seconds:,.0f} fires/s", f"{fired_share:.1%}", "fires due",
            s.p50_ms, s.p99_ms,
            f"{s.missed} missed, {s.duplicates} duplicates over {s.seconds} s: "
            f"{_met(s.missed == 0 and s.duplicates == 0)}"))
    return rows


# -- plots ----------------------------------------------------------------------------------


def plot_sale(results: Sequence[seckill.Result], stock: int, path: Path) -> None:
    """The sale through the gateway and directly, slice by slice."""
    sales = [r for r in results if r.name in (seckill.GATEWAY, seckill.DIRECT) and r.timeline]
    fig, axes = plt.subplots(4, 1, figsize=(9, 10), sharex=True)
    for result, color in zip(sales, ("tab:blue", "tab:orange"), strict=False):
        x = [s.start_s for s in result.timeline]
        axes[0].step(x, [s.answered_per_s for s in result.timeline], where="post",
                     color=color, label=result.name)
        axes[1].plot(x, [s.p50_ms for s in result.timeline], color=color, marker=".",
                     label=f"{result.name}, p50")
        axes[1].plot(x, [s.p99_ms for s in result.timeline], color=color, linestyle="--",
                     marker=".", label=f"{result.name}, p99")
        axes[2].step(x, [s.admitted_per_s for s in result.timeline], where="post",
                     color=color, linestyle=":", label=f"{result.name}, admitted")
        axes[2].step(x, [s.written_per_s for s in result.timeline], where="post",
                     color=color, label=f"{result.name}, orders written")
        axes[3].step(x, [s.backlog for s in result.timeline], where="post", color=color,
                     label=result.name)
    titles = ("attempts answered per second", "attempt latency (ms) per slice",
              "admissions and orders written per second",
              "orders admitted, not yet written (the order writer's lag)")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel(f"seconds since the sale's first request ({seckill.TIMELINE_S:g} s "
                        "slices)")
    fig.suptitle(f"Flash sale over time: {len(sales[0].samples) if sales else 0:,} attempts "
                 f"per sale, stock {stock:,}", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _nines(percentile: float) -> float:
    """A percentile on a scale that spreads the tail: 90 -> 1, 99 -> 2, 99.9 -> 3."""
    return -math.log10(max(1e-6, 1 - percentile / 100))


def _percentile_axes(ax: plt.Axes, title: str) -> None:
    ticks = [0, 50, 90, 99, 99.9, 99.99]
    ax.xaxis.set_major_locator(FixedLocator([_nines(p) for p in ticks]))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda value, _: f"{100 * (1 - 10 ** -value):.4g}%"))
    ax.set_yscale("log")
    ax.set_ylabel("ms")
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _own_percentiles(values: Sequence[float]) -> list[tuple[float, float]]:
    ordered = sorted(values)
    if not ordered:
        return []
    return [(p, ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))])
            for p in wrk.PERCENTILES]


def plot_latency(catalog: catalog_http.CatalogRun, sales: Sequence[seckill.Result],
                 schedules: Sequence[scheduler.ScheduleResult],
                 delays: Sequence[scheduler.DelayResult], path: Path) -> None:
    fig, axes = plt.subplots(3, 1, figsize=(13, 14))
    # One colour per read: solid through the gateway, dashed directly.
    reads = list(dict.fromkeys(r.name.removesuffix(catalog_http.GATEWAY)
                               .removesuffix(catalog_http.DIRECT) for r in catalog.results))
    colours = plt.get_cmap("tab10")
    lines = [(catalog.ceiling, "black", "-"), (catalog.floor, "grey", "-")] + [
        (r, colours(2 + reads.index(r.name.removesuffix(catalog_http.GATEWAY)
                                    .removesuffix(catalog_http.DIRECT))),
         "--" if r.name.endswith(catalog_http.DIRECT) else "-")
        for r in catalog.results]
    for result, colour, style in lines:
        axes[0].plot([_nines(p) for p, _ in result.distribution],
                     [max(ms, 0.01) for _, ms in result.distribution], style, color=colour,
                     marker=".", label=result.name)
    _percentile_axes(axes[0], f"catalog GET latency, 50 connections ({catalog.database}); "
                              "dashed: the catalog directly")
    for sale in sales:
        axes[1].plot([_nines(p) for p, _ in sale.distribution],
                     [max(ms, 0.01) for _, ms in sale.distribution], marker=".",
                     label=sale.name)
    _percentile_axes(axes[1], "flash sale attempt latency")
    for d in delays:
        points = _own_percentiles(d.lateness_ms)
        axes[2].plot([_nines(p) for p, _ in points], [max(ms, 0.5) for _, ms in points],
                     marker=".", label=f"delays: {d.name}")
    for s in schedules:
        points = _own_percentiles(s.lateness_ms)
        axes[2].plot([_nines(p) for p, _ in points], [max(ms, 0.5) for _, ms in points],
                     marker=".", label=f"schedules: {s.name}")
    _percentile_axes(axes[2], "scheduler lateness (Redis time of the entry minus due time)")
    axes[-1].set_xlabel("percentile")
    fig.suptitle("Latency distribution of each target", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


# -- the document ---------------------------------------------------------------------------


def generated(rows: Sequence[Row], started: datetime, took_s: float, quick: bool,
              plots: str) -> str:
    load = os.getloadavg()
    return "\n".join([
        BEGIN,
        "## All benchmarks in one run (generated by `bench/run_all.py`)",
        "",
        "`.venv/bin/python -m bench.run_all` runs every benchmark below in one go (about 10 "
        "minutes; `--quick` for a few seconds each) and rewrites this section and the plots "
        "in [benchmarks/](benchmarks/); needs `wrk` (`apt-get install wrk`). The sections "
        "after it are earlier runs, written by hand. Compare ratios, not absolute figures: "
        "each ratio is to a ceiling (the bare aiohttp handler) or a floor (the minimal aiohttp "
        "proxy in front of it) measured in the same run.",
        "",
        f"Run of {started:%Y-%m-%d %H:%M} UTC{' (--quick)' if quick else ''}, "
        f"{took_s / 60:.1f} min, {os.cpu_count()} cores, load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (other work on the machine lowers "
        "absolute figures, and ratios less).",
        "",
        HEADER,
        *(row.line() for row in rows),
        "",
        f"![A flash sale over time]({plots}/{SALE_PLOT})",
        "",
        f"![Latency distribution of each target]({plots}/{LATENCY_PLOT})",
        END,
    ])


def write_doc(doc: Path, section: str) -> None:
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        title, _, body = text.partition("\n")
        text = f"{title}\n\n{section}\n{body}"
    doc.write_text(text)


@dataclass
class Report:
    started: datetime
    took_s: float
    quick: bool
    catalog: catalog_http.CatalogRun
    sales: list[seckill.Result]
    stock: int
    delays: list[scheduler.DelayResult]
    schedules: list[scheduler.ScheduleResult]
    rows: list[Row]


QUICK_READS = {name: catalog_http.READS[name]
               for name in ("banners", "course list (cached)", "course search (never cached)")}


def run(quick: bool, print_line: Callable[[str], None] = print) -> Report:
    """Every benchmark, one after the other; `quick`: small counts, a second or so each."""
    started, clock = datetime.now(UTC), time.monotonic()
    steps = 3

    def progress(step: int) -> Callable[[str], None]:
        def line(text: str) -> None:
            print_line(f"[{step}/{steps} {time.monotonic() - clock:5.0f} s] {text}")
        return line

    catalog = catalog_http.measure(seconds=1 if quick else 10, connections=50,
                                   reads=QUICK_READS if quick else None, progress=progress(1))
    users, stock, connections = (400, 50, 50) if quick else (5000, 1000, 100)
    sales = seckill.measure(users=users, stock=stock, connections=connections, rounds=1,
                            progress=progress(2), warm_up=not quick)
    options = scheduler.Options.quick() if quick else scheduler.Options()
    with tempfile.TemporaryDirectory() as tmp:
        delays, schedules = scheduler.run(options, Path(tmp), progress=progress(3))
    rows = [*catalog_rows(catalog), *seckill_rows(sales, stock, users, connections),
            *scheduler_rows(delays, schedules)]
    return Report(started, time.monotonic() - clock, quick, catalog, sales, stock, delays,
                  schedules, rows)


def write(report: Report, doc: Path, plots: Path) -> str:
    """The plots into `plots`, the table into `doc`'s generated part; returns that part."""
    plots.mkdir(parents=True, exist_ok=True)
    plot_sale(report.sales, report.stock, plots / SALE_PLOT)
    plot_latency(report.catalog, report.sales, report.schedules, report.delays,
                 plots / LATENCY_PLOT)
    section = generated(report.rows, report.started, report.took_s, report.quick,
                        os.path.relpath(plots, doc.parent))
    write_doc(doc, section)
    return section


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--doc", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--plots", type=Path, default=Path("docs/benchmarks"))
    parser.add_argument("--save", type=Path, help="also keep the run's figures (a pickle)")
    parser.add_argument("--load", type=Path,
                        help="write the report from figures kept by --save, without running")
    args = parser.parse_args(argv)
    if args.load:
        report = pickle.loads(args.load.read_bytes())  # a file of our own --save
    else:
        report = run(args.quick, lambda line: print(line, flush=True))
    if args.save:
        args.save.write_bytes(pickle.dumps(report))
    print(write(report, args.doc, args.plots))


if __name__ == "__main__":
    main()
