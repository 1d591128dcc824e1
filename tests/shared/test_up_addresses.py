"""`var/up.json`: what a running `coursestream up` tells the other commands of its folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coursestream import addresses


def test_commands_take_what_their_environment_lacks_from_a_live_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    for name in ("VAR_DIR", "REDIS_URL"):  # unset here, as they were before, afterwards
        monkeypatch.setenv(name, "recorded")
        monkeypatch.delenv(name)
    monkeypatch.setenv("CATALOG_DATABASE_URL", "sqlite:///mine.db")
    path = addresses.write(Path("var"), {"REDIS_URL": "redis://127.0.0.1:7000/0",
                                         "CATALOG_DATABASE_URL": "sqlite:///theirs.db"})
    assert path.stat().st_mode & 0o777 == 0o600
    addresses.use_running_platform()
    assert os.environ["REDIS_URL"] == "redis://127.0.0.1:7000/0"
    assert os.environ["CATALOG_DATABASE_URL"] == "sqlite:///mine.db"  # the environment wins


def test_a_file_left_by_a_dead_up_is_ignored(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    addresses.addresses_file(tmp_path).write_text(
        json.dumps({"pid": dead.pid, "env": {"REDIS_URL": "redis://gone"}}))
    assert addresses.running(tmp_path) is None
    addresses.addresses_file(tmp_path).write_text("not json")
    assert addresses.running(tmp_path) is None
