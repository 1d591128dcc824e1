"""Run wrk against a URL and read its figures (requests/s, latency percentiles); wait for a
server to answer first."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
# The percentiles `distribution` reads, for the latency plots.
PERCENTILES = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97, 98, 99, 99.5, 99.9, 99.99)
# Lua for a wrk script's `done(summary, latency, requests)`: prints the latency at each of
# PERCENTILES, in microseconds; DONE_PERCENTILES is the whole `done` of a script with no other.
PRINT_PERCENTILES = r"""
  for _, p in ipairs({LIST}) do
    io.write(string.format("percentile %g %d\n", p, latency:percentile(p)))
  end
""".replace("LIST", ", ".join(f"{p:g}" for p in PERCENTILES))
DONE_PERCENTILES = f"function done(summary, latency, requests){PRINT_PERCENTILES}end\n"


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    # (percentile, latency ms) from wrk's whole histogram.
    distribution: list[tuple[float, float]] = field(default_factory=list)

    def row(self, ceiling: float | None) -> str:
        ratio = f"{self.rps / ceiling:.0%}" if ceiling else "100% (ceiling)"
        return (f"| {self.name} | {self.rps:,.0f} | {ratio} | {self.p50_ms:.2f} | "
                f"{self.p99_ms:.2f} | {self.errors} |")


HEADER = ("| target | requests/s | of ceiling | p50 ms | p99 ms | errors |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: |")


def percentiles(out: str) -> tuple[float, float]:
    """(p50, p99) in ms from wrk's `--latency` distribution lines."""
    # Anchored: a "+/- Stdev" figure such as 68.50% must not pass for the 50th percentile.
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    return p50, p99


def distribution(out: str) -> list[tuple[float, float]]:
    """(percentile, ms) pairs printed by DONE_PERCENTILES."""
    return [(float(p), int(us) / 1000)
            for p, us in re.findall(r"^percentile ([\d.]+) (\d+)$", out, re.M)]


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * UNITS[unit]


def run(name: str, url: str, connections: int = 50, seconds: int = 10, threads: int = 1,
        headers: dict[str, str] | None = None) -> Result:
    return run_raw(name, url, connections, seconds, threads, headers)[0]


def run_raw(name: str, url: str, connections: int = 50, seconds: int = 10, threads: int = 1,
            headers: dict[str, str] | None = None) -> tuple[Result, str]:
    """The figures and wrk's own output (for what `Result` does not carry)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the HTTP benchmarks: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "done.lua"
        script.write_text(DONE_PERCENTILES)
        args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
                "-s", str(script)]
        for key, value in (headers or {}).items():
            args += ["-H", f"{key}: {value}"]
        out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50, p99 = percentiles(out)
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                          out):
        errors += sum(int(g) for g in match.groups())
    return Result(name, rps, p50, p99, errors, distribution(out)), out


def wait_answering(
    url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 30
) -> None:
    """Until `url` answers with a status below 500 (the server is up, and so is what it
    proxies to); fails at once if `process` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")
