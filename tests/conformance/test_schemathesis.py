"""Schemathesis, a peer's test suite, judges the merged API document against the running
platform: every check, every phase (examples, coverage, fuzzing, stateful), once as the admin
and once as a user. Bounded by a fixed example count, a fixed seed and a wall-clock limit; any
failure (or a run cut short by the limit) fails the test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.platform import Platform, running_platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MAX_EXAMPLES = 20
SEED = 18
WALL_CLOCK_S = 300
LIFTED = '{"quota": 1000000, "window_s": 60}'
# Rate limits stay on (429 is documented and answered) but lifted far above what one run
# sends, and so are the login failure limits the fuzzed passwords and codes would trip.
PLATFORM_ENV = {
    **{f"RATE_LIMIT_{name}": LIFTED for name in ("READS", "WRITES", "AUTH", "ATTEMPTS", "EVENTS")},
    "LOGIN_FAILURES_PER_IP": "1000000", "PASSWORD_FAILURES_PER_PHONE": "1000000",
    "SMS_CODE_FAILURES_PER_PHONE": "1000000", "SMS_IP_LIMIT": "1000000",
    "SMS_CODES_PER_IP_PER_DAY": "1000000",
}
ACCOUNTS = {"admin": ("13800000000", "admin12345"), "user": ("13900000000", "user12345")}
# Known failures left (schemathesis check name, operation, reason); empty when clean.
EXCLUDED: list[tuple[str, str, str]] = []
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(tmp_path_factory.mktemp("conformance"), env=PLATFORM_ENV) as running:
        yield running


def schemathesis_command(url: str, report: Path) -> list[str]:
    return [
        str(SCHEMATHESIS), "run", f"{url}/api/v1/openapi.json", "--url", url,
        "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--no-color",
        "--request-timeout", "10", "--report", "junit", "--report-junit-path", str(report),
    ]


@pytest.mark.timeout(WALL_CLOCK_S + 30)
@pytest.mark.parametrize("role", ["admin", "user"])
def test_schemathesis_finds_no_failure(platform: Platform, tmp_path: Path, role: str) -> None:
    phone, password = ACCOUNTS[role]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.conformance.hooks",
           "CONFORMANCE_URL": platform.url, "CONFORMANCE_PHONE": phone,
           "CONFORMANCE_PASSWORD": password}
    result = subprocess.run(
        schemathesis_command(platform.url, tmp_path / "junit.xml"), env=env,
        capture_output=True, text=True, timeout=WALL_CLOCK_S, check=False)
    output = result.stdout + result.stderr
    summary = output[output.rfind("=== SUMMARY"):]
    assert result.returncode == 0, output[-20000:]
    assert " failures" not in summary and "⚠️" not in summary, summary
