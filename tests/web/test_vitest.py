"""The web client's own tests (Vitest) and type check, run by `./dev test` like every test."""

from __future__ import annotations

import os
import subprocess

import pytest

from coursestream.web_client import WEB, ensure_installed, node_bin_dir

pytestmark = [pytest.mark.web, pytest.mark.timeout(600)]


def _npm(*args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = node_bin_dir()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "CI": "1", "NO_COLOR": "1"}
    return subprocess.run(["npm", *args], cwd=WEB, env=env, capture_output=True, text=True,
                          timeout=540, check=False)


def test_vitest_unit_tests_pass() -> None:
    ensure_installed()
    result = _npm("test", "--", "--reporter=dot")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_typescript_strict_type_check_passes() -> None:
    ensure_installed()
    result = _npm("run", "typecheck")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
