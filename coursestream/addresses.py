"""Where a running `coursestream up` is: the settings it runs with (its Redis, the embedded one
included, its database folder and any database URLs it was given), in `<VAR_DIR>/up.json`
while it runs, so that any other `coursestream` command run in the same folder
(`streams ls`, `demo-data`, `seckill reconcile`...) finds that platform without REDIS_URL.
The environment always wins: only what it does not say is taken from the file. Standard
library only: the command reads it before any command runs, `--help` included."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

FILE_NAME = "up.json"


def var_dir() -> Path:
    """The folder Settings().var_dir names (`VAR_DIR`, else ./var), read without pydantic."""
    return Path(os.environ.get("VAR_DIR") or "var")


def addresses_file(folder: Path) -> Path:
    return folder / FILE_NAME


def write(folder: Path, env: Mapping[str, str]) -> Path:
    """Record this process (the `up`) and `env`; readable by the user only (it may hold a
    Redis password)."""
    path = addresses_file(folder)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"pid": os.getpid(), "env": dict(env)}, out, indent=2)
    return path


def remove(folder: Path) -> None:
    addresses_file(folder).unlink(missing_ok=True)


def running(folder: Path) -> tuple[int, dict[str, str]] | None:
    """The pid and settings of the `up` running on `folder`; None when there is none (no file,
    an unreadable one, or one left by an `up` that died without removing it)."""
    try:
        recorded = json.loads(addresses_file(folder).read_text())
        pid, env = int(recorded["pid"]), dict(recorded["env"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (pid, env) if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def use_running_platform() -> None:
    """Fill in, from the running `up` of this folder, each setting the environment lacks."""
    found = running(var_dir())
    if found is None:
        return
    for key, value in found[1].items():
        os.environ.setdefault(key, value)
