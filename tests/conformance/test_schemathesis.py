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
STATEFUL_SCENARIOS = 150
STATEFUL_STEPS = 12
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
# Known failures left, each check off for one operation, and why. The first four are rules
# JSON Schema cannot state (between two fields, against the clock, cron's meaning), so
# schemathesis builds a "valid" body the API must refuse.
FUTURE = "a date must be in the future: a rule against the clock"
SCHEDULE = FUTURE + "; and a cron expression of the documented shape may mean nothing (61 * * * *)"
FIRED = "a delay due now fires at once, so it is gone when the next step looks for it"
WINDOW = "ends_at must be after starts_at: a rule between two fields"
EXCLUDED_CHECKS: list[tuple[str, str, str]] = [
    ("positive_data_acceptance", "POST /api/v1/seckill/items", WINDOW),
    ("positive_data_acceptance", "POST /api/v1/scheduler/schedules", SCHEDULE),
    ("positive_data_acceptance", "PATCH /api/v1/scheduler/schedules/{id}", SCHEDULE),
    ("positive_data_acceptance", "POST /api/v1/scheduler/delays", FUTURE),
    ("ensure_resource_availability", "GET /api/v1/scheduler/delays/{id}", FIRED),
    ("ensure_resource_availability", "DELETE /api/v1/scheduler/delays/{id}", FIRED),
]
# Warnings turned off for the whole run (schemathesis reads them for the run, not per
# operation), with why. The validation mismatch it would report is on POST .../items (WINDOW);
# a valid body refused elsewhere still fails the run, as positive_data_acceptance.
EXCLUDED_WARNINGS: dict[str, list[tuple[str, str]]] = {
    "admin": [
        ("validation_mismatch", WINDOW),
        ("low_valid_rate", "category names are unique: the short names generated mostly "
                           "collide (409), as meant"),
        ("missing_test_data", "DELETE /schedules/{id} mostly meets 404: few generated cron "
                              "expressions of the documented shape mean something, so few "
                              "schedules are made for it to delete"),
    ],
    "user": [
        ("validation_mismatch", WINDOW),
        ("missing_auth", "a user is refused every admin operation (403), as meant"),
        ("missing_test_data", "a user cannot create the rows the admin operations work on"),
    ],
}
WARNINGS = ("missing_auth", "missing_test_data", "base_url_mismatch", "validation_mismatch",
            "missing_deserializer", "unused_openapi_auth", "unsupported_regex",
            "method_not_allowed", "constants_extraction", "unmatched_filter",
            "unresolvable_reference", "low_valid_rate", "rate_limited", "dictionary_mismatch",
            "timeout_units")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(tmp_path_factory.mktemp("conformance"), env=PLATFORM_ENV) as running:
        yield running


def config_file(path: Path, role: str) -> Path:
    """schemathesis.toml: every check (`--checks all` on the command line would override the
    per-operation settings), the warnings shown, then each excluded check off for its
    operation."""
    off = {warning for warning, _ in EXCLUDED_WARNINGS[role]}
    shown = ", ".join(f'"{name}"' for name in WARNINGS if name not in off)
    tables = [f"checks.enabled = true\nwarnings.display = [{shown}]\n"
              f"generation.max-examples = {MAX_EXAMPLES}\n",
              f"[phases.stateful]\nmax-steps = {STATEFUL_STEPS}\n"
              f"generation.max-examples = {STATEFUL_SCENARIOS}\n"]
    for check, operation, _ in EXCLUDED_CHECKS:
        method, route = operation.split(" ", 1)
        tables.append(f'[[operations]]\ninclude-method = "{method}"\ninclude-path = "{route}"\n'
                      f"checks.{check}.enabled = false\n")
    path.write_text("\n".join(tables))
    return path


def schemathesis_command(url: str, config: Path, report: Path) -> list[str]:
    return [
        str(SCHEMATHESIS), "--config-file", str(config), "run", f"{url}/api/v1/openapi.json",
        "--url", url,
        "--phases", "examples,coverage,fuzzing,stateful",
        "--seed", str(SEED), "--no-color",
        "--request-timeout", "10", "--report", "junit", "--report-junit-path", str(report),
    ]


@pytest.mark.timeout(WALL_CLOCK_S + 30)
@pytest.mark.parametrize("role", ["admin", "user"])
def test_schemathesis_finds_no_failure(platform: Platform, tmp_path: Path, role: str) -> None:
    phone, password = ACCOUNTS[role]
    # In tmp_path: schemathesis keeps a cache (.schemathesis/) that would replay old finds.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": "tests.conformance.hooks",
           "CONFORMANCE_URL": platform.url, "CONFORMANCE_PHONE": phone,
           "CONFORMANCE_PASSWORD": password}
    result = subprocess.run(
        schemathesis_command(platform.url, config_file(tmp_path / "schemathesis.toml", role),
                             tmp_path / "junit.xml"), env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=WALL_CLOCK_S, check=False)
    output = result.stdout + result.stderr
    summary = output[output.rfind("=== SUMMARY"):]
    # How far the stateful phase got (shown with `pytest -s`; docs/gateway.md has the figures).
    print(role, *(line.strip() for line in output.splitlines() if "API Links:" in line))
    assert result.returncode == 0, output[-20000:]
    assert " failures" not in summary and "⚠️" not in summary, output[-20000:]
